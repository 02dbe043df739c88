"""``leaderboard`` [ticker]: top backtests by score, their trade ledgers, and pictures in the UI."""
# No `from __future__ import annotations`: Dagster reads the config and resource annotations.

import time

import dagster as dg
import polars as pl
from pydantic import Field

from orb_pipeline import engine
from orb_pipeline.core.artifacts import (
    artifact_link,
    link_metadata,
    thumbnail_markdown,
    write_artifact,
)
from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.partitions import ticker_dep, ticker_partitions
from orb_pipeline.results import display, plots, schema
from orb_pipeline.results.leaderboard import (
    engine_options_of,
    grid_values,
    heatmap_rows,
    ledger_rows,
    params_of,
    plotted_curves,
    report_path,
    set_trade_stats,
    top_backtests,
    trade_stats,
    window_data_versions,
)
from orb_pipeline.results.ledgers import check_ledger_total
from orb_pipeline.results.resource import ResultsStore
from orb_pipeline.staging.resource import StagingStore
from orb_pipeline.staging.window import load_window
from orb_pipeline.sweeps.assets import (
    CHUNK_DIMENSION,
    RESULTS_POOL,
    SWEEP_RESULTS,
    expected_window,
)

LEADERBOARD = dg.AssetKey("leaderboard")
# Equity curves are picked from this many of the best backtests, near-duplicates left out.
CURVE_POOL = 100
# The narrow table fits the asset page's metadata panel; the detail table holds every figure.
TABLE_COLUMNS = (*display.HEADLINE_COLUMNS, "parameters")
DETAIL_COLUMNS = (
    "rank",
    "backtest_id",
    "sharpe",
    "backtest_profit",
    "max_drawdown",
    "trades",
    "days_traded",
    "win_rate_percent",
    "trade_win_rate_percent",
    "average_holding_period",
    "profit_factor",
    "risk_adjusted_win_rate",
    "range_seconds",
    "stop_distance",
    "limit_distance",
    "stop_count_limit",
    "stop_cooloff_period",
)


class LeaderboardConfig(dg.Config):
    top: int = Field(default=10, ge=1, le=1000, description="backtests on the leaderboard")
    plotted: int = Field(default=5, ge=1, le=20, description="equity curves in the picture")
    min_days_traded: int = Field(
        default=1, ge=0, description="rank only backtests trading this often"
    )


def refuse_mixed_data_versions(
    instance: dg.DagsterInstance, results: ResultsStore, ticker: str, window
) -> None:
    """``dg.Failure`` unless every ``results`` row of the window was swept on the staged window's
    data version; the message names the stale chunks (from their runs' partition tags)."""
    versions = window_data_versions(results, ticker, window.window_start, window.window_end)
    stale = versions.filter(pl.col("data_version") != window.data_version)
    if stale.height == 0:
        return
    described = []
    for version, run_id, rows in stale.iter_rows():
        tags = run.tags if run_id and (run := instance.get_run_by_id(run_id)) else {}
        chunks = (
            "chunk " + tags[f"dagster/partition/{CHUNK_DIMENSION}"]
            if f"dagster/partition/{CHUNK_DIMENSION}" in tags
            else "chunks "
            + tags.get("dagster/asset_partition_range_start", "?")
            + ".."
            + tags.get("dagster/asset_partition_range_end", "?")
        )
        described.append(f"{chunks} (run {run_id}, {rows} rows, data version {version})")
    raise dg.Failure(
        f"{ticker} {window.window_start}..{window.window_end}: {stale['rows'].sum()} of "
        f"{versions['rows'].sum()} results rows were swept on another data version than the "
        f"staged window ({window.data_version}): {'; '.join(described)}. A window's results "
        f"must come from one data version: re-run sweep_results for those chunks of {ticker}, "
        "then the leaderboard"
    )


