"""``research_report`` [ticker]: one self-contained HTML research report per ticker and window."""
# No `from __future__ import annotations`: Dagster reads the config and resource annotations.

import time

import dagster as dg
from pydantic import Field

from orb_pipeline import engine
from orb_pipeline.core.artifacts import write_artifact
from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.core.lineage import (
    LEADERBOARD,
    MONTE_CARLO,
    RESEARCH_REPORT,
    RESULTS_POOL,
    VERDICT,
    WALK_FORWARD,
)
from orb_pipeline.partitions import ticker_partitions
from orb_pipeline.reports.content import gather
from orb_pipeline.reports.html import render
from orb_pipeline.results.leaderboard import REPORT_NAME
from orb_pipeline.results.resource import ResultsStore
from orb_pipeline.staging.resource import StagingStore
from orb_pipeline.staging.window import load_latest_window
from orb_pipeline.validation.assets import AFTER_LEADERBOARD


class ReportConfig(dg.Config):
    top: int = Field(default=10, ge=1, le=100, description="backtests in the report's tables")
    plotted: int = Field(default=5, ge=1, le=20, description="equity curves in the chart")


@dg.asset(
    key=RESEARCH_REPORT,
    partitions_def=ticker_partitions,
    deps=[LEADERBOARD, WALK_FORWARD, MONTE_CARLO, VERDICT],
    # Requested with walk_forward and monte_carlo, in the same run (validation_automation).
    automation_condition=AFTER_LEADERBOARD,
    pool=RESULTS_POOL,
    kinds={"html", "plotly"},
    group_name="validation",
    description=(
        "A self-contained HTML page per ticker and window (plotly inlined, nothing loaded from the "
        "internet): the verdict, the leaderboard, equity against the underlying with drawdowns "
        "and the out-of-sample sessions shaded, the walk-forward, an explorable parameter heatmap, "
        "the trade list of a chosen backtest, the bootstrap. Written to the cache store under "
        "artifacts/<ticker>/<first>_<last>/engine-<version>/report/research_report.html; the "
        "metadata entry research_report links it."
    ),
)
def research_report(
    context: dg.AssetExecutionContext,
    config: ReportConfig,
    staging: StagingStore,
    results: ResultsStore,
    cache: CacheStore,
) -> dg.MaterializeResult:
    ticker = context.partition_key
    started = time.perf_counter()
    window, rebuilt = load_latest_window(context, staging, cache, ticker)
    try:
        content = gather(results, window, ticker, config.top, config.plotted)
    except ValueError as error:
        raise dg.Failure(str(error)) from None
    page = render(content).encode()
    report = write_artifact(
        cache,
        ticker,
        window.window_start,
        window.window_end,
        REPORT_NAME,
        page,
        engine_version=engine.ENGINE_VERSION,
    )
    context.log.info(f"research report of {ticker}: {report.location} ({len(page):,} bytes)")
    return dg.MaterializeResult(
        metadata={
            "research_report": report.metadata_value(),
            "verdict": dg.MetadataValue.md("```\n" + content.verdict + "\n```"),
            "holds_up": {True: "yes", False: "no", None: "not validated"}[content.holds_up],
            "bytes": len(page),
            "backtests_in_heatmap": len(content.grid.get("sharpe", [])),
            "data_version": window.data_version,
            "rebuilt_from_cache": rebuilt,
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
