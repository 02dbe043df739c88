"""Benchmark: a 12-fold walk-forward of the default grid over a synthetic year against one full sweep.

Run from the repository root: ``.venv/bin/python -m benchmarks.walk_forward [--sessions 252] [--ticks 6000] [--folds 12]``

Both are timed in the same process after a warm-up (numba compilation excluded), side by side:
- ``sweep``: ``engine.sweep`` over every session once (what a plain sweep costs);
- ``walk-forward``: ``engine.session_stats`` once, then per fold ``engine.aggregate`` over the train
  and test sessions, scores, gaps, promotion flags and the stitched out-of-sample curve.
The issue's target is walk-forward <= about 3x sweep. Prints the figures and the ratio.
Then the Monte Carlo bootstrap: 10 backtests x 10,000 samples over the window's sessions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import polars as pl

from orb_pipeline import engine
from orb_pipeline.engine.units import units_to_dollars
from orb_pipeline.validation.bootstrap import bootstrap
from orb_pipeline.validation.runner import SplitSpec, walk_forward_on_stats


def synthetic_window(sessions: int, ticks_per_session: int, seed: int = 0):
    """A random-walk compressed series: ``sessions`` weekdays from 2024-01-02, 09:30-16:00 New York
    as 14:30-21:00 UTC (no DST: the engine takes open_utc as given), prices on the cent grid with
    consecutive equal prices dropped and the last tick kept. Returns (series, sessions)."""
    rng = np.random.default_rng(seed)
    dates = []
    day = dt.date(2024, 1, 2)
    while len(dates) < sessions:
        if day.weekday() < 5:
            dates.append(day)
        day += dt.timedelta(days=1)
    length = 23_400
    frames = []
    opens = []
    price = 100.0
    for date in dates:
        open_utc = int(
            dt.datetime(date.year, date.month, date.day, 14, 30, tzinfo=dt.UTC).timestamp()
        )
        opens.append(open_utc)
        seconds = np.sort(rng.choice(length + 1, size=ticks_per_session, replace=False))
        seconds[-1] = length
        steps = rng.choice(np.array([-3, -2, -1, 1, 2, 3]), size=ticks_per_session)
        cents = np.round(price * 100) + np.cumsum(steps)
        keep = np.ones(ticks_per_session, dtype=bool)
        keep[1:] = cents[1:] != cents[:-1]
        keep[-1] = True
        price = float(cents[-1]) / 100.0
        frames.append(
            pl.DataFrame(
                {
                    "session_date": [date] * int(keep.sum()),
                    "timestamp_utc": open_utc + seconds[keep].astype(np.int64),
                    "price": cents[keep] / 100.0,
                }
            )
        )
    series = pl.concat(frames).with_columns(pl.col("session_date").cast(pl.Date))
    table = pl.DataFrame(
        {
            "session_date": dates,
            "open_utc": np.asarray(opens, dtype=np.int64),
            "close_utc": np.asarray(opens, dtype=np.int64) + length,
        }
    )
    return series, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=252)
    parser.add_argument(
        "--ticks", type=int, default=6_000, help="ticks per session before compression"
    )
    parser.add_argument("--folds", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=2, help="best of N timings")
    args = parser.parse_args()

    grid = engine.default_grid()
    test_sessions = max(1, args.sessions // (args.folds + 6))
    train_sessions = args.sessions - args.folds * test_sessions
    split = SplitSpec(train_sessions=train_sessions, test_sessions=test_sessions, folds=args.folds)

    warm_series, warm_sessions = synthetic_window(12, 300, seed=1)
    engine.sweep(warm_series, warm_sessions, grid.head(50))
    walk_forward_on_stats(
        engine.session_stats(warm_series, warm_sessions, grid.head(50)),
        SplitSpec(train_sessions=6, test_sessions=2, folds=3),
    )

    series, sessions = synthetic_window(args.sessions, args.ticks)
    print(
        f"window: {args.sessions} sessions, {series.height:,} compressed ticks; grid: {grid.height:,} "
        f"combinations; walk-forward: {args.folds} folds of {train_sessions} train + "
        f"{test_sessions} test sessions"
    )
    sweep_times, stats_times, fold_times = [], [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        engine.sweep(series, sessions, grid)
        sweep_times.append(time.perf_counter() - started)

        started = time.perf_counter()
        stats = engine.session_stats(series, sessions, grid)
        middle = time.perf_counter()
        result = walk_forward_on_stats(stats, split)
        ended = time.perf_counter()
        stats_times.append(middle - started)
        fold_times.append(ended - middle)
    sweep_s = min(sweep_times)
    best = int(np.argmin(np.add(stats_times, fold_times)))
    walk_s = stats_times[best] + fold_times[best]
    print(f"one full sweep:                 {sweep_s:8.3f} s")
    print(
        f"{args.folds}-fold walk-forward:          {walk_s:8.3f} s "
        f"(session_stats {stats_times[best]:.3f} s + folds {fold_times[best]:.3f} s, "
        f"{result.evaluations.height:,} fold x combination rows)"
    )
    print(f"ratio walk-forward / sweep:     {walk_s / sweep_s:8.2f}x  (target <= ~3x)")

    nets = units_to_dollars(stats.net_units[:10])
    bootstrap(nets[0], samples=10, seed=0)  # compile
    started = time.perf_counter()
    for net in nets:
        bootstrap(net, samples=10_000, seed=0)
    seconds = time.perf_counter() - started
    print(
        f"bootstrap, 10 backtests x 10,000 samples x {stats.n_sessions} sessions: {seconds:8.3f} s"
    )


if __name__ == "__main__":
    main()
