"""One walk-forward validation of a ticker's staged window, Dagster-free: the sessions the grid
can use, ``engine.session_stats`` in blocks of bounded memory folded into the folds as they come
(``validation.runner.walk_forward_in_blocks``), the rows stored through the results store
(``validation.rows``; the (fold, parameter set) rows block by block) and the equity picture. The ``walk_forward`` asset turns
the :class:`WalkForwardRun` it returns into metadata and its check.

Bad configuration fails before the engine runs: folds that do not fit the window and an
``expected_move`` grid without IV raise ``ValueError``; when not even one block (plus the grid)
fits in the memory available, ``runner.ValidationMemoryError`` names the sizes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from orb_pipeline import engine
from orb_pipeline.core.artifacts import Picture, write_artifact
from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.results.resource import ResultsStore
from orb_pipeline.staging.resource import StagedWindow
from orb_pipeline.validation import plots, schema
from orb_pipeline.validation.config import WalkForwardConfig
from orb_pipeline.validation.expected_move import sessions_without_iv, with_expected_move
from orb_pipeline.validation.rows import (
    append_walk_forward_results,
    clear_walk_forward,
    store_walk_forward,
    stored_counts,
    validation_id,
    walk_forward_rows,
)
from orb_pipeline.validation.runner import (
    check_block_memory,
    rows_per_block,
    walk_forward_in_blocks,
)

_LOG = logging.getLogger(__name__)

ReadRanges = Callable[[int], pl.DataFrame]
"""The window's opening ranges of one range length (``ranges.read_opening_ranges``)."""


@dataclass(frozen=True)
class WalkForwardRun:
    """What one walk-forward stored and drew.

    ``rows``: the stored frames by table name (``validation.rows.walk_forward_rows``; without
    ``walk_forward_results``, whose rows were written block by block);
    ``stored``/``expected``: rows per table read back from the store and written;
    ``sessions``: the sessions the engine evaluated (without those lacking IV), ``skipped`` the
    ones left out; ``blocks`` of at most ``rows_per_block`` parameter sets; timings in seconds
    (``blocks_seconds``: engine, folds and the block writes; ``store_seconds``: the other tables).
    """

    validation_id: str
    folds: int
    combinations: int
    sessions: int
    skipped: int
    rows: dict[str, pl.DataFrame]
    stored: dict[str, int]
    expected: dict[str, int]
    equity: Picture
    blocks: int
    rows_per_block: int
    blocks_seconds: float
    store_seconds: float

    @property
    def run_row(self) -> dict:
        """The ``walk_forward_runs`` row: totals, drawdown, promotion-ready counts."""
        return self.rows[schema.walk_forward_runs.name].row(0, named=True)

    @property
    def folds_frame(self) -> pl.DataFrame:
        """The ``walk_forward_folds`` rows: one per fold, its pick and train/test figures."""
        return self.rows[schema.walk_forward_folds.name]


def sessions_for_grid(
    sessions: pl.DataFrame,
    config: WalkForwardConfig,
    grid: pl.DataFrame,
    read_ranges: ReadRanges | None,
) -> tuple[pl.DataFrame, int]:
    """The window's sessions as the engine takes them, and how many an IV-scaled grid skips.

    For ``distance_unit="expected_move"`` adds ``expected_move`` from the opening ranges of
    ``iv_range_seconds`` (default: the grid's shortest range) via ``read_ranges(range_seconds)``;
    a window where no session has IV is a ``ValueError`` naming ``distance_unit``.
    """
    if config.distance_unit != "expected_move":
        return sessions, 0
    range_seconds = config.iv_range_seconds or int(grid["range_seconds"].min())
    with_move = with_expected_move(sessions, read_ranges(range_seconds), range_seconds)
    skipped = sessions_without_iv(with_move)
    if skipped == with_move.height:
        raise ValueError(
            f"distance_unit='expected_move' needs implied volatility, but none of the window's "
            f"{with_move.height} sessions has IV for range_seconds={range_seconds} "
            "(iv_range_seconds); use distance_unit='dollars' or 'percent'"
        )
    return with_move, skipped


def fold_starts(folds: pl.Series) -> list[int]:
    """Positions where ``folds`` (the equity rows' fold numbers, in session order) changes,
    starting with 0."""
    values = folds.to_list()
    return [i for i, fold in enumerate(values) if i == 0 or fold != values[i - 1]]


