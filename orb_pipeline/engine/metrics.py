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
ACC_GROSS = 9  # sum of gross trade profits (before costs), units
ACC_MAX_DRAWDOWN = 10  # units, >= 0 (from the per-session nets)
ACC_LONGEST_DRAWDOWN = 11  # sessions (from the per-session nets)
N_ACC = 12

# Per-session statistics of one combination (session_stats and the kernels' per-session output):
# int64 columns ...
(
    STAT_NET,
    STAT_TRADES,
    STAT_STOPS,
    STAT_WINNING_TRADES,
    STAT_WIN_UNITS,
    STAT_LOSS_UNITS,
    STAT_HOLDING,
    STAT_GROSS,
) = range(8)
N_STAT = 8
# ... and float64 columns: sums over the session's trades (in trade order) of the net profit in
# percent of the entry price and of the net profit in R-multiples (NaN when a stop distance is 0).
FSTAT_RETURN, FSTAT_R = range(2)
N_FSTAT = 2

# Float metrics of a combination's per-session series (``session_series_metrics_nb``).
SERIES_SHARPE, SERIES_SORTINO, SERIES_SKEWNESS, SERIES_KURTOSIS, SERIES_RETURN, SERIES_R = range(6)
N_SERIES = 6

SQRT_252 = math.sqrt(252.0)
SESSIONS_PER_YEAR = 252.0

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
    "gross_profit",
    "expectancy",
    "return_percent",
    "profit_r",
    "sortino",
    "calmar",
    "exposure",
    "longest_drawdown_sessions",
    "pnl_skewness",
    "pnl_kurtosis",
)


@njit(cache=True)
def session_series_metrics_nb(net, returns, r_multiples, out):
    """Metrics of one combination's per-session series, sessions in chronological order.

    ``net`` (int64 units), ``returns`` / ``r_multiples`` (float64 per-session sums, see
    ``FSTAT_*``). Fills ``out`` (``SERIES_*``, float64) and returns ``(max drawdown in units,
    longest drawdown in sessions)``. Definitions: docs/SEMANTICS_EXTENSIONS.md section 5.

    - drawdown: the cumulative net against its running peak, the peak starting at 0; the longest
      drawdown is the longest run of consecutive sessions whose cumulative net is below the peak.
    - Sharpe: mean / sample standard deviation (n - 1) * sqrt(252); 0 when n < 2 or no deviation.
    - Sortino: mean / sqrt(mean of min(net, 0)**2) * sqrt(252); NaN when no session lost.
    - skewness m3 / m2**1.5 and (non-excess) kurtosis m4 / m2**2 with central moments
      ``m_k = mean((net - mean)**k)``; 0 and 3 when n < 2 or m2 = 0.
    - return / R: sums of ``returns`` / ``r_multiples`` in session order.
    """
    n = net.shape[0]
    cumulative = np.int64(0)
    peak = np.int64(0)
    drawdown = np.int64(0)
    run = np.int64(0)
    longest = np.int64(0)
    total = np.int64(0)
    return_sum = 0.0
    r_sum = 0.0
    downside = 0.0
    for i in range(n):
        cumulative += net[i]
        total += net[i]
        if cumulative > peak:
            peak = cumulative
        if peak - cumulative > drawdown:
            drawdown = peak - cumulative
        if cumulative < peak:
            run += 1
            if run > longest:
                longest = run
        else:
            run = 0
        if net[i] < 0:
            downside += float(net[i]) * float(net[i])
        return_sum += returns[i]
        r_sum += r_multiples[i]
    out[SERIES_RETURN] = return_sum
    out[SERIES_R] = r_sum
    out[SERIES_SHARPE] = 0.0
    out[SERIES_SORTINO] = np.nan
    out[SERIES_SKEWNESS] = 0.0
    out[SERIES_KURTOSIS] = 3.0
    if n == 0:
        return drawdown, longest
    mean = total / n
    if downside > 0.0:
        out[SERIES_SORTINO] = mean / np.sqrt(downside / n) * SQRT_252
    if n < 2:
        return drawdown, longest
    squares = 0.0
    cubes = 0.0
    fourths = 0.0
    for i in range(n):
        deviation = net[i] - mean
        square = deviation * deviation
        squares += square
        cubes += square * deviation
        fourths += square * square
    if squares == 0.0:
        return drawdown, longest
    out[SERIES_SHARPE] = mean / np.sqrt(squares / (n - 1)) * SQRT_252
    m2 = squares / n
    out[SERIES_SKEWNESS] = (cubes / n) / (m2 * np.sqrt(m2))
    out[SERIES_KURTOSIS] = (fourths / n) / (m2 * m2)
    return drawdown, longest


