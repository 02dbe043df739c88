"""``verdict`` [ticker] and ``universe_ranking``: the verdict on every leaderboard row, and the
parameter sets that hold up across a window's tickers.

Dependency order: the leaderboard (deflated Sharpe, PBO, stability) runs before the validation
job, and ``walk_forward`` inside it, so neither can hold the other's result. ``verdict`` runs after
both (in ``validation_job``): it reads the stored leaderboard (``leaderboard_rows``) and the
ticker's walk-forward of the same window (``walk_forward_results``), applies
``validation.selection_verdict.row_verdict`` and writes ``walk_forward_folds``,
``walk_forward_passed``, ``verdict`` and ``verdict_reason`` into the same ``leaderboard_rows``
(one transaction). A new leaderboard clears them until the next verdict.
"""
# No `from __future__ import annotations`: Dagster reads the config and resource annotations.

import datetime as dt
import time

import dagster as dg
import polars as pl
import sqlalchemy as sa
from pydantic import Field, model_validator

from orb_pipeline import engine
from orb_pipeline.core.lineage import RESULTS_POOL, UNIVERSE_RANKING, VERDICT
from orb_pipeline.partitions import ticker_partitions
from orb_pipeline.results import display
from orb_pipeline.results import schema as results_schema
from orb_pipeline.results.assets import LEADERBOARD
from orb_pipeline.results.leaderboard import selection_id, top_backtests
from orb_pipeline.results.resource import ResultsStore
from orb_pipeline.staging.window import expected_window
from orb_pipeline.validation import schema
from orb_pipeline.validation.assets import AFTER_LEADERBOARD, WALK_FORWARD
from orb_pipeline.validation.selection_verdict import VERDICTS, VerdictThresholds, row_verdict
from orb_pipeline.validation.universe import (
    SHOWN_COLUMNS,
    latest_window,
    store_universe,
    ticker_results,
    universe_ranking,
)
from orb_pipeline.validation.verdict import _walk_forward_run

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


def walk_forward_passes(store: ResultsStore, board: pl.DataFrame, run: dict | None) -> pl.DataFrame:
    """``backtest_id``, ``walk_forward_folds``, ``walk_forward_passed`` of each ``board`` row:
    the folds of walk-forward ``run`` (a ``walk_forward_runs`` row) and in how many of them the
    row's parameters (same distance unit) were promotion-ready; NULL when not tested."""
    empty = board.select(
        "backtest_id",
        pl.lit(None, dtype=pl.Int64).alias("walk_forward_folds"),
        pl.lit(None, dtype=pl.Int64).alias("walk_forward_passed"),
    )
    if run is None:
        return empty
    table = schema.walk_forward_results
    found = store.read(
        sa.select(
            table.c.fold, table.c.promotion_ready, *[table.c[n] for n in engine.GRID_COLUMNS]
        ).where(table.c.validation_id == run["validation_id"])
    )
    if found.height == 0:
        return empty
    per_parameters = found.group_by(list(engine.GRID_COLUMNS)).agg(
        pl.col("fold").n_unique().cast(pl.Int64).alias("walk_forward_folds"),
        pl.col("promotion_ready").cast(pl.Int64).sum().alias("walk_forward_passed"),
    )
    same_unit = board.filter(pl.col("distance_unit") == run["distance_unit"])
    joined = same_unit.select("backtest_id", *engine.GRID_COLUMNS).join(
        per_parameters, on=list(engine.GRID_COLUMNS), how="inner"
    )
    return empty.drop("walk_forward_folds", "walk_forward_passed").join(
        joined.select("backtest_id", "walk_forward_folds", "walk_forward_passed"),
        on="backtest_id",
        how="left",
        maintain_order="left",
    )


def store_verdicts(store: ResultsStore, sid: str, judged: pl.DataFrame) -> None:
    """Write the verdict columns of ``judged`` (``rank`` + the four columns) into the window's
    ``leaderboard_rows`` (one transaction)."""
    board = results_schema.leaderboard_rows
    update = (
        sa.update(board)
        .where(board.c.selection_id == sid, board.c.rank == sa.bindparam("target_rank"))
        .values(
            walk_forward_folds=sa.bindparam("folds"),
            walk_forward_passed=sa.bindparam("passed"),
            verdict=sa.bindparam("value"),
            verdict_reason=sa.bindparam("reason"),
        )
    )
    parameters = [
        {
            "target_rank": row["rank"],
            "folds": row["walk_forward_folds"],
            "passed": row["walk_forward_passed"],
            "value": row["verdict"],
            "reason": row["verdict_reason"][:1000],
        }
        for row in judged.iter_rows(named=True)
    ]
    store.run_in_transaction(lambda connection: connection.execute(update, parameters))


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
    board = top_backtests(results, ticker, 1000, window_start=start, window_end=end)
    if board.height == 0:
        raise dg.Failure(
            f"no stored leaderboard for {ticker} {start}..{end} in {results.describe()}: "
            f"materialize leaderboard for {ticker} first"
        )
    run = _walk_forward_run(results, ticker, start, end, window.data_version)
    if run is None:
        context.log.warning(
            f"{ticker} {start}..{end}: no walk-forward stored; no row can be promoted"
        )
    passes = walk_forward_passes(results, board, run)
    board = board.drop("walk_forward_folds", "walk_forward_passed").join(
        passes, on="backtest_id", how="left", maintain_order="left"
    )
    thresholds = config.thresholds()
    judged = [row_verdict(row, thresholds) for row in board.iter_rows(named=True)]
    board = board.drop("verdict", "verdict_reason").with_columns(
        verdict=pl.Series([v for v, _ in judged], dtype=pl.String),
        verdict_reason=pl.Series([r for _, r in judged], dtype=pl.String),
    )
    store_verdicts(results, selection_id(ticker, start, end), board)

    counts = {name: int((board["verdict"] == name).sum()) for name in VERDICTS}
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
    if config.window_start:
        start = dt.date.fromisoformat(config.window_start)
        end = dt.date.fromisoformat(config.window_end)
    else:
        found = latest_window(results)
        if found is None:
            raise dg.Failure(
                f"no leaderboard selections stored in {results.describe()}: materialize "
                "leaderboard for the tickers first"
            )
        start, end = found
    per_ticker = ticker_results(results, start, end)
    if per_ticker.height == 0:
        raise dg.Failure(
            f"no ranked backtests stored for {start}..{end} (engine {engine.ENGINE_VERSION}): "
            "materialize leaderboard for the window's tickers first"
        )
    tickers = sorted(per_ticker["ticker"].unique().to_list())
    ranking = universe_ranking(per_ticker, len(tickers))
    uid = store_universe(
        results,
        ranking,
        window_start=start,
        window_end=end,
        keep=config.keep,
        run_id=context.run.run_id,
    )
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
            "universe_id": uid,
            "ranked_by": "share of the window's tickers where the deflated Sharpe is above 0.5, "
            "then the median deflated Sharpe, then the mean Sharpe",
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
