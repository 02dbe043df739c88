"""``sweep_results`` [ticker x chunk]: one parameter chunk of one ticker, upserted into the results store."""
# No `from __future__ import annotations`: Dagster reads the config and resource annotations.

import datetime as dt
import time

import dagster as dg
import polars as pl

from orb_pipeline import engine
from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.core.lineage import RESULTS_POOL, STAGED_WINDOW, SWEEP_RESULTS
from orb_pipeline.partitions import (
    CHUNK_DIMENSION,
    TICKER_DIMENSION,
    ticker_dep,
    ticker_partitions,
)
from orb_pipeline.results import schema
from orb_pipeline.results.ids import backtest_ids
from orb_pipeline.results.resource import ResultsStore
from orb_pipeline.staging.resource import StagingStore
from orb_pipeline.staging.window import load_latest_window
from orb_pipeline.sweeps.grid import SweepSettings, chunk_of, settings_fingerprint


def sweep_partitions(settings: SweepSettings) -> dg.MultiPartitionsDefinition:
    """``ticker`` (dynamic ``tickers``) x ``chunk`` (zero-padded chunk indices)."""
    return dg.MultiPartitionsDefinition(
        {
            TICKER_DIMENSION: ticker_partitions,
            CHUNK_DIMENSION: dg.StaticPartitionsDefinition(settings.chunk_keys()),
        }
    )


def result_rows(
    metrics: pl.DataFrame,
    ticker: str,
    window_start: dt.date,
    window_end: dt.date,
    data_version: str,
    run_id: str,
    engine_version: str = engine.ENGINE_VERSION,
    *,
    costs: engine.Costs | None = None,
    distance_unit: str = "dollars",
) -> pl.DataFrame:
    """``engine.sweep`` output (computed with ``costs`` and ``distance_unit``) -> rows of the
    ``results`` table (ids from results/ids.py)."""
    costs = engine.Costs() if costs is None else costs
    ids = backtest_ids(
        metrics,
        ticker,
        window_start,
        window_end,
        engine_version,
        costs=costs,
        distance_unit=distance_unit,
    )
    return (
        metrics.rename(schema.METRIC_COLUMNS)
        .with_columns(
            backtest_id=ids,
            ticker=pl.lit(ticker),
            commission_per_share=pl.lit(float(costs.commission_per_share), dtype=pl.Float64),
            slippage=pl.lit(float(costs.slippage), dtype=pl.Float64),
            slippage_unit=pl.lit(costs.slippage_unit),
            distance_unit=pl.lit(distance_unit),
            window_start=pl.lit(window_start, dtype=pl.Date),
            window_end=pl.lit(window_end, dtype=pl.Date),
            data_version=pl.lit(data_version),
            engine_version=pl.lit(engine_version),
            run_id=pl.lit(run_id),
        )
        .select([c.name for c in schema.results.columns if c.name != "trade_stats"])
    )


