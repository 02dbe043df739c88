"""The one slow, plain-Python reference of the ORB rules, written from docs/STRATEGY.md
and docs/SEMANTICS_EXTENSIONS.md alone: no numba, no code shared with ``orb_pipeline.engine``.
The engine's property tests (``engine/test_properties.py``) and the validation stage's tests
(``validation/test_engine_reference.py``, ``validation/test_extension_rules.py``) all compare
against it. Slow on purpose: only for tiny windows.

Prices and distances are integers in units of $0.0001. Inputs are plain Python: ticks
``[(session_date, timestamp_utc, price)]``, sessions ``[{"session_date", "open_utc",
"close_utc"?, "expected_move"?}]`` (any sortable ``session_date``), a parameter dict with the five
grid columns, optional costs ``{"commission_per_share", "slippage", "slippage_unit"}``.
Trades are dicts: side, entry_utc, entry_units, exit_utc, exit_units, exit_reason, gross, net,
stop_units (the stop distance at entry).
"""

from __future__ import annotations

import math
import statistics
from decimal import ROUND_HALF_UP, Decimal


def round_half_away(y: float) -> int:
    """``rhaz(y)``: the integer nearest to the exact value of the float ``y``, halves away from
    zero. Exact on purpose: ``floor(abs(y) + 0.5)`` rounds 0.49999999999999994 up to 1 (the sum
    is rounded to 1.0) and odd integers above 2**52 to the next even one."""
    return int(Decimal(y).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def units(dollars: float) -> int:
    """``units(x) = rhaz(x * 10000)``, with ``x * 10000`` the float64 product."""
    return round_half_away(dollars * 10000.0)


def distance(kind: str, value: float, entry_units: int, expected_move: float | None) -> int:
    """A stop or limit distance in units for an entry at ``entry_units`` (SEMANTICS_EXTENSIONS 2).

    The percent rule works on the entry's integer units, so 0.5 % of $100.01 is exactly the tie
    5000.5 units and rounds to 5001 (going through dollars would give 5000.4999... -> 5000).
    """
    if kind == "dollars":
        return units(value)
    if kind == "percent":
        return round_half_away(entry_units * value / 100)
    if kind == "expected_move":
        return round_half_away(value * expected_move * 10000)
    raise ValueError(kind)


def trade_cost(costs: dict | None, entry_units: int, exit_units: int) -> int:
    """Round-trip cost in units (SEMANTICS_EXTENSIONS 1): commission and slippage on each side,
    in dollars, rounded once."""
    if not costs:
        return 0
    commission = costs.get("commission_per_share", 0.0)
    slippage = costs.get("slippage", 0.0)
    if commission == 0.0 and slippage == 0.0:
        return 0
    if costs.get("slippage_unit", "dollars") == "bps":
        dollars = 2.0 * commission + slippage / 10000.0 * (
            entry_units / 10000.0 + exit_units / 10000.0
        )
    else:
        dollars = 2.0 * commission + 2.0 * slippage
    return round_half_away(dollars * 10000.0)


def run_session(ticks, open_utc, params, *, kind="dollars", expected_move=None, costs=None):
    """Trades of one session (the contract's per-session state machine), costs applied after it.

    ``ticks``: ``[(t, price_units)]`` of the session in time order (ticks sharing a second in
    their own order: all those at the last second count as the last tick).
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
    entry_t = entry_p = stop = limit = stop_units = None
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
                stop_units = distance(kind, params["stop_distance"], p, expected_move)
                stop = p - stop_units
                limit = p + distance(kind, params["limit_distance"], p, expected_move)
            elif p < range_low:
                state = "short"
                entry_t, entry_p = t, p
                stop_units = distance(kind, params["stop_distance"], p, expected_move)
                stop = p + stop_units
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
        trades.append(
            {
                "side": state,
                "entry_utc": entry_t,
                "entry_units": entry_p,
                "exit_utc": t,
                "exit_units": p,
                "exit_reason": reason,
                "gross": gross,
                "net": net,
                "stop_units": stop_units,
            }
        )
        if reason != "stop":
            break
        stops += 1
        cool_until = t + params["stop_cooloff_period"]
        state = "flat"
    return trades


def window_sessions(ticks, sessions, kind="dollars"):
    """[(session dict, [(t, units)])] in chronological order; sessions with a null
    expected_move are left out when ``kind == "expected_move"``. Ticks are ordered by time only
    (a stable sort), so ticks sharing a second keep their input order."""
    chosen = sorted(sessions, key=lambda s: s["session_date"])
    if kind == "expected_move":
        chosen = [s for s in chosen if s.get("expected_move") is not None]
    by_date = {s["session_date"]: [] for s in chosen}
    for date, t, price in ticks:
        if date in by_date:
            by_date[date].append((t, units(price)))
    return [(s, sorted(by_date[s["session_date"]], key=lambda tick: tick[0])) for s in chosen]


def run_window(ticks, sessions, params, *, kind="dollars", costs=None):
    """Per session of the window (chronological, after exclusions): ``(session, trades)``."""
    return [
        (
            s,
            run_session(
                session_ticks,
                s["open_utc"],
                params,
                kind=kind,
                expected_move=s.get("expected_move"),
                costs=costs,
            ),
        )
        for s, session_ticks in window_sessions(ticks, sessions, kind)
    ]


def session_seconds(session, session_ticks) -> int:
    """A session's length (SEMANTICS_EXTENSIONS 5, exposure): close - open when the session has a
    ``close_utc``, else its last tick's time - open (0 without ticks)."""
    if session.get("close_utc") is not None:
        return session["close_utc"] - session["open_utc"]
    return session_ticks[-1][0] - session["open_utc"] if session_ticks else 0


def trade_return_percent(trade) -> float:
    """Net profit in percent of the entry price."""
    return trade["net"] * 100.0 / trade["entry_units"]


def trade_r_multiple(trade) -> float | None:
    """Net profit divided by the stop distance at entry (None when that distance is 0)."""
    return None if trade["stop_units"] == 0 else trade["net"] / trade["stop_units"]


def metrics(per_session_trades, session_lengths=None):
    """The metrics of docs/STRATEGY.md and SEMANTICS_EXTENSIONS 5 from ``[[trade, ...] per
    session]`` (chronological); ``session_lengths`` (seconds per session) for ``exposure``."""
    nets = [sum(tr["net"] for tr in trades) for trades in per_session_trades]
    all_trades = [tr for trades in per_session_trades for tr in trades]
    days_traded = sum(1 for trades in per_session_trades if trades)
    winning_days = sum(1 for n in nets if n > 0)
    wins = [tr["net"] for tr in all_trades if tr["net"] > 0]
    losses = [tr["net"] for tr in all_trades if tr["net"] < 0]
    cumulative = peak = drawdown = 0
    underwater = longest = 0
    for n in nets:
        cumulative += n
        peak = max(peak, cumulative)
        drawdown = max(drawdown, peak - cumulative)
        underwater = underwater + 1 if cumulative < peak else 0
        longest = max(longest, underwater)
    dollars = [n / 10000 for n in nets]
    sharpe = 0.0
    if len(nets) >= 2:
        deviation = statistics.stdev(dollars)
        if deviation != 0:
            sharpe = statistics.mean(dollars) / deviation * math.sqrt(252)
    sortino = None
    if any(n < 0 for n in nets):
        downside = math.sqrt(sum(min(d, 0.0) ** 2 for d in dollars) / len(dollars))
        sortino = statistics.mean(dollars) / downside * math.sqrt(252)
    skewness, kurtosis = 0.0, 3.0
    if len(nets) >= 2:
        mean = statistics.mean(dollars)
        moments = [sum((d - mean) ** k for d in dollars) / len(dollars) for k in (2, 3, 4)]
        if moments[0] != 0:
            skewness = moments[1] / moments[0] ** 1.5
            kurtosis = moments[2] / moments[0] ** 2
    r_multiples = [trade_r_multiple(tr) for tr in all_trades]
    seconds = sum(session_lengths) if session_lengths is not None else 0
    return {
        "total_profit": sum(nets) / 10000,
        "trades": len(all_trades),
        "stops": sum(1 for tr in all_trades if tr["exit_reason"] == "stop"),
        "days_traded": days_traded,
        "win_rate_percent": 100 * winning_days / days_traded if days_traded else 0.0,
        "trade_win_rate_percent": 100 * len(wins) / len(all_trades) if all_trades else 0.0,
        "average_holding_period": (
            sum(tr["exit_utc"] - tr["entry_utc"] for tr in all_trades) / len(all_trades)
            if all_trades
            else 0.0
        ),
        "max_drawdown": drawdown / 10000,
        "sharpe": sharpe,
        "profit_factor": sum(wins) / -sum(losses) if losses else None,
        "gross_profit": sum(tr["gross"] for tr in all_trades) / 10000,
        "expectancy": sum(nets) / 10000 / len(all_trades) if all_trades else 0.0,
        "return_percent": sum(trade_return_percent(tr) for tr in all_trades),
        "profit_r": None if None in r_multiples else sum(r_multiples),
        "sortino": sortino,
        "calmar": (sum(nets) / len(nets) * 252 / drawdown) if drawdown else None,
        "exposure": (
            sum(tr["exit_utc"] - tr["entry_utc"] for tr in all_trades) / seconds if seconds else 0.0
        ),
        "longest_drawdown_sessions": longest,
        "pnl_skewness": skewness,
        "pnl_kurtosis": kurtosis,
    }