@njit(cache=True, parallel=True)
def session_series_columns_nb(nets, returns, r_multiples):
    """``session_series_metrics_nb`` of every column of ``nets`` (``(n_sessions, n_columns)``
    int64, sessions in chronological order) and of the matching columns of ``returns`` /
    ``r_multiples`` (float64, same shape): ``(max drawdown, longest drawdown, series metrics
    (n_columns, N_SERIES))``. Columns are copied in blocks to contiguous rows and run through
    the scalar routine, so the arithmetic is exactly that of a single combination."""
    n, n_columns = nets.shape
    drawdown = np.zeros(n_columns, dtype=np.int64)
    longest = np.zeros(n_columns, dtype=np.int64)
    series = np.zeros((n_columns, N_SERIES), dtype=np.float64)
    width = 64
    for block in prange((n_columns + width - 1) // width):
        lo = block * width
        hi = min(lo + width, n_columns)
        block_net = np.empty((hi - lo, n), dtype=np.int64)
        block_return = np.empty((hi - lo, n), dtype=np.float64)
        block_r = np.empty((hi - lo, n), dtype=np.float64)
        for i in range(n):
            for j in range(lo, hi):
                block_net[j - lo, i] = nets[i, j]
                block_return[j - lo, i] = returns[i, j]
                block_r[j - lo, i] = r_multiples[i, j]
        for j in range(lo, hi):
            drawdown[j], longest[j] = session_series_metrics_nb(
                block_net[j - lo], block_return[j - lo], block_r[j - lo], series[j]
            )
    return drawdown, longest, series


def metrics_frame(
    grid: pl.DataFrame, acc: np.ndarray, series: np.ndarray, n_sessions: int, session_seconds: int
) -> pl.DataFrame:
    """The grid's columns plus the metric columns, one row per combination in grid order.

    ``acc``: ``ACC_*`` accumulators, ``series``: ``SERIES_*`` metrics of the per-session series,
    over ``n_sessions`` sessions that last ``session_seconds`` in total (the exposure's
    denominator). Null: ``profit_factor`` without a losing trade, ``sortino`` without a losing
    session, ``calmar`` without a drawdown, ``profit_r`` when a trade's stop distance was 0.
    """
    trades = acc[:, ACC_TRADES]
    days = acc[:, ACC_DAYS_TRADED]
    loss = acc[:, ACC_LOSS_UNITS]
    net = acc[:, ACC_NET]
    drawdown = acc[:, ACC_MAX_DRAWDOWN]
    with np.errstate(divide="ignore", invalid="ignore"):
        win_rate = np.where(days > 0, 100.0 * acc[:, ACC_WINNING_DAYS] / np.maximum(days, 1), 0.0)
        trade_win_rate = np.where(
            trades > 0, 100.0 * acc[:, ACC_WINNING_TRADES] / np.maximum(trades, 1), 0.0
        )
        holding = np.where(trades > 0, acc[:, ACC_HOLDING] / np.maximum(trades, 1), 0.0)
        profit_factor = np.where(
            loss < 0, acc[:, ACC_WIN_UNITS] / np.where(loss < 0, -loss, 1), np.nan
        )
        expectancy = np.where(trades > 0, net / 10000.0 / np.maximum(trades, 1), 0.0)
        calmar = np.where(
            drawdown > 0,
            net / max(n_sessions, 1) * SESSIONS_PER_YEAR / np.maximum(drawdown, 1),
            np.nan,
        )
        exposure = (
            acc[:, ACC_HOLDING] / session_seconds if session_seconds > 0 else np.zeros(len(acc))
        )
    metrics = pl.DataFrame(
        {
            "total_profit": net / 10000.0,
            "trades": trades,
            "stops": acc[:, ACC_STOPS],
            "days_traded": days,
            "win_rate_percent": win_rate,
            "trade_win_rate_percent": trade_win_rate,
            "average_holding_period": holding,
            "max_drawdown": drawdown / 10000.0,
            "sharpe": series[:, SERIES_SHARPE],
            "profit_factor": profit_factor,
            "gross_profit": acc[:, ACC_GROSS] / 10000.0,
            "expectancy": expectancy,
            "return_percent": series[:, SERIES_RETURN],
            "profit_r": series[:, SERIES_R],
            "sortino": series[:, SERIES_SORTINO],
            "calmar": calmar,
            "exposure": np.asarray(exposure, dtype=np.float64),
            "longest_drawdown_sessions": acc[:, ACC_LONGEST_DRAWDOWN],
            "pnl_skewness": series[:, SERIES_SKEWNESS],
            "pnl_kurtosis": series[:, SERIES_KURTOSIS],
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
            "gross_profit": pl.Float64,
            "expectancy": pl.Float64,
            "return_percent": pl.Float64,
            "profit_r": pl.Float64,
            "sortino": pl.Float64,
            "calmar": pl.Float64,
            "exposure": pl.Float64,
            "longest_drawdown_sessions": pl.Int64,
            "pnl_skewness": pl.Float64,
            "pnl_kurtosis": pl.Float64,
        },
    ).with_columns(pl.col("profit_factor", "profit_r", "sortino", "calmar").fill_nan(None))
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
    acc[combo, ACC_GROSS] += stats[row, STAT_GROSS]
