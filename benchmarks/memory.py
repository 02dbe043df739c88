"""Benchmark: peak memory of a sweep and of walk_forward's per-session statistics by grid size.

Run from the repository root: ``.venv/bin/python -m benchmarks.memory [--rows 1000000]
[--stats-rows 200000] [--sessions 63] [--ticks 4000] [--chunks 16]``

Each measurement runs in a fresh subprocess and prints its peak RSS (``VmHWM``) next to the same
process's baseline (the window generated, numba warmed up on a 1-row grid), so the difference is
what the grid adds:
- ``sweep``: ``engine.sweep`` + ``backtest_ids`` + the results rows chunk by chunk over a grid of
  ``--rows`` rows cut into ``--chunks`` chunks, as a ``sweep_results`` run over all of a ticker's
  chunks does (the upsert is not included);
- ``session_stats``: ``engine.session_stats`` over ``--stats-rows`` rows (what ``walk_forward``
  holds per block), then bytes per backtest and session against the engine's count.
Nothing is asserted: figures are printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys


def peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def grid_of(rows: int):
    """A grid of at least ``rows`` rows (stop x limit distances widened to reach it)."""
    from orb_pipeline import engine

    side = max(1, int((rows / (3 * 9 * 2)) ** 0.5) + 1)
    grid = engine.make_grid(
        range_seconds=[30, 60],
        stop_distance=[round(0.01 * (i + 1), 2) for i in range(side)],
        stop_count_limit=[1, 2, 3],
        stop_cooloff_period=list(range(0, 270, 30)),
        limit_distance=[round(0.02 * (i + 1), 2) for i in range(side)],
    )
    return grid.head(rows)


def child(stage: str, rows: int, sessions: int, ticks: int, chunks: int) -> None:
    from benchmarks.walk_forward import synthetic_window
    from orb_pipeline import engine
    from orb_pipeline.sweeps.assets import result_rows
    from orb_pipeline.sweeps.grid import chunk_of

    series, table = synthetic_window(sessions, ticks)
    engine.sweep(series, table, grid_of(1))
    engine.session_stats(series, table, grid_of(1))
    baseline = peak_rss_mb()
    grid = grid_of(rows)
    if stage == "sweep":
        for index in range(chunks):
            part = chunk_of(grid, index, chunks)
            metrics = engine.sweep(series, table, part)
            result_rows(metrics, "BENCH", dt.date(2024, 1, 2), dt.date(2024, 4, 1), "v", "run")
    else:
        engine.session_stats(series, table, grid)
    print(json.dumps({"baseline_mb": baseline, "peak_mb": peak_rss_mb(), "rows": grid.height}))


def measure(stage: str, rows: int, args) -> dict:
    command = [sys.executable, "-m", "benchmarks.memory", "--child", stage, "--rows", str(rows)]
    command += ["--sessions", str(args.sessions), "--ticks", str(args.ticks)]
    command += ["--chunks", str(args.chunks)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="sweep grid rows")
    parser.add_argument("--stats-rows", type=int, default=200_000, help="session_stats rows")
    parser.add_argument("--sessions", type=int, default=63)
    parser.add_argument("--ticks", type=int, default=4_000, help="ticks per session")
    parser.add_argument("--chunks", type=int, default=16)
    parser.add_argument("--child", choices=["sweep", "session_stats"])
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rows, args.sessions, args.ticks, args.chunks)
        return
    from orb_pipeline.engine import SESSION_STATS_BYTES_PER_CELL

    sweep = measure("sweep", args.rows, args)
    stats = measure("session_stats", args.stats_rows, args)
    print(f"window: {args.sessions} sessions x {args.ticks:,} ticks (synthetic)")
    added = sweep["peak_mb"] - sweep["baseline_mb"]
    print(
        f"sweep of {sweep['rows']:,} rows in {args.chunks} chunks: peak {sweep['peak_mb']:.0f} MB "
        f"(baseline {sweep['baseline_mb']:.0f} MB, +{added:.0f} MB, "
        f"{added * 2**20 / sweep['rows']:.0f} bytes per backtest)"
    )
    added = stats["peak_mb"] - stats["baseline_mb"]
    cells = stats["rows"] * args.sessions
    print(
        f"session_stats of {stats['rows']:,} rows: peak {stats['peak_mb']:.0f} MB (baseline "
        f"{stats['baseline_mb']:.0f} MB, +{added:.0f} MB, {added * 2**20 / cells:.0f} bytes per "
        f"backtest and session; the engine's count {SESSION_STATS_BYTES_PER_CELL}; walk_forward streams "
        "them in blocks: benchmarks.big_grid)"
    )


if __name__ == "__main__":
    main()
