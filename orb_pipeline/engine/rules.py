"""Trade rules shared by the naive and the fast kernels (docs/STRATEGY.md and
docs/SEMANTICS_EXTENSIONS.md): distance units, trade accounting and trade records.

Trade rows written to ``trades_out`` (int64): ``TRADE_SIDE`` (+1 long / -1 short),
``TRADE_ENTRY`` / ``TRADE_EXIT`` (tick indices), ``TRADE_REASON`` (``ExitReason``), ``TRADE_NET``
(net profit, units), ``TRADE_GROSS`` (gross profit, units), ``TRADE_STOP_UNITS`` (the stop
distance at entry, units).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from orb_pipeline.engine.costs import trade_cost_units_nb
from orb_pipeline.engine.enums import DistanceUnit, ExitReason
from orb_pipeline.engine.metrics import (
    FSTAT_R,
    FSTAT_RETURN,
    STAT_GROSS,
    STAT_HOLDING,
    STAT_LOSS_UNITS,
    STAT_NET,
    STAT_STOPS,
    STAT_TRADES,
    STAT_WIN_UNITS,
    STAT_WINNING_TRADES,
)
from orb_pipeline.engine.units import round_half_away_nb

TRADE_SIDE, TRADE_ENTRY, TRADE_EXIT, TRADE_REASON, TRADE_NET, TRADE_GROSS, TRADE_STOP_UNITS = range(
    7
)
N_TRADE = 7
NO_COOLOFF = np.int64(-(2**62))


class TradeRules(NamedTuple):
    """The per-trade rules of one kernel call (scalars): how distances are read and the costs."""

    distance_unit: int  # DistanceUnit
    commission: float  # dollars per share and side (Costs.commission_per_share)
    slippage: float  # per side, dollars or basis points
    slippage_bps: bool  # slippage is in basis points of the traded price


@njit(cache=True, inline="always")
def distance_units_nb(distance_unit, units, value, entry_units, expected_move):
    """Stop or limit distance in units (``DistanceUnit``): dollars (``units`` given), percent of
    the entry price, or multiples of the session's expected move (dollars)."""
    if distance_unit == DistanceUnit.DOLLARS:
        return units
    if distance_unit == DistanceUnit.PERCENT:
        return round_half_away_nb(entry_units * value / 100.0)
    return round_half_away_nb(value * expected_move * 10000.0)


@njit(cache=True, inline="always")
def trade_return_percent_nb(net_units, entry_units):
    """Net profit in percent of the entry price (docs/SEMANTICS_EXTENSIONS.md section 5)."""
    return net_units * 100.0 / entry_units


@njit(cache=True, inline="always")
def trade_r_multiple_nb(net_units, stop_units):
    """Net profit in R-multiples, ``net / stop distance at entry``; NaN when that distance is 0."""
    if stop_units == 0:
        return np.nan
    return net_units / stop_units


@njit(cache=True, inline="always")
def record_trade_nb(
    stats,
    fstats,
    row,
    trades_out,
    count,
    side,
    entry,
    exit_,
    reason,
    entry_units,
    exit_units,
    stop_units,
    times,
    trade_rules,
):
    """Add one closed trade to ``stats[row]`` (STAT_* columns) and ``fstats[row]`` (FSTAT_*) and,
    when there is room, to ``trades_out``; returns ``count + 1``. ``stop_units`` is the stop
    distance at entry; ``trade_rules`` a ``TradeRules``. (Row indices rather than views keep the hot loop free of reference
    counting.)"""
    gross = (exit_units - entry_units) * side
    net = gross - trade_cost_units_nb(
        trade_rules.commission,
        trade_rules.slippage,
        trade_rules.slippage_bps,
        entry_units,
        exit_units,
    )
    stats[row, STAT_NET] += net
    stats[row, STAT_GROSS] += gross
    stats[row, STAT_TRADES] += 1
    if reason == ExitReason.STOP:
        stats[row, STAT_STOPS] += 1
    if net > 0:
        stats[row, STAT_WINNING_TRADES] += 1
        stats[row, STAT_WIN_UNITS] += net
    elif net < 0:
        stats[row, STAT_LOSS_UNITS] += net
    stats[row, STAT_HOLDING] += times[exit_] - times[entry]
    fstats[row, FSTAT_RETURN] += trade_return_percent_nb(net, entry_units)
    fstats[row, FSTAT_R] += trade_r_multiple_nb(net, stop_units)
    if count < trades_out.shape[0]:
        trades_out[count, TRADE_SIDE] = side
        trades_out[count, TRADE_ENTRY] = entry
        trades_out[count, TRADE_EXIT] = exit_
        trades_out[count, TRADE_REASON] = reason
        trades_out[count, TRADE_NET] = net
        trades_out[count, TRADE_GROSS] = gross
        trades_out[count, TRADE_STOP_UNITS] = stop_units
    return count + 1
