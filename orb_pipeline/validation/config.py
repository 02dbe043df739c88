"""Run configuration of the validation assets, validated before any engine work.

Unknown field names (for example a misspelt promotion criterion) are rejected by Dagster's config
schema when a run is launched; value checks (ranges, units, the grid file) run when the run starts,
before the asset reads data; whether the folds fit the window is checked as soon as the window's
session count is known, still before the engine runs. Every error names the parameter.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field, model_validator

from orb_pipeline import engine
from orb_pipeline.validation.runner import SplitSpec
from orb_pipeline.validation.scoring import PromotionCriteria, ScoreWeights


class WalkForwardConfig(dg.Config):
    """How ``walk_forward`` splits, scores, promotes, and which grid, costs and distances it uses."""

    mode: str = Field(
        default="walk_forward",
        description="walk_forward (rolling folds) or train_test (one split by train_ratio)",
    )
    train_sessions: int | None = Field(
        default=None,
        ge=1,
        description="walk_forward: sessions per training window (default: half the window)",
    )
    test_sessions: int | None = Field(
        default=None,
        ge=1,
        description="walk_forward: sessions per test window (default: a sixth of the rest, six folds)",
    )
    folds: int | None = Field(
        default=None,
        ge=1,
        description="walk_forward: fold count (default: as many as fit); aligned to the window's end",
    )
    anchored: bool = Field(
        default=False,
        description="walk_forward: every training window starts at the window's first session",
    )
    train_ratio: float = Field(
        default=0.7, gt=0, lt=1, description="train_test: share of sessions that train"
    )
    drawdown_weight: float = Field(default=1.0, ge=0, description="score: weight of max drawdown")
    win_rate_weight: float = Field(
        default=1.0, ge=0, description="score: $/share per 100 % session win rate"
    )
    min_test_profit: float | None = Field(
        default=0.0, description="promotion: test total profit >= this ($/share); null disables"
    )
    min_test_win_rate: float | None = Field(
        default=50.0, description="promotion: test win rate >= this (percent); null disables"
    )
    max_test_drawdown: float | None = Field(
        default=None, description="promotion: test max drawdown <= this ($/share); null disables"
    )
    max_generalization_gap: float | None = Field(
        default=0.5, description="promotion: gap <= this (0..2); null disables"
    )
    distance_unit: str = Field(
        default="dollars", description="dollars, percent or expected_move (grid distances' unit)"
    )
    iv_range_seconds: int | None = Field(
        default=None,
        ge=1,
        description="expected_move: opening-range length whose IV is used (default: the grid's shortest)",
    )
    commission_per_share: float = Field(default=0.0, ge=0, description="dollars per share per side")
    slippage: float = Field(default=0.0, ge=0, description="per side, in slippage_unit")
    slippage_unit: str = Field(default="dollars", description="dollars or bps")
    grid_file: str = Field(
        default="",
        description="TOML/JSON grid file (ORB_SWEEP_GRID format); empty: the sweep's grid",
    )

    @model_validator(mode="after")
    def _check(self) -> WalkForwardConfig:
        self.split_spec()
        self.criteria()
        self.weights()
        self.costs()
        if self.distance_unit not in engine.DISTANCE_UNITS:
            raise ValueError(
                f"distance_unit must be one of {engine.DISTANCE_UNITS}, got {self.distance_unit!r}"
            )
        if self.grid_file and not Path(self.grid_file).is_file():
            raise ValueError(f"grid_file {self.grid_file!r} does not exist")
        return self

    def split_spec(self) -> SplitSpec:
        return SplitSpec(
            mode=self.mode,
            train_sessions=self.train_sessions,
            test_sessions=self.test_sessions,
            folds=self.folds,
            anchored=self.anchored,
            train_ratio=self.train_ratio,
        )

    def criteria(self) -> PromotionCriteria:
        return PromotionCriteria(
            {
                "min_test_profit": self.min_test_profit,
                "min_test_win_rate": self.min_test_win_rate,
                "max_test_drawdown": self.max_test_drawdown,
                "max_generalization_gap": self.max_generalization_gap,
            }
        )

    def weights(self) -> ScoreWeights:
        return ScoreWeights(self.drawdown_weight, self.win_rate_weight)

    def costs(self) -> engine.Costs:
        return engine.Costs(self.commission_per_share, self.slippage, self.slippage_unit)

    def grid(self, default: pl.DataFrame) -> pl.DataFrame:
        """The grid of ``grid_file``, or ``default`` (the sweep stage's grid)."""
        if not self.grid_file:
            return default
        from orb_pipeline.sweeps.grid import load_settings

        return load_settings({"ORB_SWEEP_GRID": self.grid_file}).grid()

    def fingerprint(self) -> str:
        """The configuration as canonical JSON (part of the validation id)."""
        return json.dumps(self.model_dump(), sort_keys=True, default=str)


class MonteCarloConfig(dg.Config):
    """Bootstrap of the leaderboard's top backtests' per-session net P&L."""

    top: int = Field(
        default=10, ge=1, le=1000, description="leaderboard backtests to resample (best first)"
    )
    samples: int = Field(
        default=10_000, ge=1, le=10_000_000, description="bootstrap samples per backtest"
    )
    seed: int = Field(
        default=0, ge=0, description="numpy default_rng seed (see validation/bootstrap.py)"
    )
