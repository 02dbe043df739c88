"""What ``orb-pipeline demo`` prints at the end: per ticker its leaderboard, pictures and verdict,
then the bookkeeping (seconds, runs and Dagster events per phase)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import dagster as dg

from orb_pipeline.core.event_log import latest_materialization
from orb_pipeline.core.lineage import LEADERBOARD
from orb_pipeline.orchestration.launch import LaunchedRun


def ticker_report(
    instance: dg.DagsterInstance, results, ticker: str, first: dt.date, last: dt.date
) -> str:
    """The ticker's leaderboard, where its pictures are, and whether its winner holds up."""
    from orb_pipeline.results.summary import leaderboard_text
    from orb_pipeline.validation.verdict import ticker_verdict_text

    lines = [leaderboard_text(results, ticker, first, last)]
    record = latest_materialization(instance, LEADERBOARD, ticker)
    metadata = record.asset_materialization.metadata if record is not None else {}
    for name in ("equity_png", "heatmap_png"):
        if name in metadata:
            lines.append(f"{name.replace('_png', '')} picture: {metadata[name].value}")
    if "research_report" in metadata:
        lines.append(f"research report (HTML, opens offline): {metadata['research_report'].value}")
    lines.append(ticker_verdict_text(results, ticker, first, last))
    return "\n".join(lines)


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    runs: list[LaunchedRun] = field(default_factory=list)


@dataclass
class PhaseClock:
    """Seconds, runs and events per phase, in the order the phases started."""

    phases: dict[str, Phase] = field(default_factory=dict)

    def add(self, name: str, seconds: float, run: LaunchedRun | None = None) -> None:
        phase = self.phases.setdefault(name, Phase(name))
        phase.seconds += seconds
        if run is not None:
            phase.runs.append(run)

    @property
    def seconds(self) -> float:
        return sum(phase.seconds for phase in self.phases.values())

    @property
    def runs(self) -> int:
        return sum(len(phase.runs) for phase in self.phases.values())

    @property
    def events(self) -> int:
        return sum(run.events for phase in self.phases.values() for run in phase.runs)

    def table(self, ticker_years: float, wall_seconds: float) -> str:
        """Per phase: seconds, runs launched, Dagster events those runs wrote; then totals, the
        events per ticker-year (``ticker_years``: tickers x exchange sessions / 252), and the
        closing ``total: <wall_seconds> s`` line."""
        lines = [f"{'phase':<22}{'seconds':>9}{'runs':>6}{'events':>8}"]
        for phase in self.phases.values():
            events = sum(run.events for run in phase.runs)
            lines.append(f"{phase.name:<22}{phase.seconds:>9.1f}{len(phase.runs):>6}{events:>8}")
        lines.append(f"runs launched: {self.runs}")
        per_ticker_year = self.events / ticker_years if ticker_years else 0.0
        lines.append(
            f"Dagster events written: {self.events} ({per_ticker_year:.0f} per ticker-year)"
        )
        lines.append(f"total: {wall_seconds:.1f} s")
        return "\n".join(lines)
