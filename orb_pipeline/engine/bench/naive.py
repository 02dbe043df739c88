"""Naive kernels: the per-session state machine scanning every tick, for every combination.

This is the straightforward reading of docs/STRATEGY.md ("The per-session state machine") and the
yardstick of the benchmark: O(ticks x combinations). The fast kernels in ``nb.py`` must give
identical results. Arrays follow ``inputs.Window``: ``times``/``prices`` int64 (seconds / units of
$0.0001), session ``s`` is ``offsets[s]:offsets[s+1]``. Trade rows: ``rules.TRADE_*``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from orb_pipeline.engine.enums import ExitReason
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
from orb_pipeline.engine.nb import Combination
from orb_pipeline.engine.rules import N_TRADE, NO_COOLOFF, distance_units_nb, record_trade_nb


@njit(cache=True)
def simulate_session_naive_nb(
    window, s, open_utc, range_seconds, combo, trade_rules, stats, fstats, trades_out
):
    """Run session ``s`` of ``window`` (``nb.WindowArrays``) tick by tick for one combination
    (``nb.Combination``) with range ``range_seconds``; sets ``stats[0]`` (``STAT_*``) and
    ``fstats[0]`` (``FSTAT_*``), writes the trades to ``trades_out`` as far as it has room
    (``rules.TRADE_*``) and returns the number of trades."""
    times = window.times
    prices = window.prices
    start = window.offsets[s]
    end = window.offsets[s + 1]
    expected_move = window.expected_move[s]
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
        if stops == combo.stop_count_limit:
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
            stop_d = distance_units_nb(
                trade_rules.distance_unit, combo.stop_units, combo.stop_value, p, expected_move
            )
            limit_d = distance_units_nb(
                trade_rules.distance_unit, combo.limit_units, combo.limit_value, p, expected_move
            )
            stop_level = p - side * stop_d
            limit_level = p + side * limit_d
            continue
        if side == 1:
            at_limit = p >= limit_level
            at_stop = p <= stop_level
        else:
            at_limit = p <= limit_level
            at_stop = p >= stop_level
        if at_limit or t == t_end:
            reason = ExitReason.LIMIT if at_limit else ExitReason.EOD
        elif at_stop:
            reason = ExitReason.STOP
        else:
            continue
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
            trade_rules,
        )
        if reason != ExitReason.STOP:
            break
        stops += 1
        cool_until = t + combo.cooloff
        side = 0
    return count


class GridArrays(NamedTuple):
    """A prepared grid (``inputs.Grid``) as kernel arrays, one entry per combination."""

    range_seconds: np.ndarray
    stop_value: np.ndarray
    stop_units: np.ndarray
    limit_value: np.ndarray
    limit_units: np.ndarray
    cooloff: np.ndarray
    stop_count_limit: np.ndarray


@njit(cache=True, parallel=True)
def naive_sweep_nb(window, open_utc, grid, trade_rules):
    """Accumulators (``(n_combos, N_ACC)`` int64) and series metrics (``N_SERIES``) of every
    combination of ``grid`` (``GridArrays``), scanning every tick of every session per
    combination (prange over combinations)."""
    n_combos = grid.range_seconds.shape[0]
    n_sessions = open_utc.shape[0]
    acc = np.zeros((n_combos, N_ACC), dtype=np.int64)
    series = np.zeros((n_combos, N_SERIES), dtype=np.float64)
    for c in prange(n_combos):
        combo = Combination(
            grid.stop_value[c],
            grid.stop_units[c],
            grid.limit_value[c],
            grid.limit_units[c],
            grid.cooloff[c],
            grid.stop_count_limit[c],
        )
        stats = np.zeros((1, N_STAT), dtype=np.int64)
        fstats = np.zeros((1, N_FSTAT), dtype=np.float64)
        nets = np.zeros(n_sessions, dtype=np.int64)
        returns = np.zeros(n_sessions, dtype=np.float64)
        r_multiples = np.zeros(n_sessions, dtype=np.float64)
        no_trades = np.zeros((0, N_TRADE), dtype=np.int64)
        for s in range(n_sessions):
            simulate_session_naive_nb(
                window,
                s,
                open_utc[s],
                grid.range_seconds[c],
                combo,
                trade_rules,
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
    from orb_pipeline.engine.api import _prepare, _trade_rules, _window_arrays
    from orb_pipeline.engine.metrics import metrics_frame

    window, prepared, unit = _prepare(series, sessions, grid, costs, distance_unit)
    grid_arrays = GridArrays(
        prepared.range_seconds,
        prepared.stop_distance,
        prepared.stop_units,
        prepared.limit_distance,
        prepared.limit_units,
        prepared.stop_cooloff_period,
        prepared.stop_count_limit,
    )
    acc, series_metrics = naive_sweep_nb(
        _window_arrays(window), window.sessions.open_utc, grid_arrays, _trade_rules(unit, costs)
    )
    return metrics_frame(
        prepared.frame, acc, series_metrics, window.n_sessions, int(window.session_seconds.sum())
    )
