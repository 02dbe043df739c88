"""What a trader reads: one label, unit and rounding per stored column, for every place that shows
results (Dagster metadata tables, pictures, the demo's and the CLI's text, the HTML report).

Stored column names stay what the schema says (``win_rate_percent`` keeps the original engine's
name); only what is shown changes. Two win rates exist and are never shown under one name:

- ``win_rate_percent``: winning *days* = 100 x sessions with net > 0 / days traded;
- ``trade_win_rate_percent``: winning *trades* = 100 x trades with profit > 0 / trades.

"Sharpe" is the leaderboard's ranking figure (annualized, per-session net P&L); the walk-forward
stage's objective is called "walk-forward score" wherever it is shown (validation/scoring.py).

Rounding: dollars per share to cents (2 decimals), percentages to 1 decimal, ratios (Sharpe,
profit factor) to 2 decimals, parameters as given (``:g``), durations in words (``4 min 30 s``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass


def duration_text(seconds: float | int | None) -> str:
    """Seconds as a trader reads them: ``45 s``, ``4 min 30 s``, ``1 h 05 min``; ``-`` for None.
    Below a minute keeps one decimal when the value is fractional (a mean holding period)."""
    if seconds is None or (isinstance(seconds, float) and not math.isfinite(seconds)):
        return "-"
    whole = int(round(seconds))
    if whole < 60:
        return f"{seconds:.1f} s".replace(".0 s", " s") if seconds != whole else f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min" if rest == 0 else f"{minutes} min {rest:02d} s"
    hours, rest = divmod(whole, 3600)
    return f"{hours} h {rest // 60:02d} min"


def _fixed(decimals: int) -> Callable[[float], str]:
    return lambda value: f"{value:,.{decimals}f}"


def _plain(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Shown:
    """How one column is shown: ``label`` (words, unit included), ``text`` formats a non-null
    value, ``decimals`` is the rounding of a numeric cell in a table (None: not rounded)."""

    label: str
    text: Callable[[object], str]
    decimals: int | None = None
    description: str = ""
    short: str = ""  # header of narrow tables (the UI's metadata panel); default ``label``


def _money(label: str, description: str) -> Shown:
    return Shown(label, _fixed(2), 2, description)


COLUMNS: Mapping[str, Shown] = {
    "rank": Shown("#", str, None, "position on the leaderboard, 1 = best"),
    "backtest_id": Shown("backtest id", str, None, "results.backtest_id (32 hex characters)"),
    "parameters": Shown("parameters", str, None, "the backtest's five parameters in words"),
    "sharpe": Shown(
        "Sharpe (annualized)",
        _fixed(2),
        2,
        "annualized Sharpe ratio of per-session net P&L, flat sessions count as 0",
    ),
    "deflated_sharpe": Shown(
        "deflated Sharpe",
        _fixed(3),
        3,
        "probability that the Sharpe ratio beats the best of every backtest of the window "
        "tried on noise (Bailey and Lopez de Prado 2014); above 0.95 it survives the search",
    ),
    "pbo": Shown(
        "PBO",
        _fixed(2),
        2,
        "the window's probability of backtest overfitting (CSCV): how often the in-sample best "
        "lands at or below the out-of-sample median; 0.5 is noise",
    ),
    "stability": Shown(
        "parameter stability",
        _fixed(2),
        2,
        "share of grid neighbours (one step along one parameter) keeping half the Sharpe: "
        "1 a plateau, 0 a lone spike",
    ),
    "walk_forward_passed": Shown(
        "walk-forward folds passed", str, None, "folds where these parameters met the criteria"
    ),
    "walk_forward_folds": Shown("walk-forward folds", str, None, "folds of the walk-forward"),
    "share_beating_noise": Shown(
        "share of tickers beating noise",
        _fixed(2),
        2,
        "tickers where the deflated Sharpe is above 0.5, over every ticker of the window",
    ),
    "tickers_beating_noise": Shown("tickers beating noise", str, None, "deflated Sharpe > 0.5"),
    "tickers_ranked": Shown("tickers ranked", str, None, "tickers where the set was ranked"),
    "median_deflated_sharpe": Shown(
        "median deflated Sharpe", _fixed(3), 3, "over the tickers where the set was ranked"
    ),
    "mean_sharpe": Shown("mean Sharpe (annualized)", _fixed(2), 2, "over those tickers"),
    "worst_sharpe": Shown("worst Sharpe (annualized)", _fixed(2), 2, "over those tickers"),
    "verdict": Shown(
        "verdict", str, None, "promote, watch or reject (validation/selection_verdict.py)"
    ),
    "verdict_reason": Shown("why", str, None, "the verdict's reason in words"),
    "backtest_profit": _money("total profit $/sh", "net profit over the window, dollars per share"),
    "max_drawdown": _money("max drawdown $/sh", "largest peak-to-trough fall of cumulative net"),
    "trades": Shown("trades", str, None, "trades over the window"),
    "days_traded": Shown("days traded", str, None, "sessions with at least one trade"),
    "stops": Shown("stops", str, None, "trades that ended at the stop"),
    "win_rate_percent": Shown(
        "winning days %", _fixed(1), 1, "100 x sessions with net > 0 / days traded"
    ),
    "trade_win_rate_percent": Shown(
        "winning trades %", _fixed(1), 1, "100 x trades with profit > 0 / trades"
    ),
    "average_holding_period": Shown("average holding", duration_text, None, "mean time in a trade"),
    "profit_factor": Shown(
        "profit factor", _fixed(2), 2, "gross wins / gross losses (blank without a losing trade)"
    ),
    "risk_adjusted_win_rate": Shown(
        "original risk-adjusted win rate",
        _fixed(3),
        3,
        "the old engine's (stop / profit) x stops per day; not ranked by",
    ),
    "range_seconds": Shown("opening range", duration_text, None, "opening range length"),
    "stop_distance": Shown("stop distance", _plain, None, "in the run's distance unit"),
    "limit_distance": Shown("limit distance", _plain, None, "in the run's distance unit"),
    "stop_count_limit": Shown(
        "stops per day (max)", str, None, "stops allowed per session before trading stops"
    ),
    "stop_cooloff_period": Shown(
        "cooloff after a stop", duration_text, None, "wait after a stop before a new entry"
    ),
    "window": Shown("window", str, None, "first..last session, inclusive"),
    # validation tables (validation/schema.py)
    "fold": Shown("fold", str, None, "0-based fold number"),
    "train_start": Shown("train from", str, None, "first training session"),
    "train_end": Shown("train to", str, None, "last training session, inclusive"),
    "test_start": Shown("test from", str, None, "first test session"),
    "test_end": Shown("test to", str, None, "last test session, inclusive"),
    "combination": Shown("grid row", str, None, "row of the parameter grid"),
    "train_score": Shown(
        "train walk-forward score",
        _fixed(2),
        2,
        "walk-forward score on the training sessions (validation/scoring.py)",
    ),
    "test_score": Shown(
        "test walk-forward score",
        _fixed(2),
        2,
        "walk-forward score on the test sessions (validation/scoring.py)",
    ),
    "generalization_gap": Shown(
        "generalization gap", _fixed(2), 2, "|train - test score| / max(|train|, |test|), 0..2"
    ),
    "train_total_profit": _money("train profit $/sh", "net over the training sessions"),
    "test_total_profit": _money("test profit $/sh", "net over the test sessions"),
    "test_max_drawdown": _money("test max drawdown $/sh", "over the test sessions"),
    "test_win_rate_percent": Shown(
        "test winning days %", _fixed(1), 1, "winning days over the test sessions"
    ),
    "promotion_ready": Shown(
        "passes criteria",
        lambda v: "yes" if v else "no",
        None,
        "the fold's pick meets every promotion criterion",
    ),
    **{
        f"{name}_p{p}": _money(f"{words} p{p} $/sh", f"{p}th percentile of bootstrapped {words}")
        for name, words in (("profit", "total profit"), ("drawdown", "max drawdown"))
        for p in (5, 50, 95)
    },
}


# The figures a ranked backtest is first judged by (leaderboard tables, the demo, the report).
HEADLINE_COLUMNS = (
    "rank",
    "deflated_sharpe",
    "sharpe",
    "backtest_profit",
    "max_drawdown",
    "win_rate_percent",
    "trade_win_rate_percent",
    "trades",
)


# Short headers where width is scarce (the Dagster UI's metadata panel); the full label and the
# description are the column's description there.
SHORT_LABELS = {
    "deflated_sharpe": "deflated",
    "sharpe": "Sharpe",
    "backtest_profit": "profit $/sh",
    "max_drawdown": "max DD $/sh",
    "win_rate_percent": "win days %",
    "trade_win_rate_percent": "win trades %",
    "stop_distance": "stop",
    "limit_distance": "limit",
    "stop_count_limit": "stops/day",
    "stop_cooloff_period": "cooloff",
    "range_seconds": "range",
}

# The narrow leaderboard table of the UI's metadata panel (about 540 px wide in a 1600 px window):
# the figures a backtest is first judged by, and its parameters in words (they wrap).
NARROW_COLUMNS = (
    "rank",
    "deflated_sharpe",
    "sharpe",
    "backtest_profit",
    "win_rate_percent",
    "trade_win_rate_percent",
    "parameters",
)


def label(name: str, short: bool = False) -> str:
    """The words shown for column ``name`` (the name itself when it has no entry); ``short``:
    the narrow tables' header (:data:`SHORT_LABELS`)."""
    if short and name in SHORT_LABELS:
        return SHORT_LABELS[name]
    shown = COLUMNS.get(name)
    return shown.label if shown else name


