"""``verdict`` [ticker] and ``universe_ranking``: the verdict on every leaderboard row, and the
parameter sets that hold up across a window's tickers.

Dependency order: the leaderboard (deflated Sharpe, PBO, stability) runs before the validation
job, and ``walk_forward`` inside it, so neither can hold the other's result. ``verdict`` runs after
both (in ``validation_job``): it reads the stored leaderboard (``leaderboard_rows``) and the
ticker's walk-forward of the same window (``walk_forward_results``), applies
``validation.selection_verdict.row_verdict`` (``validation.verdict_run.judge_leaderboard``, and
``validation.universe.rank_universe`` for the universe: the Dagster-free work) and writes ``walk_forward_folds``,
``walk_forward_passed``, ``verdict`` and ``verdict_reason`` into the same ``leaderboard_rows``
(one transaction). A new leaderboard clears them until the next verdict.
"""
# No `from __future__ import annotations`: Dagster reads the config and resource annotations.

import datetime as dt
import time

import dagster as dg
from pydantic import Field, model_validator

from orb_pipeline.core.lineage import (
    LEADERBOARD,
    RESULTS_POOL,
    UNIVERSE_RANKING,
    VERDICT,
    WALK_FORWARD,
)
from orb_pipeline.partitions import ticker_partitions
from orb_pipeline.results import display
from orb_pipeline.results.resource import ResultsStore
from orb_pipeline.staging.window import expected_window
from orb_pipeline.validation.assets import AFTER_LEADERBOARD
from orb_pipeline.validation.selection_verdict import VerdictThresholds
from orb_pipeline.validation.universe import SHOWN_COLUMNS, UniverseError, rank_universe
from orb_pipeline.validation.verdict_run import VerdictError, judge_leaderboard

VERDICT_COLUMNS = (
    "rank",
    "verdict",
    "deflated_sharpe",
    "sharpe",
    "pbo",
    "stability",
    "walk_forward_passed",
    "walk_forward_folds",
    "parameters",
    "verdict_reason",
)
UNIVERSE_COLUMNS = (*SHOWN_COLUMNS, "parameters")


class VerdictConfig(dg.Config):
    """Thresholds of the verdict (validation/selection_verdict.py), each in [0, 1]."""

    promote_deflated_sharpe: float = Field(default=0.95, description="promote at or above")
    reject_deflated_sharpe: float = Field(default=0.5, description="reject below")
    promote_pbo: float = Field(default=0.25, description="promote at or below (the window's PBO)")
    reject_pbo: float = Field(default=0.5, description="reject above")
    promote_stability: float = Field(default=0.5, description="promote at or above")

    @model_validator(mode="after")
    def _check(self) -> "VerdictConfig":
        self.thresholds()
        return self

    def thresholds(self) -> VerdictThresholds:
        return VerdictThresholds(
            self.promote_deflated_sharpe,
            self.reject_deflated_sharpe,
            self.promote_pbo,
            self.reject_pbo,
            self.promote_stability,
        )


@dg.asset(
    key=VERDICT,
    partitions_def=ticker_partitions,
    deps=[LEADERBOARD, WALK_FORWARD],
    automation_condition=AFTER_LEADERBOARD,
    pool=RESULTS_POOL,
    kinds={"sql"},
    group_name="validation",
    description=(
        "promote / watch / reject with the reason in words for every leaderboard row, from its "
        "deflated Sharpe, the window's PBO, its parameter stability and the walk-forward result "
        "for its parameters (stored in leaderboard_rows; table verdicts in the metadata)."
    ),
)
def verdict(
    context: dg.AssetExecutionContext, config: VerdictConfig, results: ResultsStore
) -> dg.MaterializeResult:
    ticker = context.partition_key
    started = time.perf_counter()
    window = expected_window(context.instance, ticker)
    if window is None:
        raise dg.Failure(f"no staged window for {ticker}: materialize staged_window first")
    start, end = window.first_session, window.last_session
    try:
        judged = judge_leaderboard(
            results, ticker, start, end, window.data_version, config.thresholds(), log=context.log
        )
    except VerdictError as error:
        raise dg.Failure(str(error)) from None
    board, counts, run = judged.board, judged.counts, judged.walk_forward
    rows = [{**row, "parameters": display.parameters_text(row)} for row in board.to_dicts()]
    best = board.row(0, named=True)
    context.log.info(
        f"{ticker} {start}..{end}: {counts} over {board.height} leaderboard rows; #1 "
        f"{best['verdict']}: {best['verdict_reason']}"
    )
    return dg.MaterializeResult(
        metadata={
            "verdicts": display.table_metadata(rows, VERDICT_COLUMNS),
            "verdicts_text": dg.MetadataValue.md(display.markdown_table(rows, VERDICT_COLUMNS)),
            **{f"{name}_rows": count for name, count in counts.items()},
            "best_verdict": best["verdict"],
            "best_verdict_reason": best["verdict_reason"],
            "walk_forward_validation_id": run["validation_id"] if run else "none",
            "window": f"{start}..{end}",
            "seconds": round(time.perf_counter() - started, 3),
        }
    )


