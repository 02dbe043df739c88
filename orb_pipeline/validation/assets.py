"""``walk_forward`` and ``monte_carlo`` [ticker]: out-of-sample validation of a ticker's window.

- ``walk_forward``: ``engine.session_stats`` once over the staged window, then train/test
  aggregates per fold (``validation.runner``); every (fold, parameter set) row, the chosen
  parameters per fold and the stitched out-of-sample equity go to the results store
  (``validation.schema``); the UI shows in-sample against out-of-sample equity.
- ``monte_carlo``: a seeded bootstrap of the leaderboard's top backtests' per-session net P&L
  (ledgers from the ``trades`` table), percentiles stored in ``monte_carlo`` and shown in the UI.
"""

import time

import dagster as dg
import polars as pl
import sqlalchemy as sa

from orb_pipeline import engine
from orb_pipeline.calendar import session_table
from orb_pipeline.core.artifacts import thumbnail_markdown, write_artifact
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
from orb_pipeline.results import schema as results_schema
from orb_pipeline.results.leaderboard import backtest_label, top_backtests
from orb_pipeline.results.resource import ResultsStore
from orb_pipeline.staging.resource import StagingStore
from orb_pipeline.staging.window import expected_window, load_window
from orb_pipeline.validation import plots, schema
from orb_pipeline.validation.bootstrap import bootstrap
from orb_pipeline.validation.config import MonteCarloConfig, WalkForwardConfig
from orb_pipeline.validation.expected_move import sessions_without_iv, with_expected_move
from orb_pipeline.validation.rows import (
    per_session_nets,
    store_walk_forward,
    stored_counts,
    validation_id,
    walk_forward_rows,
)
from orb_pipeline.validation.runner import check_stats_memory, walk_forward_on_stats

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


