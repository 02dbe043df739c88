"""``leaderboard`` [ticker]: top backtests by deflated Sharpe ratio, their trade ledgers, the
window's selection statistics, and pictures in the UI."""
# No `from __future__ import annotations`: Dagster reads the config and resource annotations.

import time

import dagster as dg
from pydantic import Field, model_validator

from orb_pipeline.core.artifacts import artifact_link, link_metadata
from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.core.lineage import LEADERBOARD, RESULTS_POOL, SWEEP_RESULTS
from orb_pipeline.partitions import ticker_dep, ticker_partitions
from orb_pipeline.results import display
from orb_pipeline.results.leaderboard import report_path
from orb_pipeline.results.leaderboard_run import LeaderboardError, build_leaderboard
from orb_pipeline.results.resource import ResultsStore
from orb_pipeline.results.selection import SESSIONS_PER_YEAR
from orb_pipeline.staging.resource import StagingStore
from orb_pipeline.staging.window import load_latest_window

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
    window, rebuilt = load_latest_window(context, staging, cache, ticker)

    def run_tags(run_id: str) -> dict[str, str]:
        run = context.instance.get_run_by_id(run_id)
        return run.tags if run else {}

    try:
        board = build_leaderboard(
            results,
            cache,
            window,
            top=config.top,
            plotted=config.plotted,
            min_days_traded=config.min_days_traded,
            pbo_blocks=config.pbo_blocks,
            pbo_max_trials=config.pbo_max_trials,
            pbo_seed=config.pbo_seed,
            run_id=context.run.run_id,
            run_tags=run_tags,
        )
    except LeaderboardError as error:
        raise dg.Failure(str(error)) from None

    selection, best, pbo = board.selection, board.best, board.selection.pbo
    span = f"{ticker} {window.window_start}..{window.window_end}"
    rows = [
        {**row, "parameters": display.parameters_text(row)}
        for row in board.top.iter_rows(named=True)
    ]
    context.log.info(
        f"leaderboard of {span}: best {best['backtest_id']} deflated Sharpe "
        f"{best['deflated_sharpe']:.3f} (raw Sharpe {best['sharpe']:.2f}, "
        f"{selection.n_trials:,} trials); PBO {pbo.pbo if pbo else float('nan'):.2f}"
    )
    pictures = {}
    if board.pbo_logits is not None:
        pictures["pbo_logits"] = board.pbo_logits.thumbnail(
            "PBO: logits of the in-sample best's rank"
        )
    pictures["parameter_stability"] = board.stability.thumbnail("parameter stability of #1")
    return dg.MaterializeResult(
        metadata={
            "equity_curves": board.equity.thumbnail("equity curves"),
            "parameter_heatmap": board.heatmap.thumbnail("parameter heatmap"),
            "grid_edge_warnings": "; ".join(board.grid_edge_warnings)
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
            "selection_id": board.selection_id,
            "best_backtest_id": best["backtest_id"],
            "best_deflated_sharpe": display.rounded("deflated_sharpe", best["deflated_sharpe"]),
            "best_sharpe": display.rounded("sharpe", best["sharpe"]),
            "best_total_profit": display.rounded("backtest_profit", best["backtest_profit"]),
            "best_parameters": display.parameters_text(best),
            "ledger_trades_stored": board.ledger_trades,
            "research_report": link_metadata(
                artifact_link(cache, report_path(ticker, window.window_start, window.window_end))
            ),
            "equity_png": board.equity.file.metadata_value(),
            "heatmap_png": board.heatmap.file.metadata_value(),
            # 16 of 64 hex characters: one unbreakable 64-character value would widen the panel.
            "data_version_prefix": window.data_version[:16],
            "rebuilt_from_cache": rebuilt,
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
