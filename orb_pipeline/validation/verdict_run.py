"""The verdict on every row of a ticker's stored leaderboard, Dagster-free: the walk-forward of the
same window (``verdict.latest_walk_forward``), how many of its folds passed each row's parameters,
``selection_verdict.row_verdict`` per row, and the verdict columns written into the window's
``leaderboard_rows`` (one transaction). The ``verdict`` asset turns the :class:`VerdictRun` it
returns into metadata.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa

from orb_pipeline import engine
from orb_pipeline.results import schema as results_schema
from orb_pipeline.results.leaderboard import selection_id, top_backtests
from orb_pipeline.results.resource import ResultsStore
from orb_pipeline.validation import schema
from orb_pipeline.validation.selection_verdict import VERDICTS, VerdictThresholds, row_verdict
from orb_pipeline.validation.verdict import latest_walk_forward

_LOG = logging.getLogger(__name__)
# Every row of a leaderboard is judged (the leaderboard stores at most this many).
MAX_ROWS = 1000


class VerdictError(ValueError):
    """No stored leaderboard to judge (names ticker, window and what to materialize)."""


@dataclass(frozen=True)
class VerdictRun:
    """What one verdict stored: ``board`` (the leaderboard rows, best first, with
    ``walk_forward_folds``, ``walk_forward_passed``, ``verdict``, ``verdict_reason``), the
    ``walk_forward_runs`` row it used (None when none is stored) and the rows per verdict."""

    board: pl.DataFrame
    walk_forward: dict | None
    counts: dict[str, int]


def walk_forward_passes(store: ResultsStore, board: pl.DataFrame, run: dict | None) -> pl.DataFrame:
    """``backtest_id``, ``walk_forward_folds``, ``walk_forward_passed`` of each ``board`` row:
    the folds of walk-forward ``run`` (a ``walk_forward_runs`` row) and in how many of them the
    row's parameters (same distance unit) were promotion-ready; NULL when not tested."""
    empty = board.select(
        "backtest_id",
        pl.lit(None, dtype=pl.Int64).alias("walk_forward_folds"),
        pl.lit(None, dtype=pl.Int64).alias("walk_forward_passed"),
    )
    if run is None:
        return empty
    table = schema.walk_forward_results
    found = store.read(
        sa.select(
            table.c.fold, table.c.promotion_ready, *[table.c[n] for n in engine.GRID_COLUMNS]
        ).where(table.c.validation_id == run["validation_id"])
    )
    if found.height == 0:
        return empty
    per_parameters = found.group_by(list(engine.GRID_COLUMNS)).agg(
        pl.col("fold").n_unique().cast(pl.Int64).alias("walk_forward_folds"),
        pl.col("promotion_ready").cast(pl.Int64).sum().alias("walk_forward_passed"),
    )
    same_unit = board.filter(pl.col("distance_unit") == run["distance_unit"])
    joined = same_unit.select("backtest_id", *engine.GRID_COLUMNS).join(
        per_parameters, on=list(engine.GRID_COLUMNS), how="inner"
    )
    return empty.drop("walk_forward_folds", "walk_forward_passed").join(
        joined.select("backtest_id", "walk_forward_folds", "walk_forward_passed"),
        on="backtest_id",
        how="left",
        maintain_order="left",
    )


def store_verdicts(store: ResultsStore, sid: str, judged: pl.DataFrame) -> None:
    """Write the verdict columns of ``judged`` (``rank`` + the four columns) into the window's
    ``leaderboard_rows`` (one transaction)."""
    board = results_schema.leaderboard_rows
    update = (
        sa.update(board)
        .where(board.c.selection_id == sid, board.c.rank == sa.bindparam("target_rank"))
        .values(
            walk_forward_folds=sa.bindparam("folds"),
            walk_forward_passed=sa.bindparam("passed"),
            verdict=sa.bindparam("value"),
            verdict_reason=sa.bindparam("reason"),
        )
    )
    parameters = [
        {
            "target_rank": row["rank"],
            "folds": row["walk_forward_folds"],
            "passed": row["walk_forward_passed"],
            "value": row["verdict"],
            "reason": row["verdict_reason"][:1000],
        }
        for row in judged.iter_rows(named=True)
    ]
    store.run_in_transaction(lambda connection: connection.execute(update, parameters))


def judge_leaderboard(
    results: ResultsStore,
    ticker: str,
    window_start: dt.date,
    window_end: dt.date,
    data_version: str | None,
    thresholds: VerdictThresholds,
    *,
    log: logging.Logger | logging.LoggerAdapter = _LOG,
) -> VerdictRun:
    """Judge every stored leaderboard row of ``ticker``'s inclusive window with ``thresholds`` and
    the window's walk-forward (preferring one on ``data_version``), and store the verdicts."""
    board = top_backtests(
        results, ticker, MAX_ROWS, window_start=window_start, window_end=window_end
    )
    if board.height == 0:
        raise VerdictError(
            f"no stored leaderboard for {ticker} {window_start}..{window_end} in "
            f"{results.describe()}: materialize leaderboard for {ticker} first"
        )
    run = latest_walk_forward(results, ticker, window_start, window_end, data_version)
    if run is None:
        log.warning(
            f"{ticker} {window_start}..{window_end}: no walk-forward stored; no row can be promoted"
        )
    passes = walk_forward_passes(results, board, run)
    board = board.drop("walk_forward_folds", "walk_forward_passed").join(
        passes, on="backtest_id", how="left", maintain_order="left"
    )
    judged = [row_verdict(row, thresholds) for row in board.iter_rows(named=True)]
    board = board.drop("verdict", "verdict_reason").with_columns(
        verdict=pl.Series([v for v, _ in judged], dtype=pl.String),
        verdict_reason=pl.Series([r for _, r in judged], dtype=pl.String),
    )
    store_verdicts(results, selection_id(ticker, window_start, window_end), board)
    counts = {name: int((board["verdict"] == name).sum()) for name in VERDICTS}
    return VerdictRun(board=board, walk_forward=run, counts=counts)
