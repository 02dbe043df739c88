"""Does a ticker's winner hold up? The stored validation tables read back as plain text.

:func:`read_verdict` gathers, for one ticker and window, the leaderboard's #1 backtest, the
walk-forward run (stitched out-of-sample profit against the full-window winner over the same
sessions, and how many folds' picks passed the promotion criteria), the bootstrap percentiles of
the winner, and the selection-bias statistics when the leaderboard stores them (deflated Sharpe,
PBO, verdict). :func:`verdict_text` says it in words.

The winner *holds up* when every available check passes, and does *not* when any fails:

- the walk-forward's stitched out-of-sample profit is above 0;
- at least half of the folds' picks pass the promotion criteria;
- the 5th percentile of the winner's bootstrapped total profit is above 0;
- the leaderboard's verdict (when stored) is not ``reject``.

Missing validation is said as such ("not validated yet"), never counted as a pass.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl
import sqlalchemy as sa

from orb_pipeline import engine
from orb_pipeline.results import display
from orb_pipeline.results.leaderboard import top_backtests
from orb_pipeline.results.resource import ResultsStore
from orb_pipeline.validation import schema

# Selection-bias columns of a leaderboard row, when the results store has them (issue 11).
SELECTION_COLUMNS = ("deflated_sharpe", "pbo", "verdict", "verdict_reason")


@dataclass(frozen=True)
class Verdict:
    """One ticker's window: the leaderboard's winner and what validation says of it."""

    ticker: str
    window_start: dt.date
    window_end: dt.date
    winner: dict | None
    walk_forward: dict | None = None  # a walk_forward_runs row
    bootstrap: dict | None = None  # the winner's monte_carlo row
    failures: list[str] = field(default_factory=list)  # checks that failed, in words
    passes: list[str] = field(default_factory=list)  # checks that passed, in words

    @property
    def holds_up(self) -> bool | None:
        """True when every available check passed, False when one failed, None when nothing
        was validated."""
        if self.failures:
            return False
        return True if self.passes else None


def _has_table(store: ResultsStore, table: sa.Table) -> bool:
    return sa.inspect(store.engine()).has_table(table.name)


def latest_walk_forward(
    store: ResultsStore, ticker: str, start, end, data_version: str | None
) -> dict | None:
    """The ``walk_forward_runs`` row of ``ticker``'s inclusive window under this engine version:
    the first by ``validation_id`` on ``data_version`` if any, else the first of any data
    version; None when none is stored."""
    if not _has_table(store, schema.walk_forward_runs):
        return None
    runs = schema.walk_forward_runs
    found = store.read(
        sa.select(runs)
        .where(
            runs.c.ticker == ticker,
            runs.c.window_start == start,
            runs.c.window_end == end,
            runs.c.engine_version == engine.ENGINE_VERSION,
        )
        .order_by(runs.c.validation_id)
    )
    if found.height == 0:
        return None
    same_data = found.filter(pl.col("data_version") == data_version)
    return (same_data if same_data.height else found).row(0, named=True)


def _bootstrap_row(store: ResultsStore, backtest_id: str):
    if not _has_table(store, schema.monte_carlo):
        return None
    table = schema.monte_carlo
    found = store.read(
        sa.select(table)
        .where(table.c.backtest_id == backtest_id)
        .order_by(table.c.samples.desc(), table.c.seed)
    )
    return found.row(0, named=True) if found.height else None


def read_verdict(
    store: ResultsStore, ticker: str, window_start: dt.date, window_end: dt.date
) -> Verdict:
    """The :class:`Verdict` of ``ticker`` over the inclusive window, from the results store."""
    top = top_backtests(store, ticker, 1, window_start=window_start, window_end=window_end)
    if top.height == 0:
        return Verdict(ticker, window_start, window_end, None)
    winner = top.row(0, named=True)
    run = latest_walk_forward(store, ticker, window_start, window_end, winner["data_version"])
    boot = _bootstrap_row(store, winner["backtest_id"])
    failures, passes = [], []
    if run is not None:
        oos, ins = run["oos_total_profit"], run["in_sample_total_profit"]
        (passes if oos > 0 else failures).append(
            f"out of sample it made {oos:+.2f} $/sh (the full-window winner {ins:+.2f} $/sh "
            "over the same sessions)"
        )
        ready, folds = run["promotion_ready_folds"], run["folds"]
        (passes if 2 * ready >= folds else failures).append(
            f"{ready} of {folds} folds' picks passed the promotion criteria"
        )
    if boot is not None:
        (passes if boot["profit_p5"] > 0 else failures).append(
            f"its bootstrapped total profit has a 5th percentile of {boot['profit_p5']:+.2f} $/sh"
        )
    if winner.get("verdict") is not None:
        reason = f" ({winner['verdict_reason']})" if winner.get("verdict_reason") else ""
        (failures if winner["verdict"] == "reject" else passes).append(
            f"the selection-bias verdict is {winner['verdict']}{reason}"
        )
    return Verdict(ticker, window_start, window_end, winner, run, boot, failures, passes)


def verdict_text(verdict: Verdict) -> str:
    """The verdict in words: the winner in sample, walk-forward, bootstrap, selection bias, and
    a last line that says plainly whether the winner holds up."""
    span = f"{verdict.ticker} {verdict.window_start}..{verdict.window_end}"
    lines = [f"== {span}: does the winner hold up? =="]
    winner = verdict.winner
    if winner is None:
        return "\n".join([*lines, "no leaderboard for this window: nothing to validate"])
    lines.append(
        f"in sample:     #1 {display.parameters_text(winner)}: Sharpe "
        f"{display.text('sharpe', winner['sharpe'])}, total profit "
        f"{winner['backtest_profit']:+.2f} $/sh over the whole window"
    )
    run = verdict.walk_forward
    if run is None:
        lines.append("walk-forward:  not run yet")
    else:
        lines.append(
            f"walk-forward:  {run['folds']} folds ({run['mode'].replace('_', '-')}): the folds' "
            f"picks made {run['oos_total_profit']:+.2f} $/sh out of sample, the full-window winner "
            f"(picked with hindsight) {run['in_sample_total_profit']:+.2f} $/sh over the same "
            f"sessions; {run['promotion_ready_folds']} of {run['folds']} folds passed"
        )
    boot = verdict.bootstrap
    if boot is None:
        lines.append("bootstrap:     not run yet")
    else:
        lines.append(
            f"bootstrap:     total profit 5/50/95th percentile {boot['profit_p5']:+.2f} / "
            f"{boot['profit_p50']:+.2f} / {boot['profit_p95']:+.2f} $/sh, max drawdown 95th "
            f"percentile {boot['drawdown_p95']:.2f} $/sh ({boot['samples']:,} samples)"
        )
    selection = {name: winner.get(name) for name in SELECTION_COLUMNS}
    if any(value is not None for value in selection.values()):
        parts = []
        if selection["deflated_sharpe"] is not None:
            parts.append(
                f"deflated Sharpe {display.text('deflated_sharpe', selection['deflated_sharpe'])}"
            )
        if selection["pbo"] is not None:
            parts.append(f"PBO {selection['pbo']:.2f}")
        if selection["verdict"] is not None:
            parts.append(f"verdict {selection['verdict']}")
        if selection["verdict_reason"]:
            parts.append(str(selection["verdict_reason"]))
        lines.append("selection:     " + "; ".join(parts))
    else:
        lines.append("selection:     deflated Sharpe and PBO not stored for this window")
    if verdict.holds_up is None:
        lines.append("VERDICT: not validated yet (materialize walk_forward and monte_carlo)")
    elif verdict.holds_up:
        lines.append("VERDICT: the winner holds up: " + "; ".join(verdict.passes) + ".")
    else:
        lines.append("VERDICT: the winner does NOT hold up: " + "; ".join(verdict.failures) + ".")
    return "\n".join(lines)


def ticker_verdict_text(
    store: ResultsStore, ticker: str, window_start: dt.date, window_end: dt.date
) -> str:
    """:func:`verdict_text` of :func:`read_verdict` (what the demo prints per ticker)."""
    return verdict_text(read_verdict(store, ticker, window_start, window_end))
