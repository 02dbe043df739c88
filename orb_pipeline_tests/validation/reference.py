"""Slow plain-Python references for the validation stage, written from the contract, not the code.

Metrics follow docs/STRATEGY.md "Figures of one backtest over a window" (only the ones the
score needs); the bootstrap follows the seed semantics in ``orb_pipeline.validation.bootstrap``.
"""

from __future__ import annotations

import math

import numpy as np


def max_drawdown(nets: list[float]) -> float:
    """Largest peak-to-trough fall of the cumulative net, starting from 0."""
    cumulative, peak, worst = 0.0, 0.0, 0.0
    for net in nets:
        cumulative += net
        peak = max(peak, cumulative)
        worst = max(worst, peak - cumulative)
    return worst


def window_metrics(nets: list[float], traded: list[bool]) -> dict[str, float]:
    days_traded = sum(1 for t in traded if t)
    winning_days = sum(1 for n, t in zip(nets, traded, strict=True) if t and n > 0)
    return {
        "total_profit": sum(nets),
        "max_drawdown": max_drawdown(nets),
        "win_rate_percent": 100.0 * winning_days / days_traded if days_traded else 0.0,
    }


def score(
    metrics: dict[str, float], sessions: int, drawdown_weight=1.0, win_rate_weight=1.0
) -> float:
    annual = (
        252.0 * (metrics["total_profit"] - drawdown_weight * metrics["max_drawdown"]) / sessions
    )
    return annual + win_rate_weight * (metrics["win_rate_percent"] - 50.0) / 100.0


def gap(train: float, test: float) -> float:
    if train == 0 and test == 0:
        return 0.0
    return abs(train - test) / max(abs(train), abs(test))


def percentile_linear(values: list[float], q: float) -> float:
    """numpy's default ('linear') percentile, written out."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    fraction = position - low
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


def bootstrap(nets: list[float], samples: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    totals, drawdowns = [], []
    for _ in range(samples):
        indices = rng.integers(0, len(nets), size=len(nets), dtype=np.int64)
        path = [nets[int(i)] for i in indices]
        total = 0.0
        for value in path:
            total += value
        totals.append(total)
        drawdowns.append(max_drawdown(path))
    result = {}
    for name, values in (("profit", totals), ("drawdown", drawdowns)):
        for q in (5, 50, 95):
            result[f"{name}_p{q}"] = percentile_linear(values, q)
    return result
