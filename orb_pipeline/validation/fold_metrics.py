"""Metrics of every parameter set over a *contiguous* run of sessions, straight from
``engine.SessionStats`` arrays: the fast path of the walk-forward's per-fold aggregation.

Folds are contiguous session ranges, so each fold reads ``stats`` in place (a view, no copy) in one
parallel numba pass per window, instead of gathering seven arrays per call as the general
``engine.aggregate(stats, indices)`` does. Definitions are docs/STRATEGY.md "Figures of one
backtest over a window" (money in
integer units of $0.0001 until reported, drawdown from a starting peak of 0, Sharpe = mean /
sample standard deviation x sqrt(252), 0 when fewer than 2 sessions or no deviation);
``engine.aggregate`` stays the reference and the tests compare the two.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import polars as pl

from orb_pipeline import engine
from orb_pipeline.engine.units import units_to_dollars

SQRT_252 = math.sqrt(252.0)


@numba.njit(cache=True, parallel=True)
def _window_nb(net_units, trades, start, stop):
    combos = net_units.shape[0]
    total = np.zeros(combos, dtype=np.int64)
    drawdown = np.zeros(combos, dtype=np.int64)
    trade_count = np.zeros(combos, dtype=np.int64)
    days_traded = np.zeros(combos, dtype=np.int64)
    winning_days = np.zeros(combos, dtype=np.int64)
    sharpe = np.zeros(combos, dtype=np.float64)
    n = stop - start
    for c in numba.prange(combos):
        cumulative = np.int64(0)
        peak = np.int64(0)
        worst = np.int64(0)
        count = np.int64(0)
        traded = np.int64(0)
        winning = np.int64(0)
        for s in range(start, stop):
            value = net_units[c, s]
            cumulative += value
            if cumulative > peak:
                peak = cumulative
            if peak - cumulative > worst:
                worst = peak - cumulative
            count += trades[c, s]
            if trades[c, s] > 0:
                traded += 1
            if value > 0:
                winning += 1
        total[c] = cumulative
        drawdown[c] = worst
        trade_count[c] = count
        days_traded[c] = traded
        winning_days[c] = winning
        if n >= 2:
            mean = cumulative / n
            squares = 0.0
            for s in range(start, stop):
                deviation = net_units[c, s] - mean
                squares += deviation * deviation
            if squares != 0.0:
                sharpe[c] = mean / np.sqrt(squares / (n - 1)) * SQRT_252
    return total, drawdown, trade_count, days_traded, winning_days, sharpe


def window_metrics(stats: engine.SessionStats, start: int, stop: int) -> pl.DataFrame:
    """``total_profit``, ``max_drawdown`` ($/share), ``win_rate_percent``, ``trades``,
    ``days_traded`` and ``sharpe`` of every combination (grid order) over sessions
    ``[start, stop)`` of ``stats``."""
    if not 0 <= start < stop <= stats.n_sessions:
        raise ValueError(f"session range [{start}, {stop}) is outside [0, {stats.n_sessions})")
    total, drawdown, trades, days, winning, sharpe = _window_nb(
        stats.net_units, stats.trades, start, stop
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        win_rate = np.where(days > 0, 100.0 * winning / np.maximum(days, 1), 0.0)
    return pl.DataFrame(
        {
            "total_profit": units_to_dollars(total),
            "max_drawdown": units_to_dollars(drawdown),
            "win_rate_percent": win_rate,
            "trades": trades,
            "days_traded": days,
            "sharpe": sharpe,
        }
    )


def contiguous_range(indices: np.ndarray) -> tuple[int, int] | None:
    """``(start, stop)`` when ``indices`` are ``start, start+1, ..., stop-1``; else ``None``."""
    if len(indices) == 0:
        return None
    start, stop = int(indices[0]), int(indices[-1]) + 1
    if stop - start != len(indices) or not np.array_equal(indices, np.arange(start, stop)):
        return None
    return start, stop