def sessions_for_grid(
    sessions: pl.DataFrame,
    config: WalkForwardConfig,
    grid: pl.DataFrame,
    read_ranges,
) -> tuple[pl.DataFrame, int]:
    """The window's sessions as the engine takes them, and how many an IV-scaled grid skips.

    For ``distance_unit="expected_move"`` adds ``expected_move`` from the opening ranges of
    ``iv_range_seconds`` (default: the grid's shortest range) via ``read_ranges(range_seconds)``;
    a window where no session has IV is a ``ValueError`` naming ``distance_unit``.
    """
    if config.distance_unit != "expected_move":
        return sessions, 0
    range_seconds = config.iv_range_seconds or int(grid["range_seconds"].min())
    with_move = with_expected_move(sessions, read_ranges(range_seconds), range_seconds)
    skipped = sessions_without_iv(with_move)
    if skipped == with_move.height:
        raise ValueError(
            f"distance_unit='expected_move' needs implied volatility, but none of the window's "
            f"{with_move.height} sessions has IV for range_seconds={range_seconds} "
            "(iv_range_seconds); use distance_unit='dollars' or 'percent'"
        )
    return with_move, skipped


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
        split = config.split_spec()
        # An unreachable store fails now, not after the engine's work.
        results.ensure_tables(*schema.WALK_FORWARD_TABLES)
        started = time.perf_counter()
        window, rebuilt = load_window(
            staging, cache, ticker, expected_window(context.instance, ticker), context.log
        )

        def read_ranges(range_seconds: int) -> pl.DataFrame:
            from orb_pipeline.ranges import read_opening_ranges

            return read_opening_ranges(
                cache, ticker, window.window_start, window.window_end, range_seconds=range_seconds
            )

        sessions, skipped = sessions_for_grid(window.sessions, config, grid, read_ranges)
        # Folds that do not fit fail here, before the engine runs.
        folds = split.folds_for(sessions.height - skipped)
        context.log.info(
            f"{ticker}: {len(folds)} fold(s) over {sessions.height - skipped} sessions "
            f"({skipped} skipped without IV), {grid.height} parameter sets"
        )

        # Fail with a reason, not a kernel kill, when the statistics cannot fit (issue 15).
        check_stats_memory(grid.height, sessions.height - skipped)
        engine_started = time.perf_counter()
        stats = engine.session_stats(
            window.series, sessions, grid, costs=config.costs(), distance_unit=config.distance_unit
        )
        stats_seconds = time.perf_counter() - engine_started
        folds_started = time.perf_counter()
        result = walk_forward_on_stats(stats, split, config.weights(), config.criteria())
        folds_seconds = time.perf_counter() - folds_started

        vid = validation_id(
            ticker,
            window.window_start,
            window.window_end,
            config.fingerprint(),
            grid,
            window.data_version,
        )
        rows = walk_forward_rows(
            result,
            grid,
            stats.session_dates,
            {
                "validation_id": vid,
                "ticker": ticker,
                "window_start": window.window_start,
                "window_end": window.window_end,
                "mode": config.mode,
                "distance_unit": config.distance_unit,
                "config": config.fingerprint(),
                "sessions_without_iv": skipped,
                "data_version": window.data_version,
                "engine_version": engine.ENGINE_VERSION,
                "run_id": context.run.run_id,
            },
        )
        store_started = time.perf_counter()
        store_walk_forward(results, rows)
        store_seconds = time.perf_counter() - store_started

        stored = stored_counts(results, vid)
        expected = {name: frame.height for name, frame in rows.items()}
        run_row = rows[schema.walk_forward_runs.name].row(0, named=True)
        folds_frame = rows[schema.walk_forward_folds.name]
        equity = rows[schema.walk_forward_equity.name]
        fold_starts = [
            int(i)
            for i, f in enumerate(equity["fold"].to_list())
            if i == 0 or f != equity["fold"][i - 1]
        ]
        span = f"{ticker} {window.window_start}..{window.window_end}"
        png = plots.equity_png(
            [str(d) for d in equity["session_date"].to_list()],
            equity["oos_equity"].to_numpy(),
            equity["in_sample_equity"].to_numpy(),
            fold_starts,
            f"{span}: walk-forward out-of-sample vs the full-window pick ({len(folds)} folds)",
        )
        context.log.info(
            f"{span}: out-of-sample profit {run_row['oos_total_profit']:.2f} $/sh vs in-sample pick "
            f"{run_row['in_sample_total_profit']:.2f} $/sh over the same sessions; "
            f"{run_row['promotion_ready_folds']}/{len(folds)} fold picks promotion-ready"
        )
        equity_file = write_artifact(
            cache,
            ticker,
            window.window_start,
            window.window_end,
            "validation/walk_forward_equity.png",
            png,
            engine_version=engine.ENGINE_VERSION,
        )
        return dg.MaterializeResult(
            check_results=[
                dg.AssetCheckResult(
                    check_name="stored_rows_complete",
                    asset_key=WALK_FORWARD,
                    passed=stored == expected,
                    metadata={
                        "stored": dg.MetadataValue.json(stored),
                        "expected": dg.MetadataValue.json(expected),
                    },
                )
            ],
            metadata={
                "equity": dg.MetadataValue.md(
                    thumbnail_markdown(png, "in-sample vs out-of-sample equity", equity_file)
                ),
                "equity_png": equity_file.metadata_value(),
                "folds_table": dg.MetadataValue.md(
                    display.markdown_table(folds_frame.to_dicts(), FOLD_COLUMNS)
                ),
                "validation_id": vid,
                "mode": config.mode,
                "folds": len(folds),
                "combinations": grid.height,
                "sessions": stats.n_sessions,
                "sessions_without_iv": skipped,
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
                "session_stats_seconds": round(stats_seconds, 3),
                "folds_seconds": round(folds_seconds, 3),
                "store_seconds": round(store_seconds, 3),
                "seconds": round(time.perf_counter() - started, 3),
                "rows_stored": sum(frame.height for frame in rows.values()),
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
    top = top_backtests(
        results,
        ticker,
        config.top,
        window_start=window.first_session,
        window_end=window.last_session,
    )
    if top.height == 0:
        raise dg.Failure(
            f"no leaderboard for {ticker} in {results.describe()}: materialize "
            f"sweep_results and leaderboard for {ticker} first"
        )
    window_start, window_end = window.first_session, window.last_session
    sessions = session_table(window_start, window_end)["session_date"]
    ids = top["backtest_id"].to_list()
    trades_table = results_schema.trades
    trades = results.read(
        sa.select(
            trades_table.c.backtest_id, trades_table.c.session_date, trades_table.c.profit
        ).where(trades_table.c.backtest_id.in_(ids))
    )
    if trades.height:
        trades = trades.with_columns(pl.col("session_date").cast(pl.String).str.to_date())
    else:
        trades = pl.DataFrame(
            schema={"backtest_id": pl.String, "session_date": pl.Date, "profit": pl.Float64}
        )
    counts = dict(trades.group_by("backtest_id").len().iter_rows())
    complete = [
        row["backtest_id"]
        for row in top.iter_rows(named=True)
        if counts.get(row["backtest_id"], 0) == row["trades"]
    ]
    if not complete:
        raise dg.Failure(
            f"none of the top {top.height} backtests of {ticker} has a complete trade ledger in the "
            f"trades table: materialize leaderboard for {ticker} first"
        )
    without_ledger = top.height - len(complete)
    if without_ledger:
        context.log.warning(
            f"{top.height - len(complete)} of the top {top.height} backtests of {ticker} have no "
            f"stored ledger (the leaderboard keeps ledgers of its own top only); bootstrapping "
            f"the {len(complete)} that do"
        )
        top = top.filter(pl.col("backtest_id").is_in(complete))
        ids = complete
    nets = per_session_nets(trades, sessions, ids)

    rows, labels = [], []
    for row in top.iter_rows(named=True):
        summary = bootstrap(nets[row["backtest_id"]], samples=config.samples, seed=config.seed)
        labels.append(backtest_label(row))
        rows.append(
            {
                "backtest_id": row["backtest_id"],
                "ticker": ticker,
                "rank": row["rank"],
                "data_version": row["data_version"],
                "run_id": context.run.run_id,
                **summary.as_dict(),
            }
        )
    frame = pl.DataFrame(rows).select([c.name for c in schema.monte_carlo.columns])
    results.replace_rows(schema.monte_carlo, "ticker", [ticker], frame)

    png = plots.bootstrap_png(
        [{**r, "label": label} for r, label in zip(rows, labels, strict=True)],
        f"{ticker} {window_start}..{window_end}: bootstrap of per-session net "
        f"({config.samples:,} samples, seed {config.seed})",
    )
    bootstrap_file = write_artifact(
        cache,
        ticker,
        window_start,
        window_end,
        "validation/bootstrap.png",
        png,
        engine_version=engine.ENGINE_VERSION,
    )
    shown = frame.select(
        "rank",
        "backtest_id",
        "profit_p5",
        "profit_p50",
        "profit_p95",
        "drawdown_p5",
        "drawdown_p50",
        "drawdown_p95",
    )
    return dg.MaterializeResult(
        metadata={
            "bootstrap": dg.MetadataValue.md(
                thumbnail_markdown(png, "bootstrap percentiles", bootstrap_file)
            ),
            "bootstrap_png": bootstrap_file.metadata_value(),
            "percentiles": dg.MetadataValue.md(display.markdown_table(shown.to_dicts())),
            "backtests": top.height,
            "backtests_without_ledger": without_ledger,
            "samples": config.samples,
            "seed": config.seed,
            "sessions": len(sessions),
            "window": f"{window_start}..{window_end}",
            "best_profit_p5": round(rows[0]["profit_p5"], 2),
            "best_drawdown_p95": round(rows[0]["drawdown_p95"], 2),
            "results_store": results.describe(),
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