class UniverseConfig(dg.Config):
    """Which window the universe view ranks, and how many parameter sets it stores."""

    window_start: str = Field(
        default="", description="first session YYYY-MM-DD; empty: the window most tickers share"
    )
    window_end: str = Field(default="", description="last session YYYY-MM-DD, inclusive")
    keep: int = Field(default=1000, ge=1, le=1_000_000, description="parameter sets stored")

    @model_validator(mode="after")
    def _check(self) -> "UniverseConfig":
        if bool(self.window_start) != bool(self.window_end):
            raise ValueError("window_start and window_end must be given together")
        for name in ("window_start", "window_end"):
            value = getattr(self, name)
            if value:
                try:
                    dt.date.fromisoformat(value)
                except ValueError:
                    raise ValueError(f"{name} must be YYYY-MM-DD, got {value!r}") from None
        if self.window_start and self.window_start > self.window_end:
            raise ValueError(
                f"window_start {self.window_start} is after window_end {self.window_end}"
            )
        return self


@dg.asset(
    key=UNIVERSE_RANKING,
    deps=[VERDICT],
    pool=RESULTS_POOL,
    kinds={"sql"},
    group_name="validation",
    description=(
        "Parameter sets ranked across every ticker of a window by how consistently they hold up: "
        "the share of tickers where their deflated Sharpe is above 0.5 (table universe_rankings)."
    ),
)
def universe_ranking_asset(
    context: dg.AssetExecutionContext, config: UniverseConfig, results: ResultsStore
) -> dg.MaterializeResult:
    started = time.perf_counter()
    window = None
    if config.window_start:
        window = (
            dt.date.fromisoformat(config.window_start),
            dt.date.fromisoformat(config.window_end),
        )
    try:
        ranked = rank_universe(results, window, keep=config.keep, run_id=context.run.run_id)
    except UniverseError as error:
        raise dg.Failure(str(error)) from None
    start, end = ranked.window_start, ranked.window_end
    tickers, ranking = ranked.tickers, ranked.ranking
    shown = [
        {**row, "parameters": display.parameters_text(row)} for row in ranking.head(20).to_dicts()
    ]
    context.log.info(
        f"universe {start}..{end}: {ranking.height:,} parameter sets over {len(tickers)} tickers; "
        f"#1 beats noise on {shown[0]['tickers_beating_noise']} of {len(tickers)}"
    )
    return dg.MaterializeResult(
        metadata={
            "universe": display.table_metadata(shown, UNIVERSE_COLUMNS),
            "universe_text": dg.MetadataValue.md(display.markdown_table(shown, UNIVERSE_COLUMNS)),
            "window": f"{start}..{end}",
            "tickers": ", ".join(tickers),
            "parameter_sets": ranking.height,
            "stored": min(config.keep, ranking.height),
            "universe_id": ranked.universe_id,
            "ranked_by": "share of the window's tickers where the deflated Sharpe is above 0.5, "
            "then the median deflated Sharpe, then the mean Sharpe",
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
