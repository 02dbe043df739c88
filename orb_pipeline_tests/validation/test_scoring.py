import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orb_pipeline.validation.scoring import (
    CRITERIA,
    PromotionCriteria,
    ScoreWeights,
    generalization_gap,
    score,
)
from orb_pipeline_tests.validation import reference


def test_gap_hand_cases():
    train = np.array([2.0, 0.0, -1.0, 0.0, 5.0, -4.0])
    test = np.array([1.0, 0.0, 1.0, 3.0, 5.0, -2.0])
    assert generalization_gap(train, test).tolist() == [0.5, 0.0, 2.0, 1.0, 0.0, 0.5]


finite = st.floats(-1e6, 1e6, allow_nan=False)


@given(finite, finite)
def test_gap_matches_reference_and_is_symmetric(a, b):
    value = float(generalization_gap(np.array([a]), np.array([b]))[0])
    assert value == pytest.approx(reference.gap(a, b), rel=1e-12, abs=1e-12)
    assert value == float(generalization_gap(np.array([b]), np.array([a]))[0])
    assert 0.0 <= value <= 2.0


def test_score_hand_case():
    # 252 * (3 - 1) / 126 = 4; win rate 75 % adds 0.25; win rate 0 % subtracts 0.5.
    result = score(np.array([3.0, 3.0]), np.array([1.0, 1.0]), np.array([75.0, 0.0]), 126)
    assert result.tolist() == [4.25, 3.5]
    weighted = score(
        np.array([3.0]), np.array([1.0]), np.array([75.0]), 126, ScoreWeights(2.0, 0.0)
    )
    assert weighted.tolist() == [2.0]


@pytest.mark.parametrize("name", ["drawdown_weight", "win_rate_weight"])
def test_score_weights_reject_negative(name):
    with pytest.raises(ValueError, match=name):
        ScoreWeights(**{name: -1.0})


def test_score_rejects_empty_window():
    with pytest.raises(ValueError, match="sessions"):
        score(np.zeros(1), np.zeros(1), np.zeros(1), 0)


def columns(profit, win_rate, drawdown, gap):
    return {
        "test_total_profit": np.array(profit, dtype=float),
        "test_win_rate_percent": np.array(win_rate, dtype=float),
        "test_max_drawdown": np.array(drawdown, dtype=float),
        "generalization_gap": np.array(gap, dtype=float),
    }


def test_promotion_all_criteria_inclusive():
    criteria = PromotionCriteria(
        {
            "min_test_profit": 1.0,
            "min_test_win_rate": 50.0,
            "max_test_drawdown": 2.0,
            "max_generalization_gap": 0.3,
        }
    )
    data = columns(
        profit=[1.0, 0.99, 5.0, 5.0, 5.0],
        win_rate=[50.0, 90.0, 49.9, 90.0, 90.0],
        drawdown=[2.0, 0.0, 0.0, 2.01, 0.0],
        gap=[0.3, 0.0, 0.0, 0.0, 0.31],
    )
    assert criteria.promotion_ready(data).tolist() == [True, False, False, False, False]


def test_promotion_none_disables_and_defaults_merge():
    criteria = PromotionCriteria.from_mapping(
        {"max_generalization_gap": None, "min_test_win_rate": None}
    )
    assert criteria.thresholds["min_test_profit"] == 0.0
    data = columns(profit=[0.0, -0.01], win_rate=[0, 0], drawdown=[99, 99], gap=[2, 2])
    assert criteria.promotion_ready(data).tolist() == [True, False]
    nothing = PromotionCriteria({name: None for name in CRITERIA})
    assert nothing.promotion_ready(data).tolist() == [True, True]


def test_unknown_criterion_is_named():
    with pytest.raises(ValueError, match="min_test_sharpe"):
        PromotionCriteria.from_mapping({"min_test_sharpe": 1.0})
    with pytest.raises(ValueError, match="max_drawdown_pct"):
        PromotionCriteria({"max_drawdown_pct": 1.0})
    with pytest.raises(ValueError, match="min_test_profit"):
        PromotionCriteria({"min_test_profit": math.nan})
