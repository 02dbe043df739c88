"""Trade ledgers of stored backtests, regenerated from cached data (the CLI's ``ledger`` command)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from orb_pipeline import engine
from orb_pipeline.core.artifacts import Artifact, write_artifact
from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.core.files import write_atomically
from orb_pipeline.engine.units import to_units, units_to_dollars
from orb_pipeline.results import display, plots
from orb_pipeline.results.leaderboard import (
    backtest_row,
    engine_options_of,
    params_of,
    trade_stats,
)
from orb_pipeline.results.resource import ResultsStore
from orb_pipeline.staging.window import read_cached_window


class LedgerError(RuntimeError):
    """A ledger cannot be regenerated (unknown id, other engine version, profit mismatch)."""


@dataclass(frozen=True)
class RegeneratedLedger:
    row: dict  # the results row
    ledger: pl.DataFrame  # engine.ledger columns
    data_version: str  # of the cached data used
    stats: dict
    series: pl.DataFrame  # the window it was computed on
    sessions: pl.DataFrame


def check_ledger_total(
    backtest_id: str, ledger: pl.DataFrame, expected_profit: float | None
) -> None:
    """The ledger's trades must add up to the stored ``backtest_profit`` (to $0.00005)."""
    total = units_to_dollars(int(to_units(ledger["profit"].to_numpy()).sum()))
    if expected_profit is None or abs(total - expected_profit) > 0.00005:
        raise LedgerError(
            f"ledger of {backtest_id} adds up to {total}, the results store says {expected_profit}"
        )


def regenerate_ledger(results: ResultsStore, cache: Any, backtest_id: str) -> RegeneratedLedger:
    """Look ``backtest_id`` up in the results store and recompute its ledger from the cache."""
    row = backtest_row(results, backtest_id)
    if row is None:
        raise LedgerError(
            f"backtest_id {backtest_id!r} is not in the results store {results.describe()}"
        )
    if row["engine_version"] != engine.ENGINE_VERSION:
        raise LedgerError(
            f"backtest {backtest_id} was computed by engine {row['engine_version']}; this is engine "
            f"{engine.ENGINE_VERSION}, whose ledger could differ: re-run the sweep"
        )
    series, sessions, data_version = read_cached_window(
        cache, row["ticker"], row["window_start"], row["window_end"]
    )
    ledger = engine.ledger(series, sessions, params_of(row), **engine_options_of(row))
    if data_version == row["data_version"]:
        check_ledger_total(backtest_id, ledger, row["backtest_profit"])
    return RegeneratedLedger(
        row=row,
        ledger=ledger,
        data_version=data_version,
        stats=trade_stats(ledger),
        series=series,
        sessions=sessions,
    )


def write_ledger_outputs(
    regenerated: RegeneratedLedger, cache: CacheStore, output_dir: Path | None = None
) -> tuple[Artifact, Artifact]:
    """The ledger (``<id>.csv``) and its picture (``<id>.png``, equity vs underlying) written as
    artifacts of the backtest's ticker and window in ``cache`` (``ledgers/<id>.*``), so they
    outlive the task; copies in ``output_dir`` too when given."""
    row = regenerated.row
    backtest_id = row["backtest_id"]
    buffer = io.BytesIO()
    regenerated.ledger.write_csv(buffer)
    written = []
    for suffix, data in ((".csv", buffer.getvalue()), (".png", ledger_picture(regenerated))):
        written.append(
            write_artifact(
                cache,
                row["ticker"],
                row["window_start"],
                row["window_end"],
                "ledgers/" + backtest_id + suffix,
                data,
                engine_version=row["engine_version"],
            )
        )
        if output_dir is not None:
            output_dir.mkdir(parents=True, exist_ok=True)
            write_atomically(output_dir / (backtest_id + suffix), data)
    return written[0], written[1]


def ledger_picture(regenerated: RegeneratedLedger) -> bytes:
    """Equity curve of the backtest against the underlying's move over its window."""
    row, series, sessions = regenerated.row, regenerated.series, regenerated.sessions
    curve = plots.equity_curve(regenerated.ledger, sessions)
    title = (
        f"{row['ticker']} {row['window_start']}..{row['window_end']}  backtest {row['backtest_id']}"
        f"\n{display.parameters_text(row)}"
    )
    return plots.equity_figure(title, {"backtest": curve}, plots.underlying_move(series, sessions))
