"""One leaderboard of a ticker's staged window, Dagster-free: rank the window's stored results
(``results.selection``), recompute and store the leaders' trade ledgers and trade statistics,
store the selection, and draw and write its pictures. The ``leaderboard`` asset turns the
:class:`LeaderboardRun` it returns into metadata.

Bad input raises :class:`LeaderboardError` naming the ticker, the window and what to do (the asset
reports it as a ``dg.Failure``); a leader whose recomputed ledger disagrees with its stored profit
raises from ``ledgers.check_ledger_total``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import polars as pl

from orb_pipeline import engine
from orb_pipeline.core.artifacts import Picture, write_artifact
from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.partitions import CHUNK_DIMENSION
from orb_pipeline.results import display, plots, schema
from orb_pipeline.results.leaderboard import (
    engine_options_of,
    grid_values,
    heatmap_rows,
    ledger_rows,
    params_of,
    plotted_curves,
    set_trade_stats,
    trade_stats,
    window_data_versions,
)
from orb_pipeline.results.ledgers import check_ledger_total
from orb_pipeline.results.resource import ResultsStore
from orb_pipeline.results.selection import (
    WindowSelection,
    leaders,
    parameter_profiles,
    select_window,
    store_selection,
    window_rows,
)
from orb_pipeline.staging.resource import StagedWindow

# Equity curves are picked from this many of the best backtests, near-duplicates left out.
CURVE_POOL = 100

RunTags = Callable[[str], Mapping[str, str]]
"""The tags of a Dagster run by id (empty when the run is unknown)."""


class LeaderboardError(ValueError):
    """A leaderboard that cannot be built from what is stored (names ticker, window, remedy)."""


@dataclass(frozen=True)
class LeaderboardRun:
    """What one leaderboard stored and drew.

    ``top``: the leaders, best first (``selection.ranked`` columns plus ``rank``); ``best`` its
    first row; ``selection_id`` the stored selection; ``ledger_trades`` the trades stored for the
    leaders; ``grid_edge_warnings`` the parameters of #1 at an edge of the swept grid; pictures:
    ``equity``, ``heatmap``, ``stability`` and ``pbo_logits`` (None without a PBO).
    """

    selection: WindowSelection
    top: pl.DataFrame
    best: dict
    selection_id: str
    ledger_trades: int
    grid_edge_warnings: list[str]
    equity: Picture
    heatmap: Picture
    stability: Picture
    pbo_logits: Picture | None


def refuse_mixed_data_versions(
    results: ResultsStore, ticker: str, window: StagedWindow, run_tags: RunTags
) -> None:
    """:class:`LeaderboardError` unless every ``results`` row of the window was swept on the
    staged window's data version; the message names the stale chunks (from the partition tags
    ``run_tags`` gives for each row's run)."""
    versions = window_data_versions(results, ticker, window.window_start, window.window_end)
    stale = versions.filter(pl.col("data_version") != window.data_version)
    if stale.height == 0:
        return
    described = []
    for version, run_id, rows in stale.iter_rows():
        tags = run_tags(run_id) if run_id else {}
        chunks = (
            "chunk " + tags[f"dagster/partition/{CHUNK_DIMENSION}"]
            if f"dagster/partition/{CHUNK_DIMENSION}" in tags
            else "chunks "
            + tags.get("dagster/asset_partition_range_start", "?")
            + ".."
            + tags.get("dagster/asset_partition_range_end", "?")
        )
        described.append(f"{chunks} (run {run_id}, {rows} rows, data version {version})")
    raise LeaderboardError(
        f"{ticker} {window.window_start}..{window.window_end}: {stale['rows'].sum()} of "
        f"{versions['rows'].sum()} results rows were swept on another data version than the "
        f"staged window ({window.data_version}): {'; '.join(described)}. A window's results "
        f"must come from one data version: re-run sweep_results for those chunks of {ticker}, "
        "then the leaderboard"
    )


def store_leader_ledgers(
    results: ResultsStore, window: StagedWindow, top: pl.DataFrame, ticker: str
) -> int:
    """Recompute each leader's trade ledger on ``window`` (checked against its stored profit),
    replace the leaders' rows of the ``trades`` table and set their ``trade_stats``; returns the
    trades stored."""
    ledgers, stats = [], {}
    for row in top.iter_rows(named=True):
        ledger = engine.ledger(
            window.series, window.sessions, params_of(row), **engine_options_of(row)
        )
        check_ledger_total(row["backtest_id"], ledger, row["backtest_profit"])
        ledgers.append(ledger_rows(row["backtest_id"], ledger))
        stats[row["backtest_id"]] = trade_stats(ledger)
    trades = pl.concat(ledgers)
    results.replace_rows(schema.trades, "backtest_id", list(stats), trades)
    set_trade_stats(results, stats, ticker, window.window_start, window.window_end)
    return trades.height


