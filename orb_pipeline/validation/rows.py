"""Rows of the validation tables (``validation.schema``) and writing them through the results store.

Writes are idempotent: every table of one validation is replaced by ``validation_id``
(delete-then-insert in one transaction per table, detail tables first and the
``walk_forward_runs`` row last, so a run row always describes complete details). Monte Carlo rows
are replaced per ticker, so the table always describes the current leaderboard.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import polars as pl
import sqlalchemy as sa

from orb_pipeline import engine
from orb_pipeline.engine.units import dollars_to_units, units_to_dollars
from orb_pipeline.results.resource import ResultsStore
from orb_pipeline.validation import schema
from orb_pipeline.validation.runner import PARAMETER_COLUMNS, with_parameters
from orb_pipeline.validation.walk_forward import WalkForwardResult


def validation_id(
    ticker: str,
    window_start: dt.date,
    window_end: dt.date,
    config_fingerprint: str,
    grid: pl.DataFrame,
    data_version: str,
    engine_version: str = engine.ENGINE_VERSION,
) -> str:
    """32 hex characters naming one validation; the same inputs always give the same id."""
    digest = hashlib.sha256()
    for part in (
        ticker,
        window_start.isoformat(),
        window_end.isoformat(),
        config_fingerprint,
        data_version,
        engine_version,
    ):
        digest.update(part.encode() + b"\0")
    digest.update(grid.select(engine.GRID_COLUMNS).write_csv().encode())
    return digest.hexdigest()[:32]


def _dates(session_dates: pl.Series, positions: np.ndarray | list[int]) -> pl.Series:
    return session_dates.gather(np.asarray(positions, dtype=np.int64))


def evaluation_rows(vid: str, grid: pl.DataFrame, evaluations: pl.DataFrame) -> pl.DataFrame:
    """``walk_forward_results`` rows of ``evaluations`` ((fold, combination) rows, combination =
    grid row): the validation id and the grid's parameters added."""
    first = int(evaluations["combination"].min())
    last = int(evaluations["combination"].max())
    # Only the grid rows the frame covers are joined, so a block costs its own size.
    part = grid.slice(first, last - first + 1)
    parameters = (
        part.select(PARAMETER_COLUMNS)
        .with_row_index("combination", offset=first)
        .with_columns(pl.col("combination").cast(pl.Int64))
    )
    rows = evaluations.join(parameters, on="combination", how="left", maintain_order="left")
    rows = rows.with_columns(validation_id=pl.lit(vid))
    return rows.select(
        [c.name for c in schema.walk_forward_results.columns if c.name in rows.columns]
    )


def walk_forward_rows(
    result: WalkForwardResult,
    grid: pl.DataFrame,
    session_dates: pl.Series,
    run: dict,
) -> dict[str, pl.DataFrame]:
    """Frames for every walk-forward table. ``run`` holds the ``walk_forward_runs`` columns that
    do not come from ``result`` (validation_id, ticker, window, mode, distance_unit, config,
    sessions_without_iv, data_version, engine_version, run_id). The ``walk_forward_results``
    frame is included only when ``result`` kept its evaluations (else they were written block by
    block with ``append_walk_forward_results``)."""
    vid = run["validation_id"]
    chosen = with_parameters(result.chosen, grid)
    folds = chosen.with_columns(
        validation_id=pl.lit(vid),
        train_start=_dates(session_dates, chosen["train_start"]),
        train_end=_dates(session_dates, chosen["train_stop"] - 1),
        test_start=_dates(session_dates, chosen["test_start"]),
        test_end=_dates(session_dates, chosen["test_stop"] - 1),
    ).select([c.name for c in schema.walk_forward_folds.columns])
    equity = result.equity.with_columns(
        validation_id=pl.lit(vid),
        session_date=_dates(session_dates, result.equity["session_index"]),
    ).select([c.name for c in schema.walk_forward_equity.columns])
    oos = result.equity["oos_net"].to_numpy()
    cumulative = np.concatenate([[0.0], np.cumsum(oos)])
    runs = pl.DataFrame(
        [
            {
                **run,
                "combinations": grid.height,
                "sessions": len(session_dates),
                "folds": chosen.height,
                "promotion_ready_folds": int(chosen["promotion_ready"].sum()),
                "promotion_ready_results": result.promotion_ready_results,
                "oos_total_profit": float(oos.sum()),
                "oos_max_drawdown": float(np.max(np.maximum.accumulate(cumulative) - cumulative)),
                "in_sample_total_profit": float(result.equity["in_sample_net"].sum()),
            }
        ]
    ).select([c.name for c in schema.walk_forward_runs.columns])
    frames = {}
    if result.evaluations is not None:
        frames[schema.walk_forward_results.name] = evaluation_rows(vid, grid, result.evaluations)
    return {
        **frames,
        schema.walk_forward_folds.name: folds,
        schema.walk_forward_equity.name: equity,
        schema.walk_forward_runs.name: runs,
    }


