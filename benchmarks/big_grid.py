"""Benchmark: peak memory and wall time of a multi-million-row grid through sweep, leaderboard and
walk-forward validation of one ticker window (issue 15 item 6).

Run from the repository root (needs the loopback MariaDB of the tests):
``.venv/bin/python -m benchmarks.big_grid [--rows 5000000] [--sessions 40] [--ticks 2000]
[--chunks 50] [--folds N] [--stages sweep,leaderboard,walk_forward,monte_carlo]``

Each stage runs in a fresh subprocess, one after the other, through the same Dagster-free
functions the assets call, into one scratch MariaDB database (dropped at the end) and a scratch
cache directory:
- ``sweep``: ``engine.sweep`` + ``result_rows`` + ``ResultsStore.upsert`` chunk by chunk
  (``--chunks`` equal chunks, as a ``sweep_results`` run over all of a ticker's chunks does);
- ``leaderboard``: ``results.leaderboard_run.build_leaderboard`` over the stored rows (default
  options: top 10, PBO over at most 10,000 sampled backtests, pictures);
- ``walk_forward``: ``validation.walk_forward_run.run_walk_forward`` with the default
  configuration (rolling folds sized from the window; ``--folds`` caps them: each fold adds a
  grid's worth of stored rows, which is most of this stage's time), streaming the grid in blocks of
  ``validation.runner.STATS_BLOCK_BYTES``, every (fold, parameter set) row written;
- ``monte_carlo``: ``validation.monte_carlo_run.run_monte_carlo`` of the leaderboard's top 10.

Each child prints its peak RSS (``VmHWM``, the high-water mark of the whole process) next to its
baseline (window generated, numba warmed up on a tiny grid, before the stage's work), and the
stage's wall seconds. The window is synthetic (``benchmarks.walk_forward.synthetic_window``, on
exchange sessions).
Nothing is asserted: figures are printed, with the load average before and after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

from benchmarks.memory import peak_rss_mb

STAGES = ("sweep", "leaderboard", "walk_forward", "monte_carlo")
TICKER = "BIG"
DATA_VERSION = "bench-data"


def store_for(database: str):
    from orb_pipeline.results.resource import MySqlResultsStore
    from orb_pipeline_tests import services

    mysql = services.mysql_settings()
    return MySqlResultsStore(
        host=mysql["host"],
        port=mysql["port"],
        user=mysql["user"],
        password=mysql["password"],
        database=database,
    )


def exchange_window(sessions: int, ticks: int):
    """``synthetic_window``'s weekdays kept only where the exchange trades (``monte_carlo`` reads
    the calendar's sessions), the first ``sessions`` of them."""
    import polars as pl

    from benchmarks.walk_forward import synthetic_window
    from orb_pipeline.calendar import session_table

    series, table = synthetic_window(sessions + sessions // 10 + 5, ticks)
    open_days = session_table(table["session_date"].min(), table["session_date"].max())
    table = table.filter(pl.col("session_date").is_in(open_days["session_date"].to_list())).head(
        sessions
    )
    series = series.filter(pl.col("session_date").is_in(table["session_date"].to_list()))
    return series, table


def child(stage: str, args) -> None:
    from benchmarks.memory import grid_of
    from orb_pipeline import engine
    from orb_pipeline.core.cache_store import CacheStore
    from orb_pipeline.staging.resource import StagedWindow

    series, sessions = exchange_window(args.sessions, args.ticks)
    window = StagedWindow(
        TICKER,
        DATA_VERSION,
        sessions["session_date"].min(),
        sessions["session_date"].max(),
        series,
        sessions,
    )
    results = store_for(args.database)
    cache = CacheStore(url=args.cache)
    tiny = grid_of(2)
    engine.sweep(series, sessions, tiny)
    engine.session_stats(series, sessions, tiny)
    grid = grid_of(args.rows) if stage in ("sweep", "walk_forward") else None
    baseline = peak_rss_mb()
    started = time.perf_counter()
    detail = {}
    if stage == "sweep":
        from orb_pipeline.results import schema
        from orb_pipeline.sweeps.assets import result_rows
        from orb_pipeline.sweeps.grid import chunk_of

        results.ensure_tables()
        for index in range(args.chunks):
            metrics = engine.sweep(series, sessions, chunk_of(grid, index, args.chunks))
            rows = result_rows(
                metrics, TICKER, window.window_start, window.window_end, DATA_VERSION, "bench"
            )
            results.upsert(schema.results, rows)
        detail = {"backtests": grid.height}
    elif stage == "leaderboard":
        from orb_pipeline.results.leaderboard_run import build_leaderboard

        board = build_leaderboard(results, cache, window, run_id="bench")
        detail = {"leaders": board.top.height, "ledger_trades": board.ledger_trades}
    elif stage == "walk_forward":
        from orb_pipeline.validation.config import WalkForwardConfig
        from orb_pipeline.validation.walk_forward_run import run_walk_forward

        config = WalkForwardConfig(folds=args.folds)
        run = run_walk_forward(results, cache, window, grid, config, run_id="bench")
        detail = {
            "folds": run.folds,
            "blocks": run.blocks,
            "rows_per_block": run.rows_per_block,
            "rows_stored": sum(run.stored.values()),
            "complete": run.stored == run.expected,
            "oos_total_profit": run.run_row["oos_total_profit"],
        }
    else:
        from orb_pipeline.validation import schema
        from orb_pipeline.validation.monte_carlo_run import run_monte_carlo

        results.ensure_tables(schema.monte_carlo)  # as the monte_carlo asset does first
        run_monte_carlo(
            results,
            cache,
            TICKER,
            window.window_start,
            window.window_end,
            top=10,
            samples=10_000,
            seed=0,
            run_id="bench",
        )
    seconds = time.perf_counter() - started
    results.dispose()
    print(
        json.dumps(
            {"baseline_mb": baseline, "peak_mb": peak_rss_mb(), "seconds": seconds, **detail},
            default=str,
        )
    )


def run_child(stage: str, args, database: str, cache: str) -> dict:
    command = [sys.executable, "-m", "benchmarks.big_grid", "--child", stage]
    command += ["--rows", str(args.rows), "--sessions", str(args.sessions)]
    command += ["--ticks", str(args.ticks), "--chunks", str(args.chunks)]
    command += ["--database", database, "--cache", cache]
    if args.folds:
        command += ["--folds", str(args.folds)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"stage {stage} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["process_seconds"] = time.perf_counter() - started
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000, help="grid rows")
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--ticks", type=int, default=2_000, help="ticks per session")
    parser.add_argument("--chunks", type=int, default=50, help="sweep chunks")
    parser.add_argument(
        "--folds", type=int, default=None, help="walk_forward folds (default: as many as fit)"
    )
    parser.add_argument("--child", choices=STAGES)
    parser.add_argument("--database", default="")
    parser.add_argument("--cache", default="")
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated subset")
    args = parser.parse_args()
    if args.child:
        child(args.child, args)
        return

    import pymysql

    from orb_pipeline.validation.runner import STATS_BLOCK_BYTES
    from orb_pipeline_tests import services

    mysql = services.mysql_settings()
    admin = pymysql.connect(**{k: v for k, v in mysql.items() if k != "database"}, autocommit=True)
    database = "orb_bench_big_" + uuid.uuid4().hex[:10]
    admin.cursor().execute("CREATE DATABASE `" + database + "`")
    print(f"load average before: {os.getloadavg()}")
    print(
        f"grid {args.rows:,} rows, window {args.sessions} synthetic sessions x {args.ticks:,} "
        f"ticks, sweep in {args.chunks} chunks, walk_forward block budget "
        f"{STATS_BLOCK_BYTES / 2**20:.0f} MiB, results in MariaDB {database} "
        f"({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)"
    )
    try:
        with tempfile.TemporaryDirectory(prefix="orb_bench_big_") as cache:
            for stage in args.stages.split(","):
                figures = run_child(stage, args, database, cache)
                added = figures["peak_mb"] - figures["baseline_mb"]
                extra = {
                    k: v
                    for k, v in figures.items()
                    if k not in ("peak_mb", "baseline_mb", "seconds", "process_seconds")
                }
                print(
                    f"{stage:13} peak RSS {figures['peak_mb']:7,.0f} MB (baseline "
                    f"{figures['baseline_mb']:,.0f} MB, +{added:,.0f} MB = "
                    f"{added * 2**20 / args.rows:,.0f} bytes per backtest of the grid), "
                    f"{figures['seconds']:,.1f} s ({figures['process_seconds']:,.1f} s with the "
                    f"process start and warm-up) {json.dumps(extra) if extra else ''}",
                    flush=True,
                )
    finally:
        admin.cursor().execute("DROP DATABASE IF EXISTS `" + database + "`")
        admin.close()
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
