"""Compile and cache the engine's numba kernels: ``python -m orb_pipeline.orchestration.warmup``.

The Dockerfile runs this at build time with ``NUMBA_CACHE_DIR`` set, so web server, daemon and
every run task start with compiled kernels instead of paying numba's compile time per task. It
runs a tiny sweep (two synthetic sessions, a 2 x 2 x 1 x 1 x 2 grid) through the public engine API
and prints where the cache went and how many files it holds.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl


def tiny_window() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Two sessions of one-second ticks, a random walk in cents (seeded, deterministic)."""
    rng = np.random.default_rng(7)
    series_parts, session_rows = [], []
    for day in (dt.date(2024, 1, 2), dt.date(2024, 1, 3)):
        open_utc = int(dt.datetime(day.year, day.month, day.day, 14, 30, tzinfo=dt.UTC).timestamp())
        seconds = 3_600
        prices = 100.0 + np.round(np.cumsum(rng.choice([-0.01, 0.0, 0.01], size=seconds)), 2)
        series_parts.append(
            pl.DataFrame(
                {
                    "session_date": [day] * seconds,
                    "timestamp_utc": np.arange(open_utc, open_utc + seconds, dtype=np.int64),
                    "price": prices,
                }
            )
        )
        session_rows.append(
            {"session_date": day, "open_utc": open_utc, "close_utc": open_utc + seconds}
        )
    sessions = pl.DataFrame(
        session_rows, schema={"session_date": pl.Date, "open_utc": pl.Int64, "close_utc": pl.Int64}
    )
    return pl.concat(series_parts), sessions


def tiny_grid():
    """The small grid whose sweep compiles every kernel specialization the pipeline uses."""
    from orb_pipeline import engine

    return engine.make_grid(
        range_seconds=[30, 60],
        stop_distance=[0.05, 0.1],
        stop_count_limit=1,
        stop_cooloff_period=30,
        limit_distance=[0.1, 0.2],
    )


def warm_up_statistics(stats) -> None:
    """Compile the leaderboard's and validation's kernels (deflated Sharpe, PBO, bootstrap,
    walk-forward fold metrics) on ``stats``, the tiny window's per-session results."""
    from orb_pipeline.statistics.overfitting import (
        deflated_sharpe_ratios,
        probability_of_backtest_overfitting,
    )
    from orb_pipeline.validation.bootstrap import bootstrap
    from orb_pipeline.validation.fold_metrics import window_metrics

    window_metrics(stats, 0, 1)
    pnl = np.random.default_rng(7).normal(size=(8, 3))
    probability_of_backtest_overfitting(pnl, 2)
    deflated_sharpe_ratios(np.array([0.1, 0.2]), 2, 0.01, 8, np.zeros(2), np.full(2, 3.0))
    bootstrap(pnl[:, 0], samples=8)


def warm_up() -> int:
    from orb_pipeline import engine
    from orb_pipeline.results.ids import backtest_ids

    started = time.perf_counter()
    series, sessions = tiny_window()
    grid = tiny_grid()
    results = engine.sweep(series, sessions, grid)
    warm_up_statistics(engine.session_stats(series, sessions, grid))
    engine.ledger(series, sessions, grid.row(0, named=True))
    engine.opening_ranges(series, sessions, 30)
    engine.compress_series(series.rename({"price": "close"}))
    backtest_ids(
        grid,
        "WARM",
        sessions["session_date"].min(),
        sessions["session_date"].max(),
        engine.ENGINE_VERSION,
    )
    cache_dir = os.environ.get("NUMBA_CACHE_DIR")
    cached = len(list(Path(cache_dir).rglob("*.nbi"))) if cache_dir else 0
    print(
        f"numba warm-up: {len(results)} backtests in {time.perf_counter() - started:.1f} s; "
        f"cache {cache_dir or '(NUMBA_CACHE_DIR unset: next to the sources)'}: {cached} kernels"
    )
    return len(results)


class BackgroundWarmUp:
    """This module's warm-up in a second process (numba's cache is shared through
    ``NUMBA_CACHE_DIR``), so a command compiles the kernels while it does other work."""

    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orb_pipeline.orchestration.warmup"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.started = time.perf_counter()

    def finish(self) -> tuple[str, float]:
        """Wait for the compile; returns (its report line, seconds waited here)."""
        waited = time.perf_counter()
        output, _ = self.process.communicate()
        waited = time.perf_counter() - waited
        lines = [line for line in output.splitlines() if line.startswith("numba warm-up")]
        if self.process.returncode == 0 and lines:
            return lines[-1], waited
        return (
            f"numba warm-up failed (exit {self.process.returncode}); the sweeps compile instead",
            waited,
        )

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


if __name__ == "__main__":
    sys.exit(0 if warm_up() > 0 else 1)