def clear_walk_forward(store: ResultsStore, vid: str) -> None:
    """Delete validation ``vid``'s rows from every walk-forward table, the runs row first (so no
    run row ever describes the partial details of a re-run in progress)."""
    store.ensure_tables(*schema.WALK_FORWARD_TABLES)

    def work(connection: sa.Connection) -> None:
        for table in (
            schema.walk_forward_runs,
            schema.walk_forward_results,
            schema.walk_forward_folds,
            schema.walk_forward_equity,
        ):
            connection.execute(sa.delete(table).where(table.c.validation_id == vid))

    store.run_in_transaction(work)


def append_walk_forward_results(
    store: ResultsStore, vid: str, grid: pl.DataFrame, evaluations: pl.DataFrame
) -> None:
    """Write one block's (fold, combination) rows into ``walk_forward_results`` (upsert by key,
    so a repeated block is not duplicated); call ``clear_walk_forward`` before the first."""
    store.upsert(schema.walk_forward_results, evaluation_rows(vid, grid, evaluations))


def store_walk_forward(store: ResultsStore, rows: dict[str, pl.DataFrame]) -> None:
    """Replace the validation's rows in every walk-forward table in ``rows`` (runs row last); a
    ``walk_forward_results`` frame absent from ``rows`` (written block by block) is left as is."""
    tables = {table.name: table for table in schema.WALK_FORWARD_TABLES}
    store.ensure_tables(*schema.WALK_FORWARD_TABLES)
    vid = rows[schema.walk_forward_runs.name]["validation_id"][0]
    for name in (
        schema.walk_forward_results.name,
        schema.walk_forward_folds.name,
        schema.walk_forward_equity.name,
        schema.walk_forward_runs.name,
    ):
        if name in rows:
            store.replace_rows(tables[name], "validation_id", [vid], rows[name])


def stored_counts(store: ResultsStore, vid: str) -> dict[str, int]:
    """Rows stored for validation ``vid`` in each walk-forward table (parameterized selects)."""
    counts = {}
    for table in schema.WALK_FORWARD_TABLES:
        statement = (
            sa.select(sa.func.count()).select_from(table).where(table.c.validation_id == vid)
        )
        counts[table.name] = int(store.read(statement).item())
    return counts


def per_session_nets(
    trades: pl.DataFrame, session_dates: pl.Series, backtest_ids: list[str]
) -> dict[str, np.ndarray]:
    """Per-session net P&L (dollars per share, one value per session of ``session_dates`` in
    order, 0 for a session without trades) of each backtest, from ``trades`` rows
    (``backtest_id``, ``session_date``, ``profit``). Sums are taken in integer units of $0.0001.
    Raises ``ValueError`` when a trade falls outside the sessions."""
    positions = {date: index for index, date in enumerate(session_dates.to_list())}
    result = {}
    for backtest in backtest_ids:
        own = trades.filter(pl.col("backtest_id") == backtest)
        units = np.zeros(len(positions), dtype=np.int64)
        for date, profit in zip(
            own["session_date"].to_list(), own["profit"].to_list(), strict=True
        ):
            if date not in positions:
                raise ValueError(
                    f"backtest {backtest} has a trade on {date}, outside the window's sessions"
                )
            units[positions[date]] += dollars_to_units(profit)
        result[backtest] = units_to_dollars(units)
    return result