def text(name: str, value) -> str:
    """``value`` of column ``name`` as shown (``-`` for NULL and NaN)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    shown = COLUMNS.get(name)
    if shown is not None:
        return shown.text(value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def rounded(name: str, value):
    """``value`` rounded for a numeric table cell of column ``name`` (NaN and None -> None)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    shown = COLUMNS.get(name)
    if shown is not None and shown.decimals is not None and isinstance(value, float):
        return round(value, shown.decimals)
    return value


def distance_text(value: float, unit: str = "dollars") -> str:
    """A stop or limit distance with its unit: ``$0.40``, ``0.4 %``, ``0.4 x expected move``."""
    if unit == "percent":
        return f"{value:g} %"
    if unit == "expected_move":
        return f"{value:g} x expected move"
    return f"${value:,.2f}" if round(value, 2) == value else f"${value:g}"


def parameters_text(row: Mapping, unit: str | None = None) -> str:
    """The five parameters in words, e.g. ``30 s range, stop $0.40, limit $1.00, at most 3 stops
    a day, 4 min 30 s cooloff``. ``unit`` defaults to the row's ``distance_unit`` or dollars."""
    unit = unit or row.get("distance_unit") or "dollars"
    stops = row["stop_count_limit"]
    cooloff = row["stop_cooloff_period"]
    return (
        f"{duration_text(row['range_seconds'])} range, "
        f"stop {distance_text(row['stop_distance'], unit)}, "
        f"limit {distance_text(row['limit_distance'], unit)}, "
        f"at most {stops} stop{'s' if stops != 1 else ''} a day, "
        + ("no cooloff" if not cooloff else f"{duration_text(cooloff)} cooloff")
    )


