"""A plain-Python ORB state machine written from ../shared/ORB_SEMANTICS.md, with the issue's cost
and distance rules, independent of the engine's kernels. Prices and distances in integer units of
$0.0001. Slow on purpose: only for tiny windows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def units(x: float) -> int:
    """round_half_away_from_zero(x * 10000)."""
    scaled = x * 10000.0
    return int(math.copysign(math.floor(abs(scaled) + 0.5), scaled))


@dataclass
class Trade:
    session: int
    side: str
    entry_t: int
    entry: int  # units
    exit_t: int
    exit: int  # units
    reason: str
    gross: int  # units, before costs
    net: int = 0  # units, after costs


def rhaz(y: float) -> int:
    """Round a float half away from zero."""
    return int(math.copysign(math.floor(abs(y) + 0.5), y))


def distance_units(value: float, unit: str, entry_units: int, expected_move: float | None) -> int:
    """A stop or limit distance in units for an entry at ``entry_units`` (SEMANTICS_EXTENSIONS 2:
    the percent rule works on the entry's integer units, so 0.5 % of $100.01 is exactly the tie
    5000.5 units and rounds to 5001; going through dollars would give 5000.4999... -> 5000)."""
    if unit == "dollars":
        return units(value)
    if unit == "percent":
        return rhaz(entry_units * value / 100)
    if unit == "expected_move":
        return rhaz(value * expected_move * 10000)
    raise ValueError(unit)


def cost_units(entry: int, exit_: int, commission: float, slippage: float, slippage_unit: str) -> int:
    """Round-trip cost: commission and slippage on each side, rounded once to units."""
    if slippage_unit == "bps":
        dollars = 2 * commission + slippage / 10000.0 * (entry / 10000.0 + exit_ / 10000.0)
    else:
        dollars = 2 * commission + 2 * slippage
    return rhaz(dollars * 10000.0)


def simulate_session(
    session: int,
    ticks: list[tuple[int, float]],
    open_utc: int,
    params: dict,
    distance_unit: str = "dollars",
    expected_move: float | None = None,
) -> list[Trade]:
    R = params["range_seconds"]
    in_range = [units(p) for t, p in ticks if open_utc <= t <= open_utc + R]
    if not in_range:
        return []
    high, low = max(in_range), min(in_range)
    eligible = [(t, units(p)) for t, p in ticks if t > open_utc + R]
    if not eligible:
        return []
    t_end = ticks[-1][0]
    trades: list[Trade] = []
    stops, cool_until = 0, -math.inf
    side, entry, entry_t, stop, limit = None, 0, 0, 0, 0
    for t, p in eligible:
        if stops == params["stop_count_limit"]:
            break
        if t < cool_until:
            continue
        if side is None:
            if t == t_end:
                break
            if p > high or p < low:
                side = "long" if p > high else "short"
                entry, entry_t = p, t
                sd = distance_units(params["stop_distance"], distance_unit, p, expected_move)
                ld = distance_units(params["limit_distance"], distance_unit, p, expected_move)
                sign = 1 if side == "long" else -1
                stop, limit = p - sign * sd, p + sign * ld
            continue
        sign = 1 if side == "long" else -1
        hit_limit = p >= limit if side == "long" else p <= limit
        hit_stop = p <= stop if side == "long" else p >= stop
        if hit_limit or t == t_end:
            trades.append(Trade(session, side, entry_t, entry, t, p,
                                "limit" if hit_limit else "eod", sign * (p - entry)))
            break
        if hit_stop:
            trades.append(Trade(session, side, entry_t, entry, t, p, "stop", sign * (p - entry)))
            stops += 1
            cool_until = t + params["stop_cooloff_period"]
            side = None
    return trades


def run_window(
    sessions: list[dict],
    params: dict,
    *,
    distance_unit: str = "dollars",
    commission: float = 0.0,
    slippage: float = 0.0,
    slippage_unit: str = "dollars",
) -> tuple[list[Trade], list[int], int]:
    """Trades with net profit, per-session net (units) over the evaluated sessions, sessions skipped.

    ``sessions``: dicts with ``ticks`` [(t, price)], ``open_utc`` and optional ``expected_move``
    (None = no IV). With ``distance_unit="expected_move"`` a session without one is skipped.
    """
    trades: list[Trade] = []
    nets: list[int] = []
    skipped = 0
    for index, session in enumerate(sessions):
        move = session.get("expected_move")
        if distance_unit == "expected_move" and move is None:
            skipped += 1
            continue
        day = simulate_session(index, session["ticks"], session["open_utc"], params, distance_unit, move)
        for trade in day:
            trade.net = trade.gross - cost_units(trade.entry, trade.exit, commission, slippage, slippage_unit)
        trades.extend(day)
        nets.append(sum(trade.net for trade in day))
    return trades, nets, skipped


def max_drawdown_units(nets: list[int]) -> int:
    cumulative, peak, worst = 0, 0, 0
    for net in nets:
        cumulative += net
        peak = max(peak, cumulative)
        worst = max(worst, peak - cumulative)
    return worst
