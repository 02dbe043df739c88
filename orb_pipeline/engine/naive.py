"""Naive kernels: the per-session state machine scanning every tick, for every combination.

This is the straightforward reading of ORB_SEMANTICS.md ("The per-session state machine") and the
yardstick of the benchmark: O(ticks x combinations). The fast kernels in ``nb.py`` must give
identical results. Arrays follow ``inputs.Window``: ``times``/``prices`` int64 (seconds / units of
$0.0001), session ``s`` is ``offsets[s]:offsets[s+1]``. Trade rows: ``rules.TRADE_*``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from orb_pipeline.engine.metrics import (
    ACC_LONGEST_DRAWDOWN,
    ACC_MAX_DRAWDOWN,
    FSTAT_R,
    FSTAT_RETURN,
    N_ACC,
    N_FSTAT,
    N_SERIES,
    N_STAT,
    STAT_NET,
    accumulate_session_nb,
    session_series_metrics_nb,
)
from orb_pipeline.engine.rules import (
    N_TRADE,
    NO_COOLOFF,
    REASON_EOD,
    REASON_LIMIT,
    REASON_STOP,
    distance_units_nb,
    record_trade_nb,
)


@njit(cache=True)
def simulate_session_naive_nb(
    times,
    prices,
    start,
    end,
    open_utc,
    expected_move,
    range_seconds,
    stop_value,
    stop_units,
    limit_value,
    limit_units,
    stop_count_limit,
    cooloff,
    distance_unit,
    commission,
    slippage,
    slippage_bps,
    stats,
    fstats,
    trades_out,
):
    """Run one session tick by tick; sets ``stats[0]`` (``STAT_*``) and ``fstats[0]``
    (``FSTAT_*``) and returns the number of trades."""
    stats[0, :] = 0
    fstats[0, :] = 0.0
    if end <= start:
        return 0
    range_end = open_utc + range_seconds
    first = start
    high = prices[start]
    low = prices[start]
    while first < end and times[first] <= range_end:
        if prices[first] > high:
            high = prices[first]
        if prices[first] < low:
            low = prices[first]
        first += 1
    if first == start:  # no tick in the range window: not traded
        return 0
    t_end = times[end - 1]
    stops = 0
    cool_until = NO_COOLOFF
    side = 0
    entry = -1
    stop_level = np.int64(0)
    stop_d = np.int64(0)
    limit_level = np.int64(0)
    count = 0
    for i in range(first, end):
        if stops == stop_count_limit:
            break
        t = times[i]
        if t < cool_until:
            continue
        p = prices[i]
        if side == 0:
            if t == t_end:
                break
            if p > high:
                side = 1
            elif p < low:
                side = -1
            else:
                continue
            entry = i
            stop_d = distance_units_nb(distance_unit, stop_units, stop_value, p, expected_move)
            limit_d = distance_units_nb(distance_unit, limit_units, limit_value, p, expected_move)
            stop_level = p - side * stop_d
            limit_level = p + side * limit_d
        elif side == 1:
            if p >= limit_level or t == t_end:
                reason = REASON_LIMIT if p >= limit_level else REASON_EOD
                count = record_trade_nb(
                    stats,
                    fstats,
                    0,
                    trades_out,
                    count,
                    side,
                    entry,
                    i,
                    reason,
                    prices[entry],
                    p,
                    stop_d,
                    times,
                    commission,
                    slippage,
                    slippage_bps,
                )
                break
            elif p <= stop_level:
                count = record_trade_nb(
                    stats,
                    fstats,
                    0,
                    trades_out,
                    count,
                    side,
                    entry,
                    i,
                    REASON_STOP,
                    prices[entry],
                    p,
                    stop_d,
                    times,
                    commission,
                    slippage,
                    slippage_bps,
                )
                stops += 1
                cool_until = t + cooloff
                side = 0
        else:
            if p <= limit_level or t == t_end:
                reason = REASON_LIMIT if p <= limit_level else REASON_EOD
                count = record_trade_nb(
                    stats,
                    fstats,
                    0,
                    trades_out,
                    count,
                    side,
                    entry,
                    i,
                    reason,
                    prices[entry],
                    p,
                    stop_d,
                    times,
                    commission,
                    slippage,
                    slippage_bps,
                )
                break
            elif p >= stop_level:
                count = record_trade_nb(
                    stats,
                    fstats,
                    0,
                    trades_out,
                    count,
                    side,
                    entry,
                    i,
                    REASON_STOP,
                    prices[entry],
                    p,
                    stop_d,
                    times,
                    commission,
                    slippage,
                    slippage_bps,
                )
                stops += 1
                cool_until = t + cooloff
                side = 0
    return count


@njit(cache=True, parallel=True)
def naive_sweep_nb(
    times,
    prices,
    offsets,
    open_utc,
    expected_move,
    range_seconds,
    stop_value,
    stop_units,
    limit_value,
    limit_units,
    stop_count_limit,
    cooloff,
    distance_unit,
    commission,
    slippage,
    slippage_bps,
):
    """Accumulators (``(n_combos, N_ACC)`` int64) and series metrics (``N_SERIES``) of every
    combination,
    scanning every tick of every session per combination (prange over combinations)."""
    n_combos = range_seconds.shape[0]
    n_sessions = open_utc.shape[0]
    acc = np.zeros((n_combos, N_ACC), dtype=np.int64)
    series = np.zeros((n_combos, N_SERIES), dtype=np.float64)
    for c in prange(n_combos):
        stats = np.zeros((1, N_STAT), dtype=np.int64)
        fstats = np.zeros((1, N_FSTAT), dtype=np.float64)
        nets = np.zeros(n_sessions, dtype=np.int64)
        returns = np.zeros(n_sessions, dtype=np.float64)
        r_multiples = np.zeros(n_sessions, dtype=np.float64)
        no_trades = np.zeros((0, N_TRADE), dtype=np.int64)
        for s in range(n_sessions):
            simulate_session_naive_nb(
                times,
                prices,
                offsets[s],
                offsets[s + 1],
                open_utc[s],
                expected_move[s],
                range_seconds[c],
                stop_value[c],
                stop_units[c],
                limit_value[c],
                limit_units[c],
                stop_count_limit[c],
                cooloff[c],
                distance_unit,
                commission,
                slippage,
                slippage_bps,
                stats,
                fstats,
                no_trades,
            )
            accumulate_session_nb(acc, c, stats, 0)
            nets[s] = stats[0, STAT_NET]
            returns[s] = fstats[0, FSTAT_RETURN]
            r_multiples[s] = fstats[0, FSTAT_R]
        drawdown, longest = session_series_metrics_nb(nets, returns, r_multiples, series[c])
        acc[c, ACC_MAX_DRAWDOWN] = drawdown
        acc[c, ACC_LONGEST_DRAWDOWN] = longest
    return acc, series


def sweep_naive(series, sessions, grid, *, costs=None, distance_unit: str = "dollars"):
    """``sweep`` computed with ``naive_sweep_nb`` (same inputs, same output frame)."""
    from orb_pipeline.engine.api import _costs, _prepare
    from orb_pipeline.engine.metrics import metrics_frame

    window, prepared, unit = _prepare(series, sessions, grid, costs, distance_unit)
    acc, series = naive_sweep_nb(
        window.times,
        window.prices,
        window.offsets,
        window.sessions.open_utc,
        window.sessions.expected_move,
        prepared.range_seconds,
        prepared.stop_distance,
        prepared.stop_units,
        prepared.limit_distance,
        prepared.limit_units,
        prepared.stop_count_limit,
        prepared.stop_cooloff_period,
        unit,
        *_costs(costs),
    )
    return metrics_frame(
        prepared.frame, acc, series, window.n_sessions, int(window.session_seconds.sum())
    )