@dg.asset(
    key=LEADERBOARD,
    partitions_def=ticker_partitions,
    deps=[ticker_dep(SWEEP_RESULTS)],
    pool=RESULTS_POOL,
    kinds={"sql", "matplotlib"},
    group_name="results",
)
def leaderboard(
    context: dg.AssetExecutionContext,
    config: LeaderboardConfig,
    staging: StagingStore,
    results: ResultsStore,
    cache: CacheStore,
) -> dg.MaterializeResult:
    """The ticker's top backtests over its staged window, ranked by Sharpe (annualized, per-session
    net P&L; see orb_pipeline/results/leaderboard.py), with the original ``risk_adjusted_win_rate``;
    their trade ledgers go to the ``trades`` table and their ``trade_stats`` to ``results``.
    Where to look: the ``top_backtests`` table (``top_backtests_detail`` has every figure and the
    ids); pictures under ``equity_curves`` and ``parameter_heatmap`` (click *Show Markdown*; files
    under ``equity_png`` and ``heatmap_png``); the interactive HTML report under ``research_report``
    (written by the ``research_report`` asset once validation has run)."""
    ticker = context.partition_key
    started = time.perf_counter()
    window, rebuilt = load_window(
        staging, cache, ticker, expected_window(context.instance, ticker), context.log
    )
    top = top_backtests(
        results,
        ticker,
        config.top,
        window_start=window.window_start,
        window_end=window.window_end,
        min_days_traded=config.min_days_traded,
    )
    if top.height == 0:
        raise dg.Failure(
            f"no ranked results for {ticker} over {window.window_start}..{window.window_end} "
            f"(engine {engine.ENGINE_VERSION}) in {results.describe()}: materialize sweep_results "
            f"for {ticker} first"
        )
    refuse_mixed_data_versions(context.instance, results, ticker, window)

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

    best = top.row(0, named=True)
    span = f"{ticker} {window.window_start}..{window.window_end}"
    pool = top_backtests(
        results,
        ticker,
        max(config.top, CURVE_POOL),
        window_start=window.window_start,
        window_end=window.window_end,
        min_days_traded=config.min_days_traded,
    )
    curves, curve_note = plotted_curves(window, pool, config.plotted)
    equity_png = plots.equity_figure(
        span + ": distinct top backtests (in sample) against the underlying",
        curves,
        plots.underlying_move(window.series, window.sessions),
        note=curve_note,
    )
    values = grid_values(results, ticker, window.window_start, window.window_end)
    panel_by = plots.panel_parameter(values)
    warnings = plots.edge_warnings(values, best)
    fixed = [
        f"{display.label(name)} {display.text(name, best[name])}"
        for name in engine.GRID_COLUMNS
        if name not in {"stop_distance", "limit_distance", panel_by}
    ]
    heatmap_png = plots.heatmap_figure(
        f"{span}: Sharpe (annualized) over stop x limit distance; {', '.join(fixed)}; "
        "ringed in black: the leaderboard's #1",
        heatmap_rows(results, ticker, window.window_start, window.window_end, best, panel_by),
        best,
        panel_by=panel_by,
        warnings=warnings,
    )
    equity = write_artifact(
        cache,
        ticker,
        window.window_start,
        window.window_end,
        "leaderboard/equity.png",
        equity_png,
        engine_version=engine.ENGINE_VERSION,
    )
    heatmap = write_artifact(
        cache,
        ticker,
        window.window_start,
        window.window_end,
        "leaderboard/heatmap.png",
        heatmap_png,
        engine_version=engine.ENGINE_VERSION,
    )

    rows = [
        {**row, "parameters": display.parameters_text(row)} for row in top.iter_rows(named=True)
    ]
    context.log.info(
        f"leaderboard of {span}: best {best['backtest_id']} Sharpe {best['sharpe']:.2f}"
    )
    return dg.MaterializeResult(
        metadata={
            "equity_curves": dg.MetadataValue.md(
                thumbnail_markdown(equity_png, "equity curves", equity)
            ),
            "parameter_heatmap": dg.MetadataValue.md(
                thumbnail_markdown(heatmap_png, "parameter heatmap", heatmap)
            ),
            "grid_edge_warnings": "; ".join(warnings)
            or "none: the best parameters are inside the grid",
            "top_backtests": display.table_metadata(rows, TABLE_COLUMNS),
            "top_backtests_detail": display.table_metadata(rows, DETAIL_COLUMNS),
            "leaderboard": dg.MetadataValue.md(display.markdown_table(rows, DETAIL_COLUMNS)),
            "ranked_by": "Sharpe (annualized): Sharpe ratio of per-session net P&L, higher is better",
            "best_backtest_id": best["backtest_id"],
            "best_sharpe": display.rounded("sharpe", best["sharpe"]),
            "best_total_profit": display.rounded("backtest_profit", best["backtest_profit"]),
            "best_parameters": display.parameters_text(best),
            "ledger_trades_stored": trades.height,
            "research_report": link_metadata(
                artifact_link(cache, report_path(ticker, window.window_start, window.window_end))
            ),
            "equity_png": equity.metadata_value(),
            "heatmap_png": heatmap.metadata_value(),
            "data_version": window.data_version,
            "rebuilt_from_cache": rebuilt,
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