def run_walk_forward(
    results: ResultsStore,
    cache: CacheStore,
    window: StagedWindow,
    grid: pl.DataFrame,
    config: WalkForwardConfig,
    *,
    read_ranges: ReadRanges | None = None,
    run_id: str,
    log: logging.Logger | logging.LoggerAdapter = _LOG,
) -> WalkForwardRun:
    """Walk-forward (or train/test, ``config.mode``) of ``grid`` over the staged ``window``:
    stores every (fold, parameter set) row, the pick per fold and the stitched out-of-sample
    equity under one ``validation_id`` (replacing an earlier run's rows), and writes
    ``validation/walk_forward_equity.png``. An ``expected_move`` grid reads the window's opening
    ranges through ``read_ranges`` (default: the ``opening_ranges`` files in ``cache``)."""
    ticker = window.ticker
    if read_ranges is None:

        def read_ranges(range_seconds: int) -> pl.DataFrame:
            from orb_pipeline.ranges import read_opening_ranges

            return read_opening_ranges(
                cache, ticker, window.window_start, window.window_end, range_seconds=range_seconds
            )

    split = config.split_spec()
    sessions, skipped = sessions_for_grid(window.sessions, config, grid, read_ranges)
    # Folds that do not fit fail here, before the engine runs.
    folds = split.folds_for(sessions.height - skipped)
    log.info(
        f"{ticker}: {len(folds)} fold(s) over {sessions.height - skipped} sessions "
        f"({skipped} skipped without IV), {grid.height} parameter sets"
    )

    vid = validation_id(
        ticker,
        window.window_start,
        window.window_end,
        config.fingerprint(),
        grid,
        window.data_version,
    )
    # The grid runs in blocks of bounded memory (issue 15): each block's (fold, parameter set)
    # rows are written as they come, after this validation's old rows (run row first) are gone,
    # so a crash never leaves a run row over partial details. Fails first, naming the sizes,
    # when not even one block fits.
    session_count = sessions.height - skipped
    block_rows = rows_per_block(session_count, len(folds))
    check_block_memory(grid.height, session_count, len(folds))
    clear_walk_forward(results, vid)
    log_every = max(1, grid.height // (10 * block_rows))

    def write_block(first_row: int, frame: pl.DataFrame) -> None:
        append_walk_forward_results(results, vid, grid, frame)

    def progress(done: int, total: int) -> None:
        if done == total or (done // block_rows) % log_every == 0:
            log.info(f"{ticker}: walk_forward {done:,}/{total:,} parameter sets")

    blocks_started = time.perf_counter()
    streamed = walk_forward_in_blocks(
        window.series,
        sessions,
        grid,
        split,
        config.weights(),
        config.criteria(),
        costs=config.costs(),
        distance_unit=config.distance_unit,
        block_rows=block_rows,
        sink=write_block,
        progress=progress,
    )
    result = streamed.result
    blocks_seconds = time.perf_counter() - blocks_started

    rows = walk_forward_rows(
        result,
        grid,
        streamed.session_dates,
        {
            "validation_id": vid,
            "ticker": ticker,
            "window_start": window.window_start,
            "window_end": window.window_end,
            "mode": config.mode,
            "distance_unit": config.distance_unit,
            "config": config.fingerprint(),
            "sessions_without_iv": skipped,
            "data_version": window.data_version,
            "engine_version": engine.ENGINE_VERSION,
            "run_id": run_id,
        },
    )
    store_started = time.perf_counter()
    store_walk_forward(results, rows)
    store_seconds = time.perf_counter() - store_started

    equity = rows[schema.walk_forward_equity.name]
    span = f"{ticker} {window.window_start}..{window.window_end}"
    png = plots.equity_png(
        [str(d) for d in equity["session_date"].to_list()],
        equity["oos_equity"].to_numpy(),
        equity["in_sample_equity"].to_numpy(),
        fold_starts(equity["fold"]),
        f"{span}: walk-forward out-of-sample vs the full-window pick ({len(folds)} folds)",
    )
    run = WalkForwardRun(
        validation_id=vid,
        folds=len(folds),
        combinations=grid.height,
        sessions=len(streamed.session_dates),
        skipped=skipped,
        rows=rows,
        stored=stored_counts(results, vid),
        expected={
            **{name: frame.height for name, frame in rows.items()},
            schema.walk_forward_results.name: len(folds) * grid.height,
        },
        equity=Picture(
            png,
            write_artifact(
                cache,
                ticker,
                window.window_start,
                window.window_end,
                "validation/walk_forward_equity.png",
                png,
                engine_version=engine.ENGINE_VERSION,
            ),
        ),
        blocks=streamed.blocks,
        rows_per_block=streamed.rows_per_block,
        blocks_seconds=blocks_seconds,
        store_seconds=store_seconds,
    )
    log.info(
        f"{span}: out-of-sample profit {run.run_row['oos_total_profit']:.2f} $/sh vs in-sample "
        f"pick {run.run_row['in_sample_total_profit']:.2f} $/sh over the same sessions; "
        f"{run.run_row['promotion_ready_folds']}/{len(folds)} fold picks promotion-ready"
    )
    return run
