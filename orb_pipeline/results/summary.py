"""A ticker's leaderboard as text (the demo's summary; the CLI and docs show the same)."""

from __future__ import annotations

import datetime as dt

from orb_pipeline.results import display
from orb_pipeline.results.leaderboard import top_backtests
from orb_pipeline.results.resource import ResultsStore

SUMMARY_COLUMNS = (*display.HEADLINE_COLUMNS, "average_holding_period", "backtest_id")


def leaderboard_text(
    store: ResultsStore, ticker: str, window_start: dt.date, window_end: dt.date, top: int = 5
) -> str:
    """The ``top`` best backtests of ``ticker`` over the inclusive window: a table of their
    figures (labels and rounding of results/display.py), then each one's parameters in words."""
    rows = top_backtests(store, ticker, top, window_start=window_start, window_end=window_end)
    title = f"== {ticker} {window_start}..{window_end}: top backtests by deflated Sharpe =="
    if rows.height == 0:
        return f"{title}\nno ranked backtests stored for this window"
    ranked = rows.to_dicts()
    lines = [title, display.text_table(ranked, SUMMARY_COLUMNS)]
    lines += [f"  #{row['rank']}: {display.parameters_text(row)}" for row in ranked]
    return "\n".join(lines)
