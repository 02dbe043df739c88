"""A ticker's leaderboard as text (the demo's summary; the CLI and docs show the same)."""

from __future__ import annotations

import datetime as dt

from orb_pipeline.results import display
from orb_pipeline.results.leaderboard import top_backtests
from orb_pipeline.results.resource import ResultsStore

SUMMARY_COLUMNS = (
    *display.HEADLINE_COLUMNS,
    "pbo",
    "stability",
    "walk_forward_passed",
    "verdict",
    "average_holding_period",
    "backtest_id",
)


def leaderboard_text(
    store: ResultsStore, ticker: str, window_start: dt.date, window_end: dt.date, top: int = 5
) -> str:
    """The ``top`` best backtests of ``ticker`` over the inclusive window: a table of their
    figures (labels and rounding of results/display.py), then each one's parameters in words
    and, once the ``verdict`` asset ran, its verdict with the reason."""
    rows = top_backtests(store, ticker, top, window_start=window_start, window_end=window_end)
    title = f"== {ticker} {window_start}..{window_end}: top backtests by deflated Sharpe =="
    if rows.height == 0:
        return f"{title}\nno ranked backtests stored for this window"
    ranked = rows.to_dicts()
    lines = [title, display.text_table(ranked, SUMMARY_COLUMNS)]
    for row in ranked:
        lines.append(f"  #{row['rank']}: {display.parameters_text(row)}")
        if row.get("verdict"):
            lines.append(f"      {row['verdict']}: {row['verdict_reason']}")
    return "\n".join(lines)
