"""Walk-forward on top of the engine's per-session results (Dagster-free).

``engine.session_stats`` runs the state machine once for every parameter set and session; each
fold is then two ``engine.aggregate`` calls over its train and test sessions, which is what keeps a
12-fold walk-forward within a small multiple of one full sweep (``benchmarks/walk_forward.py``).
Fold positions index ``stats.session_dates``: the sessions the engine evaluated, which for an
``expected_move`` grid excludes sessions without IV.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from orb_pipeline import engine
from orb_pipeline.engine.units import units_to_dollars
from orb_pipeline.validation.fold_metrics import contiguous_range, window_metrics
from orb_pipeline.validation.scoring import PromotionCriteria, ScoreWeights
from orb_pipeline.validation.splits import Fold, train_test_split, walk_forward_folds
from orb_pipeline.validation.walk_forward import WalkForwardResult, evaluate_folds

PARAMETER_COLUMNS = tuple(engine.GRID_COLUMNS)


AUTO_FOLDS = 6

# walk_forward keeps seven int64 arrays of shape (backtests, sessions) (engine.SessionStats) and
# aggregates folds over them; 1.5x for the fold sums and the result frames built from them.
BYTES_PER_BACKTEST_SESSION = 7 * 8 * 3 // 2


class ValidationMemoryError(MemoryError):
    """The walk-forward's per-session statistics would not fit in this process's memory."""


def available_memory_bytes() -> int | None:
    """Memory this process may still use: the smaller of the cgroup's free room (containers) and
    the kernel's ``MemAvailable``; None when neither is known."""
    limits = []
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        if limit != "max":
            limits.append(int(limit) - int(used))
    except (OSError, ValueError):
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    return min(limits) if limits else None


def check_stats_memory(combinations: int, sessions: int, available: int | None = None) -> int:
    """The bytes ``engine.session_stats`` + fold aggregation need for ``combinations`` x
    ``sessions`` (``BYTES_PER_BACKTEST_SESSION`` each); ``ValidationMemoryError`` naming the sizes
    and what to do when that is more than ``available`` (default: ``available_memory_bytes()``),
    so the step fails with a reason instead of being killed by the kernel."""
    needed = combinations * sessions * BYTES_PER_BACKTEST_SESSION
    available = available_memory_bytes() if available is None else available
    if available is not None and needed > available:
        raise ValidationMemoryError(
            f"walk_forward over {combinations:,} parameter sets x {sessions} sessions needs about "
            f"{needed / 2**30:.1f} GiB for its per-session statistics "
            f"({BYTES_PER_BACKTEST_SESSION} bytes per backtest and session), but only "
            f"{available / 2**30:.1f} GiB is available: validate a smaller grid (walk_forward's "
            "grid_file) or a shorter window, or run it on a larger machine (validation_job's ECS "
            "task is sized from the grid)"
        )
    return needed


@dataclass(frozen=True)
class SplitSpec:
    """How to split a window: ``mode="walk_forward"`` (train/test sessions, folds, anchored) or
    ``mode="train_test"`` (``train_ratio``). See ``splits`` for the exact rules.

    Unset walk-forward sizes adapt to the window of ``n`` sessions: ``train_sessions = n // 2``
    and ``test_sessions = max(1, (n - train_sessions) // 6)``, i.e. the second half tested in six
    folds (126 + 6 x 21 for a 252-session year).
    """

    mode: str = "walk_forward"
    train_sessions: int | None = None
    test_sessions: int | None = None
    folds: int | None = None
    anchored: bool = False
    train_ratio: float = 0.7

    def __post_init__(self) -> None:
        if self.mode not in ("walk_forward", "train_test"):
            raise ValueError(f"mode must be 'walk_forward' or 'train_test', got {self.mode!r}")

    def sizes_for(self, session_count: int) -> tuple[int, int]:
        """``(train_sessions, test_sessions)`` for a window of ``session_count`` sessions."""
        train = self.train_sessions if self.train_sessions is not None else session_count // 2
        test = (
            self.test_sessions
            if self.test_sessions is not None
            else max(1, (session_count - train) // AUTO_FOLDS)
        )
        return train, test

    def folds_for(self, session_count: int) -> list[Fold]:
        if self.mode == "train_test":
            return train_test_split(session_count, self.train_ratio)
        train, test = self.sizes_for(session_count)
        return walk_forward_folds(session_count, train, test, self.folds, self.anchored)


def walk_forward_on_stats(
    stats: engine.SessionStats,
    split: SplitSpec,
    weights: ScoreWeights = ScoreWeights(),  # noqa: B008 - frozen dataclass
    criteria: PromotionCriteria | None = None,
) -> WalkForwardResult:
    """``evaluate_folds`` over ``stats``: per-fold metrics from ``fold_metrics.window_metrics`` (the
    contiguous fast path, equal to ``engine.aggregate``), per-session nets from ``stats``."""
    folds = split.folds_for(stats.n_sessions)

    def aggregate(indices: np.ndarray) -> pl.DataFrame:
        span = contiguous_range(indices)
        if span is None:  # never for splits' folds; kept for any future non-contiguous split
            return engine.aggregate(stats, indices)
        return window_metrics(stats, *span)

    def session_net(combination: int) -> np.ndarray:
        return units_to_dollars(stats.net_units[combination])

    return evaluate_folds(folds, stats.n_sessions, aggregate, session_net, weights, criteria)


def with_parameters(frame: pl.DataFrame, grid: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (with a ``combination`` column = grid row) plus the grid's parameter columns."""
    parameters = (
        grid.select(PARAMETER_COLUMNS)
        .with_row_index("combination")
        .with_columns(pl.col("combination").cast(pl.Int64))
    )
    return frame.join(parameters, on="combination", how="left", maintain_order="left")
