"""Metrics of one backtest over a window of sessions (docs/STRATEGY.md, "Figures of one backtest
over a window").

Kernels reduce each combination to integer accumulators (``ACC_*`` columns of an int64
``(n_combos, N_ACC)`` array, money in units of $0.0001) plus its Sharpe ratio; ``metrics_frame``
turns them into the reported columns. ``sweep`` and ``aggregate`` share both steps, so they give
identical numbers for the same sessions.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from numba import njit, prange

# Per-combination accumulators (int64 columns).
ACC_NET = 0  # sum of net trade profits, units
ACC_TRADES = 1
ACC_STOPS = 2
ACC_DAYS_TRADED = 3  # sessions with >= 1 trade
ACC_WINNING_DAYS = 4  # sessions with net > 0
ACC_WINNING_TRADES = 5  # trades with net profit > 0
ACC_WIN_UNITS = 6  # sum of net profits of winning trades
ACC_LOSS_UNITS = 7  # sum of net profits of losing trades (<= 0)
ACC_HOLDING = 8  # sum of holding periods, seconds
ACC_MAX_DRAWDOWN = 9  # units, >= 0
N_ACC = 10

# Per-session statistics of one combination (session_stats and the kernels' per-session output).
(
    STAT_NET,
    STAT_TRADES,
    STAT_STOPS,
    STAT_WINNING_TRADES,
    STAT_WIN_UNITS,
    STAT_LOSS_UNITS,
    STAT_HOLDING,
) = range(7)
N_STAT = 7

SQRT_252 = math.sqrt(252.0)

METRIC_COLUMNS = (
    "total_profit",
    "trades",
    "stops",
    "days_traded",
    "win_rate_percent",
    "trade_win_rate_percent",
    "average_holding_period",
    "max_drawdown",
    "sharpe",
    "profit_factor",
)


@njit(cache=True)
def drawdown_sharpe_nb(net):
    """(max drawdown in units, annualized Sharpe) of per-session nets in chronological order.

    Drawdown: largest fall of the cumulative net from its running peak, the peak starting at 0.
    Sharpe: mean / sample standard deviation (n - 1) * sqrt(252); 0 when n < 2 or the deviation
    is 0 (computed in units, which the ratio does not depend on).
    """
    n = net.shape[0]
    cumulative = np.int64(0)
    peak = np.int64(0)
    drawdown = np.int64(0)
    total = np.int64(0)
    for i in range(n):
        cumulative += net[i]
        total += net[i]
        if cumulative > peak:
            peak = cumulative
        if peak - cumulative > drawdown:
            drawdown = peak - cumulative
    if n < 2:
        return drawdown, 0.0
    mean = total / n
    squares = 0.0
    for i in range(n):
        deviation = net[i] - mean
        squares += deviation * deviation
    if squares == 0.0:
        return drawdown, 0.0
    return drawdown, mean / np.sqrt(squares / (n - 1)) * SQRT_252


@njit(cache=True, parallel=True)
def drawdown_sharpe_columns_nb(nets):
    """``drawdown_sharpe_nb`` of every column of ``nets`` (``(n_sessions, n_columns)`` int64,
    sessions in chronological order), with the same arithmetic in the same order."""
    n, n_columns = nets.shape
    drawdown = np.zeros(n_columns, dtype=np.int64)
    sharpe = np.zeros(n_columns, dtype=np.float64)
    width = 64
    for block in prange((n_columns + width - 1) // width):
        lo = block * width
        hi = min(lo + width, n_columns)
        cumulative = np.zeros(hi - lo, dtype=np.int64)
        peak = np.zeros(hi - lo, dtype=np.int64)
        total = np.zeros(hi - lo, dtype=np.int64)
        for i in range(n):
            for j in range(lo, hi):
                cumulative[j - lo] += nets[i, j]
                total[j - lo] += nets[i, j]
                if cumulative[j - lo] > peak[j - lo]:
                    peak[j - lo] = cumulative[j - lo]
                if peak[j - lo] - cumulative[j - lo] > drawdown[j]:
                    drawdown[j] = peak[j - lo] - cumulative[j - lo]
        if n < 2:
            continue
        mean = np.zeros(hi - lo, dtype=np.float64)
        squares = np.zeros(hi - lo, dtype=np.float64)
        for j in range(lo, hi):
            mean[j - lo] = total[j - lo] / n
        for i in range(n):
            for j in range(lo, hi):
                deviation = nets[i, j] - mean[j - lo]
                squares[j - lo] += deviation * deviation
        for j in range(lo, hi):
            if squares[j - lo] != 0.0:
                sharpe[j] = mean[j - lo] / np.sqrt(squares[j - lo] / (n - 1)) * SQRT_252
    return drawdown, sharpe


def metrics_frame(grid: pl.DataFrame, acc: np.ndarray, sharpe: np.ndarray) -> pl.DataFrame:
    """The grid's columns plus the metric columns, one row per combination in grid order."""
    trades = acc[:, ACC_TRADES]
    days = acc[:, ACC_DAYS_TRADED]
    loss = acc[:, ACC_LOSS_UNITS]
    with np.errstate(divide="ignore", invalid="ignore"):
        win_rate = np.where(days > 0, 100.0 * acc[:, ACC_WINNING_DAYS] / np.maximum(days, 1), 0.0)
        trade_win_rate = np.where(
            trades > 0, 100.0 * acc[:, ACC_WINNING_TRADES] / np.maximum(trades, 1), 0.0
        )
        holding = np.where(trades > 0, acc[:, ACC_HOLDING] / np.maximum(trades, 1), 0.0)
        profit_factor = acc[:, ACC_WIN_UNITS] / np.where(loss < 0, -loss, 1)
    metrics = pl.DataFrame(
        {
            "total_profit": acc[:, ACC_NET] / 10000.0,
            "trades": acc[:, ACC_TRADES],
            "stops": acc[:, ACC_STOPS],
            "days_traded": days,
            "win_rate_percent": win_rate,
            "trade_win_rate_percent": trade_win_rate,
            "average_holding_period": holding,
            "max_drawdown": acc[:, ACC_MAX_DRAWDOWN] / 10000.0,
            "sharpe": np.asarray(sharpe, dtype=np.float64),
            "profit_factor": profit_factor,
        },
        schema={
            "total_profit": pl.Float64,
            "trades": pl.Int64,
            "stops": pl.Int64,
            "days_traded": pl.Int64,
            "win_rate_percent": pl.Float64,
            "trade_win_rate_percent": pl.Float64,
            "average_holding_period": pl.Float64,
            "max_drawdown": pl.Float64,
            "sharpe": pl.Float64,
            "profit_factor": pl.Float64,
        },
    ).with_columns(
        pl.when(pl.Series(loss < 0))
        .then(pl.col("profit_factor"))
        .otherwise(None)
        .alias("profit_factor")
    )
    base = grid.drop([c for c in METRIC_COLUMNS if c in grid.columns])
    return pl.concat([base, metrics], how="horizontal")


@njit(cache=True, inline="always")
def accumulate_session_nb(acc, combo, stats, row):
    """Add one session's statistics (``stats[row]``, ``STAT_*`` columns) to ``acc[combo]``."""
    acc[combo, ACC_NET] += stats[row, STAT_NET]
    acc[combo, ACC_TRADES] += stats[row, STAT_TRADES]
    acc[combo, ACC_STOPS] += stats[row, STAT_STOPS]
    if stats[row, STAT_TRADES] > 0:
        acc[combo, ACC_DAYS_TRADED] += 1
    if stats[row, STAT_NET] > 0:
        acc[combo, ACC_WINNING_DAYS] += 1
    acc[combo, ACC_WINNING_TRADES] += stats[row, STAT_WINNING_TRADES]
    acc[combo, ACC_WIN_UNITS] += stats[row, STAT_WIN_UNITS]
    acc[combo, ACC_LOSS_UNITS] += stats[row, STAT_LOSS_UNITS]
    acc[combo, ACC_HOLDING] += stats[row, STAT_HOLDING]
