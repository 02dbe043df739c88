"""Walk-forward on top of the engine's per-session results (Dagster-free).

``engine.session_stats`` runs the state machine once for every parameter set and session; each
fold is then two ``engine.aggregate`` calls over its train and test sessions, which is what keeps a
12-fold walk-forward within a small multiple of one full sweep (``benchmarks/walk_forward.py``).
``walk_forward_in_blocks`` does the same block of parameter sets by block (``STATS_BLOCK_BYTES``
of statistics at a time), keeping per fold only the best train row and its out-of-sample nets, so
a grid of millions of rows validates in bounded memory with results identical to one block.
Fold positions index ``stats.session_dates``: the sessions the engine evaluated, which for an
``expected_move`` grid excludes sessions without IV.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from orb_pipeline import engine
from orb_pipeline.engine.units import units_to_dollars
from orb_pipeline.validation.fold_metrics import contiguous_range, window_metrics
from orb_pipeline.validation.scoring import PromotionCriteria, ScoreWeights
from orb_pipeline.validation.splits import Fold, train_test_split, walk_forward_folds
from orb_pipeline.validation.walk_forward import FoldSelection, WalkForwardResult

PARAMETER_COLUMNS = tuple(engine.GRID_COLUMNS)


AUTO_FOLDS = 6

# Memory budget of one block (engine.session_stats_blocks' statistics + the block's (fold,
# parameter set) rows): the grid is validated in blocks of rows_per_block(sessions, folds)
# parameter sets, so walk_forward's peak is this budget plus GRID_BYTES_PER_ROW per grid row,
# whatever the grid's size (docs/PERFORMANCE.md).
STATS_BLOCK_BYTES = 256 * 2**20


class ValidationMemoryError(MemoryError):
    """Not even one block of the walk-forward's per-session statistics fits in this process."""


def available_memory_bytes() -> int | None:
    """Memory this process may still use: the smaller of the cgroup's free room (containers) and
    the kernel's ``MemAvailable``; None when neither is known."""
    limits = []
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        if limit != "max":
            limits.append(int(limit) - int(used))
    except (OSError, ValueError):
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    return min(limits) if limits else None


# One (fold, parameter set) row: 2 x 6 metrics, 3 scores, the flag, fold and combination, plus
# the five parameters and the validation id added before it is written (measured: ~220 bytes).
EVALUATION_ROW_BYTES = 256
# Held for the whole grid while it validates: the grid frame (five 8-byte columns) and the sweep
# stage's default grid the definitions built.
GRID_BYTES_PER_ROW = 2 * 5 * 8


def block_bytes_per_row(sessions: int, folds: int) -> int:
    """Bytes one parameter set of a block costs: its per-session statistics
    (``engine.SESSION_STATS_BYTES_PER_CELL`` per session) and its (fold, parameter set) rows,
    counted twice (built, then prepared for writing)."""
    return (
        max(1, sessions) * engine.SESSION_STATS_BYTES_PER_CELL
        + 2 * max(1, folds) * EVALUATION_ROW_BYTES
    )


