"""``walk_forward`` and ``monte_carlo`` [ticker]: out-of-sample validation of a ticker's window.

- ``walk_forward``: ``engine.session_stats`` over the staged window in blocks of parameter sets
  of bounded memory, each block's train/test aggregates per fold (``validation.runner``); every
  (fold, parameter set) row (written block by block), the chosen parameters per fold and the
  stitched out-of-sample equity go to the results store
  (``validation.schema``); the UI shows in-sample against out-of-sample equity.
- ``monte_carlo``: a seeded bootstrap of the leaderboard's top backtests' per-session net P&L
  (ledgers from the ``trades`` table), percentiles stored in ``monte_carlo`` and shown in the UI.
"""

import time

import dagster as dg
import polars as pl

from orb_pipeline import engine
from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.core.lineage import (
    LEADERBOARD,
    MONTE_CARLO,
    OPENING_RANGES,
    RESULTS_POOL,
    STAGED_WINDOW,
    WALK_FORWARD,
)
from orb_pipeline.partitions import ticker_dep, ticker_partitions
from orb_pipeline.results import display
from orb_pipeline.results.resource import ResultsStore
from orb_pipeline.staging.resource import StagingStore
from orb_pipeline.staging.window import expected_window, load_latest_window
from orb_pipeline.validation import schema
from orb_pipeline.validation.config import MonteCarloConfig, WalkForwardConfig
from orb_pipeline.validation.monte_carlo_run import MonteCarloError, run_monte_carlo
from orb_pipeline.validation.walk_forward_run import run_walk_forward

FOLD_COLUMNS = (
    "fold",
    "train_start",
    "test_start",
    "test_end",
    "combination",
    "stop_distance",
    "limit_distance",
    "stop_count_limit",
    "stop_cooloff_period",
    "train_score",
    "test_score",
    "generalization_gap",
    "test_total_profit",
    "promotion_ready",
)


# Validation follows the ticker's leaderboard, declaratively (the UI's Automation page shows why
# each run launched): true once per new leaderboard materialization of the same ticker, until
# this asset is requested, and never while a run of it is in progress. The sensor that acts on
# it, with the ECS sizing tags, is `validation_automation` (orchestration/definitions.py).
AFTER_LEADERBOARD = (
    dg.AutomationCondition.asset_matches(LEADERBOARD, dg.AutomationCondition.newly_updated())
    .since_last_handled()
    .with_label("leaderboard updated since last requested")
    & ~dg.AutomationCondition.in_progress()
)


def build_walk_forward(default_grid: pl.DataFrame) -> dg.AssetsDefinition:
    """The ``walk_forward`` asset; ``default_grid`` is the sweep stage's grid."""

    @dg.asset(
        key=WALK_FORWARD,
        partitions_def=ticker_partitions,
        # opening_ranges: the implied volatility of expected-move distances.
        deps=[STAGED_WINDOW, ticker_dep(OPENING_RANGES)],
        automation_condition=AFTER_LEADERBOARD,
        pool=RESULTS_POOL,
        kinds={"numba", "sql", "matplotlib"},
        group_name="validation",
        check_specs=[
            dg.AssetCheckSpec(
                "stored_rows_complete",
                asset=WALK_FORWARD,
                description="the results store holds folds x parameter sets result rows, one fold "
                "row per fold and one equity row per out-of-sample session for this validation",
            ),
        ],
        description=(
            "Walk-forward (or train/test) validation of the parameter grid over the ticker's staged "
            "window: train/test metrics, walk-forward score, generalization gap and promotion flag of every "
            "parameter set per fold, the parameters chosen per fold, the stitched out-of-sample "
            "equity (results store tables walk_forward_*). Picture: metadata entry equity (click "
            "Show Markdown; out-of-sample equity and drawdowns); folds: folds_table; the research "
            "report (asset research_report) shows both interactively."
        ),
    )
    def walk_forward(
        context: dg.AssetExecutionContext,
        config: WalkForwardConfig,
        staging: StagingStore,
        results: ResultsStore,
        cache: CacheStore,
    ) -> dg.MaterializeResult:
        ticker = context.partition_key
        grid = config.grid(default_grid)
        config.split_spec()  # a bad mode fails before anything is read or stored
        # An unreachable store fails now, not after the engine's work.
        results.ensure_tables(*schema.WALK_FORWARD_TABLES)
        started = time.perf_counter()
        window, rebuilt = load_latest_window(context, staging, cache, ticker)
        run = run_walk_forward(
            results, cache, window, grid, config, run_id=context.run.run_id, log=context.log
        )
        run_row = run.run_row
        return dg.MaterializeResult(
            check_results=[
                dg.AssetCheckResult(
                    check_name="stored_rows_complete",
                    asset_key=WALK_FORWARD,
                    passed=run.stored == run.expected,
                    metadata={
                        "stored": dg.MetadataValue.json(run.stored),
                        "expected": dg.MetadataValue.json(run.expected),
                    },
                )
            ],
            metadata={
                "equity": run.equity.thumbnail("in-sample vs out-of-sample equity"),
                "equity_png": run.equity.file.metadata_value(),
                "folds_table": dg.MetadataValue.md(
                    display.markdown_table(run.folds_frame.to_dicts(), FOLD_COLUMNS)
                ),
                "validation_id": run.validation_id,
                "mode": config.mode,
                "folds": run.folds,
                "combinations": run.combinations,
                "sessions": run.sessions,
                "sessions_without_iv": run.skipped,
                "distance_unit": config.distance_unit,
                "promotion_ready_folds": run_row["promotion_ready_folds"],
                "promotion_ready_results": run_row["promotion_ready_results"],
                "oos_total_profit": round(run_row["oos_total_profit"], 2),
                "oos_max_drawdown": round(run_row["oos_max_drawdown"], 2),
                "in_sample_total_profit": round(run_row["in_sample_total_profit"], 2),
                "walk_forward_score": (
                    "252 x (total_profit - drawdown_weight x max_drawdown) / sessions + "
                    "win_rate_weight x (win_rate_percent - 50) / 100"
                ),
                "blocks": run.blocks,
                "rows_per_block": run.rows_per_block,
                # engine + fold scores + writing the (fold, parameter set) rows, block by block
                "blocks_seconds": round(run.blocks_seconds, 3),
                "store_seconds": round(run.store_seconds, 3),
                "seconds": round(time.perf_counter() - started, 3),
                "rows_stored": sum(run.stored.values()),
                "results_store": results.describe(),
                "data_version": window.data_version,
                "rebuilt_from_cache": rebuilt,
                "engine_version": engine.ENGINE_VERSION,
            },
        )

    return walk_forward