def build_leaderboard(
    results: ResultsStore,
    cache: CacheStore,
    window: StagedWindow,
    *,
    top: int = 10,
    plotted: int = 5,
    min_days_traded: int = 1,
    pbo_blocks: int | None = None,
    pbo_max_trials: int = 10_000,
    pbo_seed: int = 0,
    run_id: str,
    run_tags: RunTags = lambda run_id: {},
) -> LeaderboardRun:
    """The leaderboard of ``window.ticker`` over the staged ``window``: the ``top`` rows ranked by
    deflated Sharpe among the backtests trading on at least ``min_days_traded`` sessions, stored
    with their ledgers; the PBO over at most ``pbo_max_trials`` backtests (seeded sample) in
    ``pbo_blocks`` blocks (default ``selection.pbo_blocks_for``); ``plotted`` distinct equity
    curves. Pictures are written under the window's artifacts in ``cache``."""
    ticker = window.ticker
    span = f"{ticker} {window.window_start}..{window.window_end}"
    rows = window_rows(results, ticker, window.window_start, window.window_end)
    if rows.height == 0:
        raise LeaderboardError(
            f"no ranked results for {ticker} over {window.window_start}..{window.window_end} "
            f"(engine {engine.ENGINE_VERSION}) in {results.describe()}: materialize sweep_results "
            f"for {ticker} first"
        )
    refuse_mixed_data_versions(results, ticker, window, run_tags)
    try:
        selection = select_window(
            rows,
            window.series,
            window.sessions,
            min_days_traded=min_days_traded,
            pbo_blocks=pbo_blocks,
            pbo_max_trials=pbo_max_trials,
            pbo_seed=pbo_seed,
        )
    except ValueError as error:
        raise LeaderboardError(f"leaderboard of {ticker}: {error}") from None
    board = leaders(selection, top)
    if board.height == 0:
        raise LeaderboardError(
            f"none of the {rows.height} backtests of {ticker} over {window.window_start}.."
            f"{window.window_end} traded on at least min_days_traded={min_days_traded} days"
        )
    trades_stored = store_leader_ledgers(results, window, board, ticker)
    sid = store_selection(
        results,
        selection,
        board,
        ticker=ticker,
        window_start=window.window_start,
        window_end=window.window_end,
        data_version=window.data_version,
        run_id=run_id,
    )
    best = board.row(0, named=True)

    def picture(name: str, png: bytes) -> Picture:
        path = f"leaderboard/{name}.png"
        start, end = window.window_start, window.window_end
        return Picture(
            png,
            write_artifact(
                cache, ticker, start, end, path, png, engine_version=engine.ENGINE_VERSION
            ),
        )

    curves, curve_note = plotted_curves(
        window, selection.ranked.head(max(top, CURVE_POOL)), plotted
    )
    equity = picture(
        "equity",
        plots.equity_figure(
            span + ": distinct top backtests (in sample) against the underlying",
            curves,
            plots.underlying_move(window.series, window.sessions),
            note=curve_note,
        ),
    )
    values = grid_values(results, ticker, window.window_start, window.window_end)
    panel_by = plots.panel_parameter(values)
    warnings = plots.edge_warnings(values, best)
    fixed = [
        f"{display.label(name)} {display.text(name, best[name])}"
        for name in engine.GRID_COLUMNS
        if name not in {"stop_distance", "limit_distance", panel_by}
    ]
    heatmap = picture(
        "heatmap",
        plots.heatmap_figure(
            f"{span}: Sharpe (annualized) over stop x limit distance; {', '.join(fixed)}; "
            "ringed in black: the leaderboard's #1",
            heatmap_rows(results, ticker, window.window_start, window.window_end, best, panel_by),
            best,
            panel_by=panel_by,
            warnings=warnings,
        ),
    )
    pbo = selection.pbo
    pbo_logits = None
    if pbo is not None:
        pbo_logits = picture(
            "pbo_logits",
            plots.pbo_histogram(
                f"{span}: CSCV of {selection.pbo_trials:,} backtests, {pbo.n_splits:,} splits",
                pbo.logits,
                pbo.pbo,
            ),
        )
    stability = picture(
        "parameter_stability",
        plots.stability_figure(
            f"{span}: Sharpe along each parameter around #1",
            parameter_profiles(selection.all_rows, best),
            best,
        ),
    )
    return LeaderboardRun(
        selection=selection,
        top=board,
        best=best,
        selection_id=sid,
        ledger_trades=trades_stored,
        grid_edge_warnings=warnings,
        equity=equity,
        heatmap=heatmap,
        stability=stability,
        pbo_logits=pbo_logits,
    )