def text_table(rows: Sequence[Mapping], columns: Iterable[str]) -> str:
    """A fixed-width text table (right-aligned, labels as headers) of ``columns`` of ``rows``;
    columns missing from the rows are left out. The ``parameters`` column is left-aligned."""
    present = [name for name in columns if rows and name in rows[0]]
    cells = [[label(name) for name in present]]
    cells += [[text(name, row[name]) for name in present] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(present))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if name == "parameters" else cell.rjust(width)
            for cell, width, name in zip(line, widths, present, strict=True)
        ).rstrip()
        for line in cells
    )


def markdown_table(rows: Sequence[Mapping], columns: Iterable[str] | None = None) -> str:
    """A Markdown table of ``columns`` (default: all of the first row's) with labels as headers
    and values as :func:`text` shows them."""
    present = list(columns) if columns is not None else list(rows[0]) if rows else []
    lines = ["| " + " | ".join(label(name) for name in present) + " |", "|" + "---|" * len(present)]
    lines += [
        "| " + " | ".join(text(name, row.get(name)) for name in present) + " |" for row in rows
    ]
    return "\n".join(lines)


def table_metadata(rows: Sequence[Mapping], columns: Iterable[str], short: bool = False):
    """``dg.MetadataValue.table`` of ``columns`` of ``rows``: labels as column names (``short``:
    :data:`SHORT_LABELS`; the full label and the description are the column's description),
    numbers rounded per unit, durations and parameters as words."""
    import dagster as dg

    present = list(columns)

    def header(name: str) -> str:
        return label(name, short)

    def cell(name: str, value):
        shown = COLUMNS.get(name)
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return None
        if isinstance(value, bool | int | float) and (
            shown is None or shown.text in (str, _plain) or shown.decimals is not None
        ):
            return rounded(name, value)
        return text(name, value)

    records = [{header(name): cell(name, row.get(name)) for name in present} for row in rows]

    def kind(name: str) -> str:
        values = [r[header(name)] for r in records if r[header(name)] is not None]
        if values and all(isinstance(v, bool) for v in values):
            return "bool"
        if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return "int"
        if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            return "float"
        return "string"

    return dg.MetadataValue.table(
        records=[dg.TableRecord(record) for record in records],
        schema=dg.TableSchema(
            columns=[
                dg.TableColumn(
                    header(name),
                    kind(name),
                    description=(
                        f"{label(name)}: {COLUMNS[name].description}" if name in COLUMNS else None
                    ),
                )
                for name in present
            ]
        ),
    )


def trade_stats_text(stats: Mapping) -> str:
    """A ledger summary (``leaderboard.trade_stats``) in words, dollars per share to cents."""

    def money(value) -> str:
        return "-" if value is None else f"{value:+.2f}"

    trades = stats["trades"]
    share = 100 * stats["winning_trades"] / trades if trades else 0.0
    exits = ", ".join(f"{reason} {count}" for reason, count in stats["exit_reasons"].items())
    return "\n".join(
        [
            f"trades {trades} ({stats['long_trades']} long, {stats['short_trades']} short): "
            f"{stats['winning_trades']} winning ({share:.1f} %), {stats['losing_trades']} losing",
            f"total profit {money(stats['total_profit'])} $/sh; average win "
            f"{money(stats['average_win'])}, average loss {money(stats['average_loss'])}, largest "
            f"win {money(stats['largest_win'])}, largest loss {money(stats['largest_loss'])} $/sh",
            f"average holding {duration_text(stats['average_holding_seconds'])}; exits: "
            f"{exits or 'none'}",
            f"sessions with trades {stats['first_session']}..{stats['last_session']}",
        ]
    )
