"""evaluate_folds against a brute-force plain-Python walk-forward over a synthetic per-session table."""

import numpy as np
import polars as pl
import pytest

from orb_pipeline.validation.scoring import PromotionCriteria
from orb_pipeline.validation.splits import train_test_split, walk_forward_folds
from orb_pipeline.validation.walk_forward import evaluate_folds
from orb_pipeline_tests.validation import reference


def synthetic_table(combinations: int, sessions: int, seed: int):
    """Per-session net (dollars per share, on the $0.0001 grid) and a traded flag per combination."""
    rng = np.random.default_rng(seed)
    traded = rng.random((combinations, sessions)) < 0.7
    drift = rng.normal(0.0, 0.05, size=(combinations, 1))
    net = np.where(traded, np.round(rng.normal(drift, 0.5, size=(combinations, sessions)), 4), 0.0)
    # A traded session can net exactly 0: keep some to exercise win-rate counting.
    net[:, ::17] = np.where(traded[:, ::17], 0.0, net[:, ::17])
    return net, traded


def reference_aggregate(net, traded):
    def aggregate(indices):
        rows = [
            reference.window_metrics(
                [float(net[c, s]) for s in indices], [bool(traded[c, s]) for s in indices]
            )
            for c in range(net.shape[0])
        ]
        return pl.DataFrame(rows)

    return aggregate


CRITERIA = PromotionCriteria(
    {
        "min_test_profit": 0.0,
        "min_test_win_rate": 45.0,
        "max_test_drawdown": 3.0,
        "max_generalization_gap": 0.8,
    }
)


def brute_force(net, traded, folds):
    chosen = []
    flags = []
    for fold in folds:
        best, best_score = None, None
        fold_flags = []
        for c in range(net.shape[0]):
            train = reference.window_metrics(
                [float(net[c, s]) for s in fold.train], [bool(traded[c, s]) for s in fold.train]
            )
            test = reference.window_metrics(
                [float(net[c, s]) for s in fold.test], [bool(traded[c, s]) for s in fold.test]
            )
            train_score = reference.score(train, len(fold.train))
            test_score = reference.score(test, len(fold.test))
            gap = reference.gap(train_score, test_score)
            fold_flags.append(
                test["total_profit"] >= 0.0
                and test["win_rate_percent"] >= 45.0
                and test["max_drawdown"] <= 3.0
                and gap <= 0.8
            )
            if best_score is None or train_score > best_score:
                best, best_score = c, train_score
        chosen.append(best)
        flags.append(fold_flags)
    return chosen, flags


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_walk_forward_matches_brute_force(seed):
    net, traded = synthetic_table(combinations=40, sessions=60, seed=seed)
    folds = walk_forward_folds(60, train_sessions=20, test_sessions=8)
    result = evaluate_folds(
        folds, 60, reference_aggregate(net, traded), lambda c: net[c], criteria=CRITERIA
    )
    chosen, flags = brute_force(net, traded, folds)
    assert result.chosen["combination"].to_list() == chosen
    for fold in folds:
        rows = result.evaluations.filter(pl.col("fold") == fold.index).sort("combination")
        assert rows["promotion_ready"].to_list() == flags[fold.index]
    assert any(any(f) for f in flags) and not all(all(f) for f in flags)  # the test can fail

    # Stitched out-of-sample equity: chosen parameters' nets over each test window, in order.
    expected = [float(net[chosen[f.index], s]) for f in folds for s in f.test]
    assert result.equity["oos_net"].to_list() == expected
    assert result.equity["oos_equity"].to_numpy() == pytest.approx(np.cumsum(expected))
    assert result.equity["session_index"].to_list() == list(range(folds[0].test_start, 60))

    full_scores = [
        reference.score(reference.window_metrics(list(net[c]), list(traded[c])), 60)
        for c in range(net.shape[0])
    ]
    assert result.full_window_choice == int(np.argmax(full_scores))
    assert result.equity["in_sample_net"].to_list() == [
        float(net[result.full_window_choice, s]) for f in folds for s in f.test
    ]


def test_train_test_split_single_fold():
    net, traded = synthetic_table(combinations=10, sessions=30, seed=3)
    folds = train_test_split(30, 0.7)
    result = evaluate_folds(folds, 30, reference_aggregate(net, traded), lambda c: net[c])
    assert result.evaluations.height == 10
    assert result.equity.height == 9
    row = result.chosen.row(0, named=True)
    assert (row["train_start"], row["train_stop"], row["test_start"], row["test_stop"]) == (
        0,
        21,
        21,
        30,
    )


def test_ties_go_to_lowest_combination():
    net = np.zeros((3, 10))
    traded = np.zeros((3, 10), dtype=bool)
    result = evaluate_folds(
        walk_forward_folds(10, 5, 5), 10, reference_aggregate(net, traded), lambda c: net[c]
    )
    assert result.chosen["combination"].to_list() == [0]
    assert result.evaluations["generalization_gap"].to_list() == [0.0, 0.0, 0.0]


def test_fold_outside_window_rejected():
    net, traded = synthetic_table(combinations=2, sessions=10, seed=0)
    with pytest.raises(ValueError, match="fold 1 does not fit"):
        evaluate_folds(
            walk_forward_folds(20, 5, 5), 10, reference_aggregate(net, traded), lambda c: net[c]
        )
