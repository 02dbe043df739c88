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

    - ``evaluations``: one row per (fold, combination), fold-major, combinations in grid order:
      train/test metrics, scores, gap, flag; ``None`` when the rows went to a sink block by block
      (``FoldSelection``; the streamed path of ``validation.runner``).
    - ``chosen``: one row per fold: the chosen combination and its train/test figures.
    - ``equity``: one row per out-of-sample session: fold, chosen combination, ``oos_net``,
      ``oos_equity`` (stitched cumulative), and ``in_sample_net`` / ``in_sample_equity`` of the
      parameter set a single full-window sweep would pick (the in-sample promise).
    - ``full_window_choice``: grid index of that full-window pick.
    - ``combinations``: parameter sets evaluated; ``promotion_ready_results``: (fold,
      combination) rows flagged promotion-ready.
    """

    evaluations: pl.DataFrame | None
    chosen: pl.DataFrame
    equity: pl.DataFrame
    full_window_choice: int
    combinations: int
    promotion_ready_results: int


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


def _check_folds(folds: Sequence[Fold], session_count: int) -> None:
    if not folds:
        raise ValueError("folds must hold at least one fold")
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


def _beats(candidate: float, incumbent: float | None) -> bool:
    """Whether a later block's best score replaces the incumbent, so that the pick over blocks is
    ``numpy.argmax`` over the whole grid: the first maximum, a NaN counting as the maximum."""
    if incumbent is None:
        return True
    if np.isnan(incumbent):
        return False
    return bool(np.isnan(candidate) or candidate > incumbent)


@dataclass
class _Pick:
    score: float
    row: dict
    net: np.ndarray  # per-session net of the pick over the whole window, dollars


class FoldSelection:
    """``evaluate_folds`` one block of combinations at a time, keeping only what the result needs.

    Feed consecutive blocks of the grid in grid order (``add_block``); each returns that block's
    (fold, combination) rows, one frame per fold, for the caller to keep or write. Kept across
    blocks: per fold the best train score's row and its per-session net, the full window's best
    and its net, and counts, so memory does not grow with the grid. ``result`` then equals
    ``evaluate_folds`` over the whole grid exactly (ties and NaN handled as one ``argmax``).
    """

    def __init__(
        self,
        folds: Sequence[Fold],
        session_count: int,
        weights: ScoreWeights = ScoreWeights(),  # noqa: B008 - frozen dataclass
        criteria: PromotionCriteria | None = None,
    ) -> None:
        _check_folds(folds, session_count)
        self.folds = list(folds)
        self.session_count = session_count
        self.weights = weights
        self.criteria = criteria or PromotionCriteria()
        self.combinations = 0
        self.promotion_ready_results = 0
        self._fold_picks: list[_Pick | None] = [None] * len(self.folds)
        self._full_pick: _Pick | None = None

    def _net(self, session_net: SessionNet, combination: int, label: int) -> np.ndarray:
        net = np.array(session_net(combination), dtype=np.float64)
        if len(net) != self.session_count:
            raise ValueError(
                f"session_net({label}) returned {len(net)} values for {self.session_count} sessions"
            )
        return net

    def add_block(
        self, aggregate: Aggregate, session_net: SessionNet, offset: int | None = None
    ) -> list[pl.DataFrame]:
        """Evaluate the next block: ``aggregate`` / ``session_net`` index the block's own
        combinations from 0, which are grid rows ``offset ..`` (default: right after the previous
        block). Returns one frame of (fold, combination) rows per fold, in fold order."""
        offset = self.combinations if offset is None else offset
        if offset != self.combinations:
            raise ValueError(
                f"blocks must be consecutive: expected one starting at grid row "
                f"{self.combinations}, got {offset}"
            )
        frames = []
        height = None
        for position, fold in enumerate(self.folds):
            train = aggregate(np.arange(fold.train_start, fold.train_stop, dtype=np.int64))
            test = aggregate(np.arange(fold.test_start, fold.test_stop, dtype=np.int64))
            _require_columns(train, f"fold {fold.index} train")
            _require_columns(test, f"fold {fold.index} test")
            if train.height != test.height or train.height == 0:
                raise ValueError(
                    f"aggregate() returned {train.height} train and {test.height} test rows for fold {fold.index}"
                )
            height = train.height
            train_score = _window_score(train, len(fold.train), self.weights)
            test_score = _window_score(test, len(fold.test), self.weights)
            gap = generalization_gap(train_score, test_score)
            columns: dict[str, np.ndarray] = {
                "fold": np.full(height, fold.index, dtype=np.int64),
                "combination": np.arange(offset, offset + height, dtype=np.int64),
            }
            for prefix, frame in (("train_", train), ("test_", test)):
                for name in CARRIED_METRICS:
                    if name in frame.columns:
                        columns[prefix + name] = frame[name].to_numpy()
            columns["train_score"] = train_score
            columns["test_score"] = test_score
            columns["generalization_gap"] = gap
            columns["promotion_ready"] = self.criteria.promotion_ready(columns)
            self.promotion_ready_results += int(np.sum(columns["promotion_ready"]))
            frames.append(pl.DataFrame(columns))

            best = int(np.argmax(train_score))
            incumbent = self._fold_picks[position]
            if _beats(float(train_score[best]), None if incumbent is None else incumbent.score):
                row = {
                    "fold": fold.index,
                    "train_start": fold.train_start,
                    "train_stop": fold.train_stop,
                    "test_start": fold.test_start,
                    "test_stop": fold.test_stop,
                    "combination": offset + best,
                    "train_score": float(train_score[best]),
                    "test_score": float(test_score[best]),
                    "generalization_gap": float(gap[best]),
                    "train_total_profit": float(columns["train_total_profit"][best]),
                    "test_total_profit": float(columns["test_total_profit"][best]),
                    "test_max_drawdown": float(columns["test_max_drawdown"][best]),
                    "test_win_rate_percent": float(columns["test_win_rate_percent"][best]),
                    "promotion_ready": bool(columns["promotion_ready"][best]),
                }
                net = self._net(session_net, best, offset + best)
                self._fold_picks[position] = _Pick(float(train_score[best]), row, net)

        # The in-sample promise: what one sweep over the whole window would have picked.
        full = aggregate(np.arange(self.session_count, dtype=np.int64))
        _require_columns(full, "the full window")
        if full.height != height:
            raise ValueError(
                f"aggregate() returned {full.height} rows for the full window, {height} for folds"
            )
        full_score = _window_score(full, self.session_count, self.weights)
        best = int(np.argmax(full_score))
        incumbent = self._full_pick
        if _beats(float(full_score[best]), None if incumbent is None else incumbent.score):
            net = self._net(session_net, best, offset + best)
            self._full_pick = _Pick(float(full_score[best]), {"combination": offset + best}, net)
        self.combinations += height
        return frames

    def result(self, evaluations: pl.DataFrame | None = None) -> WalkForwardResult:
        """The walk-forward over every block added; ``evaluations``: the (fold, combination) rows
        if the caller kept them (``None`` when they were written elsewhere)."""
        if self._full_pick is None:
            raise ValueError("no block was added: a walk-forward needs at least one combination")
        chosen_rows = [pick.row for pick in self._fold_picks]
        fold_column, combination_column, session_column, oos_net = [], [], [], []
        for pick in self._fold_picks:
            row = pick.row
            sessions = np.arange(row["test_start"], row["test_stop"], dtype=np.int64)
            session_column.append(sessions)
            oos_net.append(pick.net[sessions])
            fold_column.append(np.full(len(sessions), row["fold"], dtype=np.int64))
            combination_column.append(np.full(len(sessions), row["combination"], dtype=np.int64))
        sessions = np.concatenate(session_column)
        oos = np.concatenate(oos_net)
        in_sample = self._full_pick.net[sessions]
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
            evaluations=evaluations,
            chosen=pl.DataFrame(chosen_rows),
            equity=equity,
            full_window_choice=self._full_pick.row["combination"],
            combinations=self.combinations,
            promotion_ready_results=self.promotion_ready_results,
        )


def evaluate_folds(
    folds: Sequence[Fold],
    session_count: int,
    aggregate: Aggregate,
    session_net: SessionNet,
    weights: ScoreWeights = ScoreWeights(),  # noqa: B008 - frozen dataclass
    criteria: PromotionCriteria | None = None,
) -> WalkForwardResult:
    """Train and test metrics, scores, gaps and promotion flags of every combination in every
    fold, all combinations as one block (``FoldSelection``), every (fold, combination) row kept."""
    selection = FoldSelection(folds, session_count, weights, criteria)
    frames = selection.add_block(aggregate, session_net)
    return selection.result(pl.concat(frames))