@dg.asset(
    key=MONTE_CARLO,
    partitions_def=ticker_partitions,
    deps=[LEADERBOARD],
    automation_condition=AFTER_LEADERBOARD,
    pool=RESULTS_POOL,
    kinds={"numba", "sql", "matplotlib"},
    group_name="validation",
)
def monte_carlo(
    context: dg.AssetExecutionContext,
    config: MonteCarloConfig,
    results: ResultsStore,
    cache: CacheStore,
) -> dg.MaterializeResult:
    """Bootstrap of the leaderboard's top backtests: sessions resampled with replacement (seeded;
    see orb_pipeline/validation/bootstrap.py), 5th/50th/95th percentile of total profit and of
    maximum drawdown per backtest, stored in the ``monte_carlo`` table. Picture: metadata entry
    ``bootstrap`` (click *Show Markdown*); numbers: ``percentiles``."""
    ticker = context.partition_key
    results.ensure_tables(schema.monte_carlo)
    started = time.perf_counter()
    window = expected_window(context.instance, ticker)
    if window is None:
        raise dg.Failure(
            f"no staged window for {ticker}: materialize staged_window, "
            f"sweep_results and leaderboard for {ticker} first"
        )
    window_start, window_end = window.first_session, window.last_session
    try:
        run = run_monte_carlo(
            results,
            cache,
            ticker,
            window_start,
            window_end,
            top=config.top,
            samples=config.samples,
            seed=config.seed,
            run_id=context.run.run_id,
            log=context.log,
        )
    except MonteCarloError as error:
        raise dg.Failure(str(error)) from None
    shown = run.rows.select(
        "rank",
        "backtest_id",
        "profit_p5",
        "profit_p50",
        "profit_p95",
        "drawdown_p5",
        "drawdown_p50",
        "drawdown_p95",
    )
    best = run.rows.row(0, named=True)
    return dg.MaterializeResult(
        metadata={
            "bootstrap": run.picture.thumbnail("bootstrap percentiles"),
            "bootstrap_png": run.picture.file.metadata_value(),
            "percentiles": dg.MetadataValue.md(display.markdown_table(shown.to_dicts())),
            "backtests": run.rows.height,
            "backtests_without_ledger": run.without_ledger,
            "samples": config.samples,
            "seed": config.seed,
            "sessions": run.sessions,
            "window": f"{window_start}..{window_end}",
            "best_profit_p5": round(best["profit_p5"], 2),
            "best_drawdown_p95": round(best["drawdown_p95"], 2),
            "results_store": results.describe(),
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