def build_sweep_results(settings: SweepSettings) -> dg.AssetsDefinition:
    """The ``sweep_results`` asset for a validated grid configuration."""
    grid = settings.grid()
    partitions_def = sweep_partitions(settings)

    @dg.asset(
        key=SWEEP_RESULTS,
        partitions_def=partitions_def,
        deps=[ticker_dep(STAGED_WINDOW)],
        pool=RESULTS_POOL,
        kinds={"numba", "sql"},
        group_name="sweeps",
        # A UI backfill of many chunks is one run per rectangle, like the sensor's ranged runs.
        backfill_policy=dg.BackfillPolicy.single_run(),
        # Another grid, chunk count, cost model or engine makes earlier chunks out of date.
        code_version=settings_fingerprint(settings),
        description=(
            f"Backtests of parameter chunks ({settings.chunks} chunks, {grid.height} "
            "backtests per ticker) over the staged window, upserted into the results store "
            "(one row per deterministic backtest_id; a re-run replaces its rows). Net of "
            f"{settings.cost_description()}."
        ),
    )
    def sweep_results(
        context: dg.AssetExecutionContext,
        staging: StagingStore,
        results: ResultsStore,
        cache: CacheStore,
    ) -> dg.MaterializeResult:
        chunk_keys = settings.chunk_keys()
        by_ticker: dict[str, list[str]] = {}
        for key in context.partition_keys:
            if not isinstance(key, dg.MultiPartitionKey):
                key = partitions_def.get_partition_key_from_str(key)
            dims = key.keys_by_dimension
            by_ticker.setdefault(dims[TICKER_DIMENSION], []).append(dims[CHUNK_DIMENSION])
        # Fail on an unreachable results store before spending the engine's time.
        results.ensure_tables()

        chunk_reports: list[dict] = []
        bests: list[dict] = []
        windows = []
        for ticker, chunks in sorted(by_ticker.items()):
            started = time.perf_counter()
            window, rebuilt = load_latest_window(context, staging, cache, ticker)
            load_seconds = time.perf_counter() - started
            windows.append((window, rebuilt, load_seconds))
            # Chunk by chunk: a run's memory is one chunk's rows, however many chunks it covers.
            for chunk in sorted(chunks):
                chunk_grid = chunk_of(grid, chunk_keys.index(chunk), settings.chunks)
                started = time.perf_counter()
                metrics = engine.sweep(
                    window.series, window.sessions, chunk_grid, **settings.engine_options()
                )
                sweep_seconds = time.perf_counter() - started
                context.log.info(
                    f"{ticker} chunk {chunk}: {metrics.height} backtests over "
                    f"{window.sessions.height} sessions in {sweep_seconds:.2f} s"
                )
                rows = result_rows(
                    metrics,
                    ticker,
                    window.window_start,
                    window.window_end,
                    window.data_version,
                    context.run.run_id,
                    **settings.engine_options(),
                )
                report = results.upsert(schema.results, rows, log=context.log)
                # sort + head runs as a top-k: 0.02 s instead of 0.5 s at 1 M rows
                bests.append(
                    rows.lazy()
                    .sort(
                        ["backtest_profit", "backtest_id"],
                        descending=[True, False],
                        nulls_last=True,
                    )
                    .head(1)
                    .collect()
                    .row(0, named=True)
                )
                chunk_reports.append(
                    {
                        "ticker": ticker,
                        "chunk": chunk,
                        "backtests": metrics.height,
                        "seconds": sweep_seconds,
                        "report": report,
                    }
                )
        return dg.MaterializeResult(metadata=sweep_metadata(chunk_reports, bests, windows, results))

    return sweep_results


def sweep_metadata(chunk_reports: list[dict], bests: list[dict], windows: list, results) -> dict:
    """One run's metadata: totals over its chunks (a run covers one or more chunks of one or more
    tickers; every chunk partition of the run carries the same metadata) and the best row."""
    backtests = sum(r["backtests"] for r in chunk_reports)
    sweep_seconds = sum(r["seconds"] for r in chunk_reports)
    upsert_seconds = sum(r["report"].seconds for r in chunk_reports)
    best = sorted(
        bests,
        key=lambda row: (
            row["backtest_profit"] is None,
            -(row["backtest_profit"] or 0.0),
            row["backtest_id"],
        ),
    )[0]
    window, _, _ = windows[0]
    return {
        "backtests": backtests,
        "chunks": len(chunk_reports),
        "seconds": round(sweep_seconds, 3),
        "backtests_per_second": round(backtests / sweep_seconds, 1) if sweep_seconds else None,
        "load_seconds": round(sum(seconds for _, _, seconds in windows), 3),
        "rebuilt_from_cache": any(rebuilt for _, rebuilt, _ in windows),
        "upsert_seconds": round(upsert_seconds, 3),
        "upsert_rows_per_second": round(backtests / upsert_seconds, 1) if upsert_seconds else None,
        "upsert_method": chunk_reports[0]["report"].method,
        "upsert_connections": chunk_reports[0]["report"].connections,
        "results_store": results.describe(),
        "per_chunk": dg.MetadataValue.md(
            "\n".join(
                [
                    "| ticker | chunk | backtests | sweep s | upsert s |",
                    "| --- | --- | --- | --- | --- |",
                ]
                + [
                    f"| {r['ticker']} | {r['chunk']} | {r['backtests']} | {r['seconds']:.2f} "
                    f"| {r['report'].seconds:.2f} |"
                    for r in chunk_reports
                ]
            )
        ),
        "best_backtest_id": best["backtest_id"],
        "best_total_profit": best["backtest_profit"],
        "best_result": dg.MetadataValue.json(
            {
                name: best[name]
                for name in (
                    "backtest_id",
                    "backtest_profit",
                    "sharpe",
                    "trades",
                    "win_rate_percent",
                    *engine.GRID_COLUMNS,
                )
            }
        ),
        "data_version": window.data_version,
        "window": f"{window.window_start}..{window.window_end}",
        "engine_version": engine.ENGINE_VERSION,
    }
