"""Benchmark of the sweep engine against the naive per-tick scan, side by side in one run.

Not on the engine's runtime import path: ``orb_pipeline.engine`` never imports this package or its
naive kernels (``naive.py``); only the benchmark and the tests do.

    .venv/bin/python -m orb_pipeline.engine.bench            # a year, default grid
    .venv/bin/python -m orb_pipeline.engine.bench --quick    # seconds; used by a smoke test

Data: seeded synthetic 1-second bars of one ticker (252 sessions of 6.5 h, a random walk in
cents around $250 with a print in most seconds), compressed with ``compress_series`` (about 20k
ticks per session). Prints: sweep seconds and backtests/s, the naive kernel's seconds and the ratio
(same threads, same process), whether both give identical frames, the first sweep in a fresh
process with a warm on-disk numba cache, and peak RSS. Threads: ``NUMBA_NUM_THREADS``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import polars as pl

from orb_pipeline.engine._cache import engine_cache_dir

with engine_cache_dir():  # the naive kernels inline the engine's rules: cache them alike
    from orb_pipeline.engine.bench.naive import sweep_naive


def synthetic_window(n_sessions: int, seconds: int, *, seed: int = 20240102):
    """(series, sessions): compressed synthetic ticks and the session table (UTC seconds)."""
    from orb_pipeline.engine import compress_series

    rng = np.random.default_rng(seed)
    dates, opens = [], []
    day = dt.date(2024, 1, 2)
    while len(dates) < n_sessions:
        if day.weekday() < 5:
            dates.append(day)
            midnight = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())
            opens.append(midnight + 14 * 3600 + 30 * 60)
        day += dt.timedelta(days=1)
    frames = []
    price = 250.0
    for date, open_utc in zip(dates, opens, strict=True):
        has_print = rng.random(seconds + 1) < 0.99
        has_print[0] = True
        steps = np.rint(rng.normal(0.0, 2.5, seconds + 1)).astype(np.int64)  # cents
        cents = int(round(price * 100)) + np.cumsum(steps)
        cents = np.maximum(cents, 100)
        offsets = np.flatnonzero(has_print)
        frames.append(
            pl.DataFrame(
                {
                    "session_date": pl.Series([date] * len(offsets), dtype=pl.Date),
                    "timestamp_utc": open_utc + offsets.astype(np.int64),
                    "close": cents[offsets] / 100.0,
                }
            )
        )
        price = cents[-1] / 100.0
    bars = pl.concat(frames)
    sessions = pl.DataFrame(
        {"session_date": dates, "open_utc": opens, "close_utc": [o + seconds for o in opens]},
        schema={"session_date": pl.Date, "open_utc": pl.Int64, "close_utc": pl.Int64},
    )
    return compress_series(bars), sessions


def quick_grid():
    from orb_pipeline.engine import make_grid

    return make_grid(
        range_seconds=[30, 60],
        stop_distance=[0.1, 0.5, 1.0],
        stop_count_limit=[1, 3],
        stop_cooloff_period=[30, 120],
        limit_distance=[1.0, 5.0],
    )


def _peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM: unlike ru_maxrss, not inherited through exec)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _child(directory: str, quick: bool) -> None:
    """Fresh process: import the engine and run one sweep on the saved window (warm disk cache)."""
    started = time.perf_counter()
    from orb_pipeline.engine import default_grid, sweep

    series = pl.read_parquet(os.path.join(directory, "series.parquet"))
    sessions = pl.read_parquet(os.path.join(directory, "sessions.parquet"))
    grid = quick_grid() if quick else default_grid()
    loaded = time.perf_counter()
    sweep(series, sessions, grid)
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "import_and_load_s": loaded - started,
                "first_sweep_s": done - loaded,
                "peak_rss_mb": _peak_rss_mb(),
            }
        )
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny window and grid (smoke test)")
    parser.add_argument("--sessions", type=int, default=None, help="sessions (default 252)")
    parser.add_argument("--repeat", type=int, default=3, help="timed sweeps (best is reported)")
    parser.add_argument("--skip-naive", action="store_true", help="do not run the naive kernel")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.quick)
        return 0

    import numba

    from orb_pipeline.engine import ENGINE_VERSION, default_grid, sweep

    n_sessions = args.sessions or (3 if args.quick else 252)
    seconds = 1800 if args.quick else 23_400
    grid = quick_grid() if args.quick else default_grid()
    started = time.perf_counter()
    series, sessions = synthetic_window(n_sessions, seconds)
    print(
        f"engine {ENGINE_VERSION}; numba threads {numba.get_num_threads()}; "
        f"{sessions.height} sessions, {series.height:,} ticks after compression "
        f"({series.height / max(sessions.height, 1):,.0f}/session); grid {grid.height:,} "
        f"backtests; data generated in {time.perf_counter() - started:.1f} s"
    )

    warm = time.perf_counter()
    sweep(series.head(1000), sessions, grid)  # compile or load the kernels from the disk cache
    print(f"warm-up (compile or cache load): {time.perf_counter() - warm:.2f} s")
    timings = []
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        fast = sweep(series, sessions, grid)
        timings.append(time.perf_counter() - t0)
    best = min(timings)
    print(
        f"sweep: {best:.3f} s best of {len(timings)} ({', '.join(f'{t:.3f}' for t in timings)}); "
        f"{grid.height / best:,.0f} backtests/s; "
        f"{grid.height * sessions.height / best:,.0f} backtest-sessions/s"
    )

    if not args.skip_naive:
        sweep_naive(series.head(1000), sessions, grid.head(2))  # compile or load
        t0 = time.perf_counter()
        slow = sweep_naive(series, sessions, grid)
        naive_s = time.perf_counter() - t0
        identical = fast.equals(slow)
        print(
            f"naive per-tick scan: {naive_s:.2f} s; speed-up {naive_s / best:,.1f}x; "
            f"identical results: {identical}"
        )
        if not identical:
            print("MISMATCH between sweep and the naive kernel", file=sys.stderr)
            return 1

    with tempfile.TemporaryDirectory() as directory:
        series.write_parquet(os.path.join(directory, "series.parquet"))
        sessions.write_parquet(os.path.join(directory, "sessions.parquet"))
        command = [sys.executable, "-m", "orb_pipeline.engine.bench", "--child", directory]
        if args.quick:
            command.append("--quick")
        package_root = os.path.dirname(
            os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        )
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        child = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
        report = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        f"fresh process, warm disk cache: import+load {report['import_and_load_s']:.2f} s, "
        f"first sweep {report['first_sweep_s']:.3f} s, child peak RSS "
        f"{report['peak_rss_mb']:.0f} MB"
    )
    print(f"peak RSS (this process): {_peak_rss_mb():.0f} MB")
    return 0
