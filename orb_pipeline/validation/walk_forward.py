"""Walk-forward and train/test evaluation of a whole parameter grid, on per-session results.

The expensive part (running the state machine for every parameter set and session) happens once,
in ``engine.session_stats``; every fold then only *aggregates* those per-session results over its
train and test sessions (``engine.aggregate``). This module is Dagster-free and engine-agnostic:
it takes two callables, so tests can drive it with a plain-Python reference.

- ``aggregate(session_indices) -> polars.DataFrame``: sweep metrics of every parameter set over the
  given window sessions (0-based positions in the window, ascending), one row per parameter set
  in grid order, with at least ``total_profit``, ``max_drawdown``, ``win_rate_percent``.
- ``session_net(combination) -> numpy array``: per-session net P&L of one parameter set over the
  whole window (dollars per share, one value per window session, 0 for a session without trade).

Selection rule: in each fold the parameter set with the highest *train* score is chosen (ties go
to the lowest grid index); test data never influences the choice. The stitched out-of-sample
equity is the cumulative sum of each fold's chosen parameter set's per-session net over that
fold's test sessions, in session order (test windows tile without overlap, see ``splits``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from orb_pipeline.validation.scoring import (
    PromotionCriteria,
    ScoreWeights,
    generalization_gap,
    score,
)
from orb_pipeline.validation.splits import Fold

# Metric columns carried into the per-fold table with a ``train_`` / ``test_`` prefix when present.
CARRIED_METRICS = (
    "total_profit",
    "max_drawdown",
    "win_rate_percent",
    "trades",
    "days_traded",
    "sharpe",
)

Aggregate = Callable[[np.ndarray], pl.DataFrame]
SessionNet = Callable[[int], np.ndarray]


@dataclass(frozen=True)
class WalkForwardResult:
    """Everything a walk-forward run produces.

    - ``evaluations``: one row per (fold, combination): train/test metrics, scores, gap, flag.
    - ``chosen``: one row per fold: the chosen combination and its train/test figures.
    - ``equity``: one row per out-of-sample session: fold, chosen combination, ``oos_net``,
      ``oos_equity`` (stitched cumulative), and ``in_sample_net`` / ``in_sample_equity`` of the
      parameter set a single full-window sweep would pick (the in-sample promise).
    - ``full_window_choice``: grid index of that full-window pick.
    """

    evaluations: pl.DataFrame
    chosen: pl.DataFrame
    equity: pl.DataFrame
    full_window_choice: int


def _require_columns(frame: pl.DataFrame, where: str) -> None:
    missing = {"total_profit", "max_drawdown", "win_rate_percent"} - set(frame.columns)
    if missing:
        raise ValueError(f"aggregate() result for {where} lacks metric columns {sorted(missing)}")


def _window_score(metrics: pl.DataFrame, sessions: int, weights: ScoreWeights) -> np.ndarray:
    return score(
        metrics["total_profit"].to_numpy(),
        metrics["max_drawdown"].to_numpy(),
        metrics["win_rate_percent"].to_numpy(),
        sessions,
        weights,
    )


def evaluate_folds(
    folds: Sequence[Fold],
    session_count: int,
    aggregate: Aggregate,
    session_net: SessionNet,
    weights: ScoreWeights = ScoreWeights(),  # noqa: B008 - frozen dataclass
    criteria: PromotionCriteria | None = None,
) -> WalkForwardResult:
    """Train and test metrics, scores, gaps and promotion flags of every combination in every fold."""
    if not folds:
        raise ValueError("folds must hold at least one fold")
    criteria = criteria or PromotionCriteria()
    for fold in folds:
        if not (
            0
            <= fold.train_start
            < fold.train_stop
            <= fold.test_start
            < fold.test_stop
            <= session_count
        ):
            raise ValueError(
                f"fold {fold.index} does not fit a window of {session_count} sessions: {fold}"
            )

    evaluations = []
    chosen_rows = []
    for fold in folds:
        train = aggregate(np.arange(fold.train_start, fold.train_stop, dtype=np.int64))
        test = aggregate(np.arange(fold.test_start, fold.test_stop, dtype=np.int64))
        _require_columns(train, f"fold {fold.index} train")
        _require_columns(test, f"fold {fold.index} test")
        if train.height != test.height or train.height == 0:
            raise ValueError(
                f"aggregate() returned {train.height} train and {test.height} test rows for fold {fold.index}"
            )
        train_score = _window_score(train, len(fold.train), weights)
        test_score = _window_score(test, len(fold.test), weights)
        gap = generalization_gap(train_score, test_score)
        columns: dict[str, np.ndarray] = {
            "fold": np.full(train.height, fold.index, dtype=np.int64),
            "combination": np.arange(train.height, dtype=np.int64),
        }
        for prefix, frame in (("train_", train), ("test_", test)):
            for name in CARRIED_METRICS:
                if name in frame.columns:
                    columns[prefix + name] = frame[name].to_numpy()
        columns["train_score"] = train_score
        columns["test_score"] = test_score
        columns["generalization_gap"] = gap
        columns["promotion_ready"] = criteria.promotion_ready(columns)
        evaluations.append(pl.DataFrame(columns))

        best = int(np.argmax(train_score))
        chosen_rows.append(
            {
                "fold": fold.index,
                "train_start": fold.train_start,
                "train_stop": fold.train_stop,
                "test_start": fold.test_start,
                "test_stop": fold.test_stop,
                "combination": best,
                "train_score": float(train_score[best]),
                "test_score": float(test_score[best]),
                "generalization_gap": float(gap[best]),
                "train_total_profit": float(columns["train_total_profit"][best]),
                "test_total_profit": float(columns["test_total_profit"][best]),
                "test_max_drawdown": float(columns["test_max_drawdown"][best]),
                "test_win_rate_percent": float(columns["test_win_rate_percent"][best]),
                "promotion_ready": bool(columns["promotion_ready"][best]),
            }
        )

    chosen = pl.DataFrame(chosen_rows)

    # The in-sample promise: what one sweep over the whole window would have picked.
    full = aggregate(np.arange(session_count, dtype=np.int64))
    _require_columns(full, "the full window")
    full_choice = int(np.argmax(_window_score(full, session_count, weights)))
    full_net = np.asarray(session_net(full_choice), dtype=np.float64)

    fold_column, combination_column, session_column, oos_net = [], [], [], []
    for row in chosen_rows:
        net = np.asarray(session_net(row["combination"]), dtype=np.float64)
        if len(net) != session_count:
            raise ValueError(
                f"session_net({row['combination']}) returned {len(net)} values for {session_count} sessions"
            )
        sessions = np.arange(row["test_start"], row["test_stop"], dtype=np.int64)
        session_column.append(sessions)
        oos_net.append(net[sessions])
        fold_column.append(np.full(len(sessions), row["fold"], dtype=np.int64))
        combination_column.append(np.full(len(sessions), row["combination"], dtype=np.int64))
    sessions = np.concatenate(session_column)
    oos = np.concatenate(oos_net)
    in_sample = full_net[sessions]
    equity = pl.DataFrame(
        {
            "session_index": sessions,
            "fold": np.concatenate(fold_column),
            "combination": np.concatenate(combination_column),
            "oos_net": oos,
            "oos_equity": np.cumsum(oos),
            "in_sample_net": in_sample,
            "in_sample_equity": np.cumsum(in_sample),
        }
    )
    return WalkForwardResult(
        evaluations=pl.concat(evaluations),
        chosen=chosen,
        equity=equity,
        full_window_choice=full_choice,
    )