def rows_per_block(sessions: int, folds: int = 1, budget: int | None = None) -> int:
    """Parameter sets per block so that one block (``block_bytes_per_row`` each) fits ``budget``
    bytes (default ``STATS_BLOCK_BYTES``); at least 1."""
    budget = STATS_BLOCK_BYTES if budget is None else budget
    return max(1, budget // block_bytes_per_row(sessions, folds))


def validation_memory_bytes(grid_rows: int, sessions: int, folds: int) -> int:
    """Bytes ``walk_forward`` adds over its process's baseline for a grid of ``grid_rows``: one
    block (at most ``STATS_BLOCK_BYTES``) plus ``GRID_BYTES_PER_ROW`` per grid row."""
    block = min(grid_rows, rows_per_block(sessions, folds))
    return block * block_bytes_per_row(sessions, folds) + grid_rows * GRID_BYTES_PER_ROW


def check_block_memory(
    grid_rows: int, sessions: int, folds: int, available: int | None = None
) -> int:
    """``validation_memory_bytes``; ``ValidationMemoryError`` naming the sizes when that is more
    than ``available`` (default: ``available_memory_bytes()``): the only limit left, since the
    grid is streamed block by block (and has at most ``sweeps.grid.MAX_GRID_ROWS`` rows)."""
    needed = validation_memory_bytes(grid_rows, sessions, folds)
    available = available_memory_bytes() if available is None else available
    if available is not None and needed > available:
        block = min(grid_rows, rows_per_block(sessions, folds))
        raise ValidationMemoryError(
            f"walk_forward over {grid_rows:,} parameter sets needs about {needed / 2**20:,.0f} MiB "
            f"(one block of {block:,} parameter sets x {sessions} sessions x {folds} folds, plus "
            f"the grid), but only {available / 2**20:,.0f} MiB is available: free memory on this "
            "machine or give the run a larger task (validation_job's ECS task size)"
        )
    return needed


@dataclass(frozen=True)
class SplitSpec:
    """How to split a window: ``mode="walk_forward"`` (train/test sessions, folds, anchored) or
    ``mode="train_test"`` (``train_ratio``). See ``splits`` for the exact rules.

    Unset walk-forward sizes adapt to the window of ``n`` sessions: ``train_sessions = n // 2``
    and ``test_sessions = max(1, (n - train_sessions) // 6)``, i.e. the second half tested in six
    folds (126 + 6 x 21 for a 252-session year).
    """

    mode: str = "walk_forward"
    train_sessions: int | None = None
    test_sessions: int | None = None
    folds: int | None = None
    anchored: bool = False
    train_ratio: float = 0.7

    def __post_init__(self) -> None:
        if self.mode not in ("walk_forward", "train_test"):
            raise ValueError(f"mode must be 'walk_forward' or 'train_test', got {self.mode!r}")

    def sizes_for(self, session_count: int) -> tuple[int, int]:
        """``(train_sessions, test_sessions)`` for a window of ``session_count`` sessions."""
        train = self.train_sessions if self.train_sessions is not None else session_count // 2
        test = (
            self.test_sessions
            if self.test_sessions is not None
            else max(1, (session_count - train) // AUTO_FOLDS)
        )
        return train, test

    def folds_for(self, session_count: int) -> list[Fold]:
        if self.mode == "train_test":
            return train_test_split(session_count, self.train_ratio)
        train, test = self.sizes_for(session_count)
        return walk_forward_folds(session_count, train, test, self.folds, self.anchored)


def walk_forward_on_stats(
    stats: engine.SessionStats,
    split: SplitSpec,
    weights: ScoreWeights = ScoreWeights(),  # noqa: B008 - frozen dataclass
    criteria: PromotionCriteria | None = None,
) -> WalkForwardResult:
    """``evaluate_folds`` over ``stats``: per-fold metrics from ``fold_metrics.window_metrics`` (the
    contiguous fast path, equal to ``engine.aggregate``), per-session nets from ``stats``."""
    selection = FoldSelection(
        split.folds_for(stats.n_sessions), stats.n_sessions, weights, criteria
    )
    return selection.result(pl.concat(_block_selection(selection, stats)))


def _block_selection(selection: FoldSelection, stats: engine.SessionStats) -> list[pl.DataFrame]:
    def aggregate(indices: np.ndarray) -> pl.DataFrame:
        span = contiguous_range(indices)
        if span is None:
            return engine.aggregate(stats, indices)
        return window_metrics(stats, *span)

    def session_net(combination: int) -> np.ndarray:
        return units_to_dollars(stats.net_units[combination])

    return selection.add_block(aggregate, session_net)


@dataclass(frozen=True)
class StreamedWalkForward:
    """A walk-forward computed block by block: the result (``evaluations`` kept only when no
    sink took them), the sessions evaluated (``session_dates``) and how it ran."""

    result: WalkForwardResult
    session_dates: pl.Series
    blocks: int
    rows_per_block: int


def walk_forward_in_blocks(
    series,
    sessions,
    grid: pl.DataFrame,
    split: SplitSpec,
    weights: ScoreWeights = ScoreWeights(),  # noqa: B008 - frozen dataclass
    criteria: PromotionCriteria | None = None,
    *,
    costs: engine.Costs | None = None,
    distance_unit: str = "dollars",
    block_rows: int | None = None,
    sink: Callable[[int, pl.DataFrame], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> StreamedWalkForward:
    """``walk_forward_on_stats(engine.session_stats(...))`` without holding the whole grid's
    statistics: ``engine.session_stats_blocks`` of ``block_rows`` parameter sets (default
    ``rows_per_block``: ``STATS_BLOCK_BYTES`` of statistics), each folded into a ``FoldSelection``
    and dropped. The result is identical to the one-block path for any ``block_rows``.

    ``sink(first grid row, frame)`` receives each block's (fold, parameter set) rows (fold-major
    within the block) and the result's ``evaluations`` is then ``None``; without a sink they are
    kept and concatenated fold-major, as ``walk_forward_on_stats`` returns them.
    ``progress(parameter sets done, grid rows)`` is called after each block."""
    session_count = sessions.height - engine.count_skipped_sessions(sessions, distance_unit)
    folds = split.folds_for(session_count)
    block_rows = rows_per_block(session_count, len(folds)) if block_rows is None else block_rows
    selection = FoldSelection(folds, session_count, weights, criteria)
    kept: list[list[pl.DataFrame]] = [[] for _ in folds]
    blocks = 0
    dates = None
    for start, stats in engine.session_stats_blocks(
        series, sessions, grid, block_rows, costs=costs, distance_unit=distance_unit
    ):
        dates = stats.session_dates
        frames = _block_selection(selection, stats)
        del stats
        if sink is None:
            for per_fold, frame in zip(kept, frames, strict=True):
                per_fold.append(frame)
        else:
            sink(start, pl.concat(frames))
        blocks += 1
        if progress is not None:
            progress(selection.combinations, grid.height)
    evaluations = None if sink is not None else pl.concat([f for fold in kept for f in fold])
    return StreamedWalkForward(selection.result(evaluations), dates, blocks, block_rows)


def with_parameters(frame: pl.DataFrame, grid: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (with a ``combination`` column = grid row) plus the grid's parameter columns."""
    parameters = (
        grid.select(PARAMETER_COLUMNS)
        .with_row_index("combination")
        .with_columns(pl.col("combination").cast(pl.Int64))
    )
    return frame.join(parameters, on="combination", how="left", maintain_order="left")
