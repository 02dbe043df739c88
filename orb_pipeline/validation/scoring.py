"""Scores, the generalization gap and promotion criteria over sweep metrics (one row per parameter set).

Metric columns follow docs/STRATEGY.md "Figures of one backtest over a window":
``total_profit`` and ``max_drawdown`` in dollars per share, ``win_rate_percent`` in percent of
days traded. All functions are vectorized over numpy arrays (one element per parameter set).

Score
-----
``score = 252 x (total_profit - drawdown_weight x max_drawdown) / sessions
          + win_rate_weight x (win_rate_percent - 50) / 100``

The profit and drawdown term is annualized per session so that a train window of 200 sessions and
a test window of 20 score on the same scale (a raw total would make every gap large simply because
the windows differ in length). The win-rate term adds ``win_rate_weight`` dollars per share for a
100 % session win rate, subtracts it for 0 %, and is neutral at 50 %. Defaults: both weights 1.0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

TRADING_SESSIONS_PER_YEAR = 252


@dataclass(frozen=True)
class ScoreWeights:
    """Weights of the documented score (module docstring); both must be finite and >= 0."""

    drawdown_weight: float = 1.0
    win_rate_weight: float = 1.0

    def __post_init__(self) -> None:
        for name in ("drawdown_weight", "win_rate_weight"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def score(
    total_profit: np.ndarray,
    max_drawdown: np.ndarray,
    win_rate_percent: np.ndarray,
    sessions: int,
    weights: ScoreWeights = ScoreWeights(),  # noqa: B008 - frozen dataclass, immutable default
) -> np.ndarray:
    """The score of each parameter set over a window of ``sessions`` sessions (module docstring)."""
    if sessions < 1:
        raise ValueError(f"sessions must be >= 1, got {sessions}")
    profit = np.asarray(total_profit, dtype=np.float64)
    drawdown = np.asarray(max_drawdown, dtype=np.float64)
    win_rate = np.asarray(win_rate_percent, dtype=np.float64)
    annualized = (
        TRADING_SESSIONS_PER_YEAR * (profit - weights.drawdown_weight * drawdown) / sessions
    )
    return annualized + weights.win_rate_weight * (win_rate - 50.0) / 100.0


def generalization_gap(train_score: np.ndarray, test_score: np.ndarray) -> np.ndarray:
    """``|train - test| / max(|train|, |test|)``, elementwise; 0 where both scores are 0. Range [0, 2]."""
    train = np.asarray(train_score, dtype=np.float64)
    test = np.asarray(test_score, dtype=np.float64)
    denominator = np.maximum(np.abs(train), np.abs(test))
    gap = np.zeros(np.broadcast(train, test).shape, dtype=np.float64)
    nonzero = denominator > 0
    np.divide(np.abs(train - test), denominator, out=gap, where=nonzero)
    return gap


# name -> (metric column it reads, comparison). Thresholds are inclusive.
CRITERIA: Mapping[str, tuple[str, str]] = {
    "min_test_profit": ("test_total_profit", ">="),
    "min_test_win_rate": ("test_win_rate_percent", ">="),
    "max_test_drawdown": ("test_max_drawdown", "<="),
    "max_generalization_gap": ("generalization_gap", "<="),
}


@dataclass(frozen=True)
class PromotionCriteria:
    """Thresholds a result must meet to be ``promotion_ready``; ``None`` disables a criterion.

    Units: ``min_test_profit`` and ``max_test_drawdown`` in dollars per share over the test window,
    ``min_test_win_rate`` in percent, ``max_generalization_gap`` as a fraction (0..2).
    Every threshold is inclusive (a test profit equal to ``min_test_profit`` passes).
    """

    thresholds: Mapping[str, float | None] = field(
        default_factory=lambda: {
            "min_test_profit": 0.0,
            "min_test_win_rate": 50.0,
            "max_test_drawdown": None,
            "max_generalization_gap": 0.5,
        }
    )

    def __post_init__(self) -> None:
        for name, value in self.thresholds.items():
            if name not in CRITERIA:
                raise ValueError(
                    f"unknown promotion criterion {name!r}; known criteria: {sorted(CRITERIA)}"
                )
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not np.isfinite(value)
            ):
                raise ValueError(
                    f"promotion criterion {name} must be a finite number or None, got {value!r}"
                )

    @classmethod
    def from_mapping(cls, thresholds: Mapping[str, float | None]) -> PromotionCriteria:
        """Defaults overridden by ``thresholds``; unknown names raise ``ValueError`` naming them."""
        merged = dict(cls().thresholds)
        for name in thresholds:
            if name not in CRITERIA:
                raise ValueError(
                    f"unknown promotion criterion {name!r}; known criteria: {sorted(CRITERIA)}"
                )
        merged.update(thresholds)
        return cls(merged)

    def promotion_ready(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Boolean per row: passes every enabled criterion. ``columns`` maps metric names to arrays."""
        ready: np.ndarray | None = None
        for name, threshold in self.thresholds.items():
            if threshold is None:
                continue
            column, comparison = CRITERIA[name]
            values = np.asarray(columns[column], dtype=np.float64)
            passed = values >= threshold if comparison == ">=" else values <= threshold
            ready = passed if ready is None else ready & passed
        if ready is None:
            any_column = next(iter(columns.values()))
            return np.ones(len(any_column), dtype=bool)
        return ready
