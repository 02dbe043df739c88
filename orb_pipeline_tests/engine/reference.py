"""A slow, plain-Python reference of the ORB rules, written from ORB_SEMANTICS.md and
docs/SEMANTICS_EXTENSIONS.md alone (no numba, no code shared with the engine).

Inputs are plain Python: ticks ``[(session_date, timestamp_utc, price)]``, sessions
``[{"session_date", "open_utc", "close_utc"?, "expected_move"?}]``, a parameter dict, optional
costs ``{"commission_per_share", "slippage", "slippage_unit"}``.
"""

from __future__ import annotations

import math
import statistics
from decimal import ROUND_HALF_UP, Decimal


def round_half_away(x: float) -> int:
    """Nearest integer, halves away from zero, of the exact value of the float ``x``."""
    return int(Decimal(x).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def units(dollars: float) -> int:
    return round_half_away(dollars * 10000)


def distance(kind: str, value: float, entry_units: int, expected_move: float | None) -> int:
    if kind == "dollars":
        return units(value)
    if kind == "percent":
        return round_half_away(entry_units * value / 100)
    if kind == "expected_move":
        return round_half_away(value * expected_move * 10000)
    raise AssertionError(kind)


def trade_cost(costs: dict | None, entry_units: int, exit_units: int) -> int:
    if not costs:
        return 0
    commission = costs.get("commission_per_share", 0.0)
    slippage = costs.get("slippage", 0.0)
    if commission == 0.0 and slippage == 0.0:
        return 0
    if costs.get("slippage_unit", "dollars") == "bps":
        dollars = 2.0 * commission + slippage / 10000.0 * (entry_units / 10000.0 + exit_units / 10000.0)
    else:
        dollars = 2.0 * commission + 2.0 * slippage
    return round_half_away(dollars * 10000.0)


def run_session(ticks, open_utc, params, *, kind="dollars", expected_move=None, costs=None):
    """Trades of one session: dicts with side, entry/exit time and units, reason, gross, net.

    ``ticks``: ``[(t, price_units)]`` of the session, sorted by time.
    """
    range_end = open_utc + params["range_seconds"]
    window = [p for t, p in ticks if open_utc <= t <= range_end]
    if not window:
        return []
    range_high, range_low = max(window), min(window)
    t_end = ticks[-1][0]
    trades = []
    state = "flat"
    stops = 0
    cool_until = -math.inf
    entry_t = entry_p = stop = limit = None
    for t, p in ticks:
        if t <= range_end:
            continue
        if stops == params["stop_count_limit"]:
            break
        if t < cool_until:
            continue
        if state == "flat":
            if t == t_end:
                break
            if p > range_high:
                state = "long"
                entry_t, entry_p = t, p
                stop = p - distance(kind, params["stop_distance"], p, expected_move)
                limit = p + distance(kind, params["limit_distance"], p, expected_move)
            elif p < range_low:
                state = "short"
                entry_t, entry_p = t, p
                stop = p + distance(kind, params["stop_distance"], p, expected_move)
                limit = p - distance(kind, params["limit_distance"], p, expected_move)
            continue
        if state == "long":
            hit_limit, hit_stop, gross = p >= limit, p <= stop, p - entry_p
        else:
            hit_limit, hit_stop, gross = p <= limit, p >= stop, entry_p - p
        if hit_limit or t == t_end:
            reason = "limit" if hit_limit else "eod"
        elif hit_stop:
            reason = "stop"
        else:
            continue
        net = gross - trade_cost(costs, entry_p, p)
        trades.append({"side": state, "entry_utc": entry_t, "entry_units": entry_p, "exit_utc": t,
                       "exit_units": p, "exit_reason": reason, "gross": gross, "net": net})
        if reason != "stop":
            break
        stops += 1
        cool_until = t + params["stop_cooloff_period"]
        state = "flat"
    return trades


def window_sessions(ticks, sessions, kind="dollars"):
    """[(session dict, [(t, units)])] in chronological order; sessions with a null
    expected_move are left out when ``kind == "expected_move"``."""
    chosen = sorted(sessions, key=lambda s: s["session_date"])
    if kind == "expected_move":
        chosen = [s for s in chosen if s.get("expected_move") is not None]
    by_date = {s["session_date"]: [] for s in chosen}
    for date, t, price in ticks:
        if date in by_date:
            by_date[date].append((t, units(price)))
    return [(s, sorted(by_date[s["session_date"]])) for s in chosen]


def run_window(ticks, sessions, params, *, kind="dollars", costs=None):
    """Per session (chronological) the list of trades."""
    return [
        (s, run_session(session_ticks, s["open_utc"], params, kind=kind,
                        expected_move=s.get("expected_move"), costs=costs))
        for s, session_ticks in window_sessions(ticks, sessions, kind)
    ]


def metrics(per_session_trades):
    """The metrics of ORB_SEMANTICS.md from ``[[trade, ...] per session]`` (chronological)."""
    nets = [sum(tr["net"] for tr in trades) for trades in per_session_trades]
    all_trades = [tr for trades in per_session_trades for tr in trades]
    days_traded = sum(1 for trades in per_session_trades if trades)
    winning_days = sum(1 for n in nets if n > 0)
    wins = [tr["net"] for tr in all_trades if tr["net"] > 0]
    losses = [tr["net"] for tr in all_trades if tr["net"] < 0]
    cumulative = peak = drawdown = 0
    for n in nets:
        cumulative += n
        peak = max(peak, cumulative)
        drawdown = max(drawdown, peak - cumulative)
    sharpe = 0.0
    if len(nets) >= 2:
        deviation = statistics.stdev([n / 10000 for n in nets])
        if deviation != 0:
            sharpe = statistics.mean([n / 10000 for n in nets]) / deviation * math.sqrt(252)
    return {
        "total_profit": sum(nets) / 10000,
        "trades": len(all_trades),
        "stops": sum(1 for tr in all_trades if tr["exit_reason"] == "stop"),
        "days_traded": days_traded,
        "win_rate_percent": 100 * winning_days / days_traded if days_traded else 0.0,
        "trade_win_rate_percent": 100 * len(wins) / len(all_trades) if all_trades else 0.0,
        "average_holding_period": (
            sum(tr["exit_utc"] - tr["entry_utc"] for tr in all_trades) / len(all_trades)
            if all_trades else 0.0
        ),
        "max_drawdown": drawdown / 10000,
        "sharpe": sharpe,
        "profit_factor": sum(wins) / -sum(losses) if losses else None,
    }
