"""Monte Carlo bootstrap of a backtest's per-session net P&L.

Seed semantics (shared by the fast path and the slow reference): ``rng = numpy.random.default_rng(seed)``;
sample ``b = 0 .. samples-1`` draws ``rng.integers(0, n, size=n)`` session indices, in that order,
with replacement. A resampled path is the per-session nets in drawn order; its total profit is their
sum and its maximum drawdown is the largest peak-to-trough fall of the cumulative sum starting from
0 (docs/STRATEGY.md ``max_drawdown``). Percentiles use numpy's default (linear) interpolation.
Units follow the input: dollars per share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

PERCENTILES = (5.0, 50.0, 95.0)


@dataclass(frozen=True)
class BootstrapSummary:
    """5th, 50th and 95th percentile of total profit and of maximum drawdown over the samples."""

    samples: int
    sessions: int
    seed: int
    profit_p5: float
    profit_p50: float
    profit_p95: float
    drawdown_p5: float
    drawdown_p50: float
    drawdown_p95: float

    def as_dict(self) -> dict[str, float | int]:
        return dict(self.__dict__)


def draw_indices(session_count: int, samples: int, seed: int) -> np.ndarray:
    """``(samples, session_count)`` int64 matrix of resampled session indices (module docstring).

    One ``(samples, n)`` draw yields the same stream as ``samples`` successive draws of ``n``
    (numpy fills the array in C order); the slow reference draws row by row and tests compare.
    """
    rng = np.random.default_rng(seed)
    return rng.integers(0, session_count, size=(samples, session_count), dtype=np.int64)


@numba.njit(cache=True)
def _paths_nb(net: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    samples, length = indices.shape
    totals = np.empty(samples, dtype=np.float64)
    drawdowns = np.empty(samples, dtype=np.float64)
    for b in range(samples):
        cumulative = 0.0
        peak = 0.0
        worst = 0.0
        for j in range(length):
            cumulative += net[indices[b, j]]
            if cumulative > peak:
                peak = cumulative
            elif peak - cumulative > worst:
                worst = peak - cumulative
        totals[b] = cumulative
        drawdowns[b] = worst
    return totals, drawdowns


def resampled_paths(net: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Total profit and maximum drawdown of each resampled path given explicit ``indices``."""
    net = np.ascontiguousarray(net, dtype=np.float64)
    indices = np.ascontiguousarray(indices, dtype=np.int64)
    if indices.ndim != 2:
        raise ValueError(f"indices must be 2-D (samples, sessions), got shape {indices.shape}")
    if indices.size and (indices.min() < 0 or indices.max() >= len(net)):
        raise ValueError("indices must lie in [0, len(net))")
    return _paths_nb(net, indices)


def _validate(net: np.ndarray, samples: int, seed: int) -> np.ndarray:
    net = np.asarray(net, dtype=np.float64)
    if net.ndim != 1 or len(net) == 0:
        raise ValueError(
            f"net must be a non-empty 1-D array of per-session net P&L, got shape {net.shape}"
        )
    if not np.all(np.isfinite(net)):
        raise ValueError("net must be finite")
    if isinstance(samples, bool) or not isinstance(samples, int | np.integer) or samples < 1:
        raise ValueError(f"samples must be an integer >= 1, got {samples!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    return net


def summarize(
    totals: np.ndarray, drawdowns: np.ndarray, sessions: int, seed: int
) -> BootstrapSummary:
    profit = np.percentile(totals, PERCENTILES)
    drawdown = np.percentile(drawdowns, PERCENTILES)
    return BootstrapSummary(
        samples=len(totals),
        sessions=sessions,
        seed=int(seed),
        profit_p5=float(profit[0]),
        profit_p50=float(profit[1]),
        profit_p95=float(profit[2]),
        drawdown_p5=float(drawdown[0]),
        drawdown_p50=float(drawdown[1]),
        drawdown_p95=float(drawdown[2]),
    )


def bootstrap(
    net: np.ndarray, samples: int = 10_000, seed: int = 0, chunk: int = 4_096
) -> BootstrapSummary:
    """Bootstrap percentiles of total profit and maximum drawdown (module docstring).

    Indices are drawn in chunks of ``chunk`` samples to bound memory; the stream is the same as one
    ``(samples, n)`` draw, so results do not depend on ``chunk``.
    """
    net = _validate(net, samples, seed)
    rng = np.random.default_rng(seed)
    totals = np.empty(samples, dtype=np.float64)
    drawdowns = np.empty(samples, dtype=np.float64)
    for start in range(0, samples, chunk):
        stop = min(samples, start + chunk)
        indices = rng.integers(0, len(net), size=(stop - start, len(net)), dtype=np.int64)
        totals[start:stop], drawdowns[start:stop] = _paths_nb(net, indices)
    return summarize(totals, drawdowns, len(net), seed)
