"""One Monte Carlo validation of a ticker's leaderboard, Dagster-free: read the leaders' stored
trade ledgers, bootstrap each one's per-session net P&L (``validation.bootstrap``), replace the
ticker's ``monte_carlo`` rows and write the picture. The ``monte_carlo`` asset turns the
:class:`MonteCarloRun` it returns into metadata.

A leaderboard that is missing, or without any complete ledger, raises :class:`MonteCarloError`
naming the ticker and what to materialize (the asset reports it as a ``dg.Failure``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa

from orb_pipeline import engine
from orb_pipeline.calendar import session_table
from orb_pipeline.core.artifacts import Picture, write_artifact
from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.results import schema as results_schema
from orb_pipeline.results.leaderboard import backtest_label, top_backtests
from orb_pipeline.results.resource import ResultsStore
from orb_pipeline.validation import plots, schema
from orb_pipeline.validation.bootstrap import bootstrap
from orb_pipeline.validation.rows import per_session_nets

_LOG = logging.getLogger(__name__)


class MonteCarloError(ValueError):
    """Nothing to bootstrap: no leaderboard, or no leader with a complete trade ledger."""


@dataclass(frozen=True)
class MonteCarloRun:
    """What one Monte Carlo validation stored and drew.

    ``rows``: the stored ``monte_carlo`` rows (its columns), in leaderboard order;
    ``without_ledger``: leaders left out for want of a complete stored ledger; ``sessions``: the
    window's exchange sessions (the length of every resampled path).
    """

    rows: pl.DataFrame
    without_ledger: int
    sessions: int
    picture: Picture


def read_ledgers(results: ResultsStore, backtest_ids: list[str]) -> pl.DataFrame:
    """``backtest_id``, ``session_date`` (Date), ``profit`` of every stored trade of the
    backtests."""
    trades_table = results_schema.trades
    trades = results.read(
        sa.select(
            trades_table.c.backtest_id, trades_table.c.session_date, trades_table.c.profit
        ).where(trades_table.c.backtest_id.in_(backtest_ids))
    )
    if trades.height:
        return trades.with_columns(pl.col("session_date").cast(pl.String).str.to_date())
    return pl.DataFrame(
        schema={"backtest_id": pl.String, "session_date": pl.Date, "profit": pl.Float64}
    )


def with_complete_ledgers(top: pl.DataFrame, trades: pl.DataFrame) -> pl.DataFrame:
    """The ``top`` rows whose stored trades number exactly their ``trades`` column, in order."""
    counts = dict(trades.group_by("backtest_id").len().iter_rows())
    complete = [
        row["backtest_id"]
        for row in top.iter_rows(named=True)
        if counts.get(row["backtest_id"], 0) == row["trades"]
    ]
    return top.filter(pl.col("backtest_id").is_in(complete))


def run_monte_carlo(
    results: ResultsStore,
    cache: CacheStore,
    ticker: str,
    window_start: dt.date,
    window_end: dt.date,
    *,
    top: int = 10,
    samples: int = 10_000,
    seed: int = 0,
    run_id: str,
    log: logging.Logger | logging.LoggerAdapter = _LOG,
) -> MonteCarloRun:
    """Bootstrap of the ``top`` leaders of ``ticker`` over the inclusive window: ``samples``
    resamplings (``seed``) of each leader's per-session net over every exchange session of the
    window; replaces the ticker's ``monte_carlo`` rows and writes ``validation/bootstrap.png``."""
    board = top_backtests(results, ticker, top, window_start=window_start, window_end=window_end)
    if board.height == 0:
        raise MonteCarloError(
            f"no leaderboard for {ticker} in {results.describe()}: materialize "
            f"sweep_results and leaderboard for {ticker} first"
        )
    sessions = session_table(window_start, window_end)["session_date"]
    trades = read_ledgers(results, board["backtest_id"].to_list())
    complete = with_complete_ledgers(board, trades)
    if complete.height == 0:
        raise MonteCarloError(
            f"none of the top {board.height} backtests of {ticker} has a complete trade ledger in "
            f"the trades table: materialize leaderboard for {ticker} first"
        )
    without_ledger = board.height - complete.height
    if without_ledger:
        log.warning(
            f"{without_ledger} of the top {board.height} backtests of {ticker} have no "
            f"stored ledger (the leaderboard keeps ledgers of its own top only); bootstrapping "
            f"the {complete.height} that do"
        )
    nets = per_session_nets(trades, sessions, complete["backtest_id"].to_list())

    rows, labels = [], []
    for row in complete.iter_rows(named=True):
        summary = bootstrap(nets[row["backtest_id"]], samples=samples, seed=seed)
        labels.append(backtest_label(row))
        rows.append(
            {
                "backtest_id": row["backtest_id"],
                "ticker": ticker,
                "rank": row["rank"],
                "data_version": row["data_version"],
                "run_id": run_id,
                **summary.as_dict(),
            }
        )
    frame = pl.DataFrame(rows).select([c.name for c in schema.monte_carlo.columns])
    results.replace_rows(schema.monte_carlo, "ticker", [ticker], frame)

    png = plots.bootstrap_png(
        [{**r, "label": label} for r, label in zip(rows, labels, strict=True)],
        f"{ticker} {window_start}..{window_end}: bootstrap of per-session net "
        f"({samples:,} samples, seed {seed})",
    )
    picture = Picture(
        png,
        write_artifact(
            cache,
            ticker,
            window_start,
            window_end,
            "validation/bootstrap.png",
            png,
            engine_version=engine.ENGINE_VERSION,
        ),
    )
    return MonteCarloRun(
        rows=frame, without_ledger=without_ledger, sessions=len(sessions), picture=picture
    )
