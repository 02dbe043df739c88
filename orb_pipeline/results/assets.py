"""``leaderboard`` [ticker]: top backtests by deflated Sharpe ratio, their trade ledgers, the
window's selection statistics, and pictures in the UI."""
# No `from __future__ import annotations`: Dagster reads the config and resource annotations.

import time

import dagster as dg
import polars as pl
from pydantic import Field, model_validator

from orb_pipeline import engine
from orb_pipeline.core.artifacts import (
    artifact_link,
    link_metadata,
    thumbnail_markdown,
    write_artifact,
)
from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.core.lineage import LEADERBOARD, RESULTS_POOL, SWEEP_RESULTS
from orb_pipeline.partitions import CHUNK_DIMENSION, ticker_dep, ticker_partitions
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
    trade_stats,
    window_data_versions,
)
from orb_pipeline.results.ledgers import check_ledger_total
from orb_pipeline.results.resource import ResultsStore
from orb_pipeline.results.selection import (
    SESSIONS_PER_YEAR,
    leaders,
    parameter_profiles,
    select_window,
    store_selection,
    window_rows,
)
from orb_pipeline.staging.resource import StagingStore
from orb_pipeline.staging.window import expected_window, load_window

# Equity curves are picked from this many of the best backtests, near-duplicates left out.
CURVE_POOL = 100
# The narrow table fits the asset page's metadata panel; the detail table holds every figure.
TABLE_COLUMNS = display.NARROW_COLUMNS
DETAIL_COLUMNS = (
    "rank",
    "parameters",
    "backtest_id",
    "deflated_sharpe",
    "sharpe",
    "pbo",
    "stability",
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
    pbo_blocks: int | None = Field(
        default=None,
        ge=2,
        description="CSCV blocks for the PBO (even); default 16, fewer when the window is short",
    )
    pbo_max_trials: int = Field(
        default=10_000,
        ge=2,
        le=200_000,
        description="backtests in the PBO; a larger window uses a seeded uniform sample",
    )
    pbo_seed: int = Field(default=0, ge=0, description="seed of that sample")

    @model_validator(mode="after")
    def _even_blocks(self) -> "LeaderboardConfig":
        if self.pbo_blocks is not None and self.pbo_blocks % 2:
            raise ValueError(f"pbo_blocks must be even, got {self.pbo_blocks}")
        return self


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
    """The ticker's top backtests over its staged window, ranked by deflated Sharpe ratio with the
    raw annualized Sharpe beside it, the window's probability of backtest overfitting and each
    row's parameter stability (orb_pipeline/results/selection.py; tables ``leaderboard_rows``,
    ``selection_windows``, ``window_deflated``), with the original ``risk_adjusted_win_rate``;
    their trade ledgers go to the ``trades`` table and their ``trade_stats`` to ``results``.
    Where to look: the ``top_backtests`` table (*Show Markdown* of ``top_backtests_detail`` has
    every figure, the parameters and the ids); pictures under ``equity_curves``,
    ``parameter_heatmap``, ``pbo_logits`` and ``parameter_stability`` (click *Show Markdown*;
    files under ``equity_png`` and ``heatmap_png``); the interactive HTML report under
    ``research_report`` (written by the ``research_report`` asset once validation has run)."""
    ticker = context.partition_key
    started = time.perf_counter()
    window, rebuilt = load_window(
        staging, cache, ticker, expected_window(context.instance, ticker), context.log
    )
    rows = window_rows(results, ticker, window.window_start, window.window_end)
    if rows.height == 0:
        raise dg.Failure(
            f"no ranked results for {ticker} over {window.window_start}..{window.window_end} "
            f"(engine {engine.ENGINE_VERSION}) in {results.describe()}: materialize sweep_results "
            f"for {ticker} first"
        )
    refuse_mixed_data_versions(context.instance, results, ticker, window)
    try:
        selection = select_window(
            rows,
            window.series,
            window.sessions,
            min_days_traded=config.min_days_traded,
            pbo_blocks=config.pbo_blocks,
            pbo_max_trials=config.pbo_max_trials,
            pbo_seed=config.pbo_seed,
        )
    except ValueError as error:
        raise dg.Failure(f"leaderboard of {ticker}: {error}") from None
    top = leaders(selection, config.top)
    if top.height == 0:
        raise dg.Failure(
            f"none of the {rows.height} backtests of {ticker} over {window.window_start}.."
            f"{window.window_end} traded on at least min_days_traded={config.min_days_traded} days"
        )

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
    sid = store_selection(
        results,
        selection,
        top,
        ticker=ticker,
        window_start=window.window_start,
        window_end=window.window_end,
        data_version=window.data_version,
        run_id=context.run.run_id,
    )

    best = top.row(0, named=True)
    span = f"{ticker} {window.window_start}..{window.window_end}"
    pool = selection.ranked.head(max(config.top, CURVE_POOL))
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
    pbo = selection.pbo
    pictures = {}
    if pbo is not None:
        pbo_png = plots.pbo_histogram(
            f"{span}: CSCV of {selection.pbo_trials:,} backtests, {pbo.n_splits:,} splits",
            pbo.logits,
            pbo.pbo,
        )
        pbo_file = write_artifact(
            cache,
            ticker,
            window.window_start,
            window.window_end,
            "leaderboard/pbo_logits.png",
            pbo_png,
            engine_version=engine.ENGINE_VERSION,
        )
        pictures["pbo_logits"] = dg.MetadataValue.md(
            thumbnail_markdown(pbo_png, "PBO: logits of the in-sample best's rank", pbo_file)
        )
    stability_png = plots.stability_figure(
        f"{span}: Sharpe along each parameter around #1",
        parameter_profiles(selection.all_rows, best),
        best,
    )
    stability_file = write_artifact(
        cache,
        ticker,
        window.window_start,
        window.window_end,
        "leaderboard/parameter_stability.png",
        stability_png,
        engine_version=engine.ENGINE_VERSION,
    )
    pictures["parameter_stability"] = dg.MetadataValue.md(
        thumbnail_markdown(stability_png, "parameter stability of #1", stability_file)
    )

    rows = [
        {**row, "parameters": display.parameters_text(row)} for row in top.iter_rows(named=True)
    ]
    context.log.info(
        f"leaderboard of {span}: best {best['backtest_id']} deflated Sharpe "
        f"{best['deflated_sharpe']:.3f} (raw Sharpe {best['sharpe']:.2f}, "
        f"{selection.n_trials:,} trials); PBO {pbo.pbo if pbo else float('nan'):.2f}"
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
            "top_backtests": display.table_metadata(rows, TABLE_COLUMNS, short=True),
            # Markdown opens in a dialog: a wide table here would widen the whole metadata panel.
            "top_backtests_detail": dg.MetadataValue.md(
                display.markdown_table(rows, DETAIL_COLUMNS)
            ),
            **pictures,
            "ranked_by": "deflated Sharpe: probability that the Sharpe ratio beats the best of "
            "n_trials unskilled trials (Bailey and Lopez de Prado 2014); the raw annualized "
            "Sharpe beside it",
            "n_trials": selection.n_trials,
            "expected_max_sharpe": round(selection.expected_max_sharpe * SESSIONS_PER_YEAR**0.5, 4),
            "pbo": pbo.pbo if pbo else None,
            "pbo_splits": pbo.n_splits if pbo else 0,
            "pbo_trials": selection.pbo_trials,
            "selection_id": sid,
            "best_backtest_id": best["backtest_id"],
            "best_deflated_sharpe": display.rounded("deflated_sharpe", best["deflated_sharpe"]),
            "best_sharpe": display.rounded("sharpe", best["sharpe"]),
            "best_total_profit": display.rounded("backtest_profit", best["backtest_profit"]),
            "best_parameters": display.parameters_text(best),
            "ledger_trades_stored": trades.height,
            "research_report": link_metadata(
                artifact_link(cache, report_path(ticker, window.window_start, window.window_end))
            ),
            "equity_png": equity.metadata_value(),
            "heatmap_png": heatmap.metadata_value(),
            # 16 of 64 hex characters: one unbreakable 64-character value would widen the panel.
            "data_version_prefix": window.data_version[:16],
            "rebuilt_from_cache": rebuilt,
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
