import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from orb_pipeline.statistics.overfitting import (
    PBOResult,
    deflated_sharpe_ratio,
    deflated_sharpe_ratios,
    expected_maximum_sharpe,
    probability_of_backtest_overfitting,
)
from orb_pipeline_tests.statistics import overfitting_reference as reference

# --- deflated Sharpe ratio ------------------------------------------------------------------------


def test_dsr_paper_example():
    # Bailey and Lopez de Prado (2014), numerical example: annualized SR 2.5 over 5 years of daily
    # returns (T = 1250, 250 a year), 100 trials with annualized Sharpe variance 0.5, skew -3,
    # kurtosis 10: SR0 = 0.1132 per observation and DSR = 0.9004 (the paper rounds Phi^-1).
    assert expected_maximum_sharpe(100, 0.5 / 250) == pytest.approx(0.1132, abs=5e-5)
    value = deflated_sharpe_ratio(2.5 / math.sqrt(250), 100, 0.5 / 250, 1250, -3.0, 10.0)
    assert value == pytest.approx(0.9004, abs=5e-4)


def test_dsr_hand_cases():
    # One trial, normal returns: the probabilistic Sharpe ratio against 0,
    # Phi(0.1 x sqrt(99) / sqrt(1 + 0.5 x 0.01)) = Phi(0.99247...) = 0.83952...
    z = 0.1 * math.sqrt(99) / math.sqrt(1 + 0.5 * 0.01)
    assert deflated_sharpe_ratio(0.1, 1, 0.04, 100, 0.0, 3.0) == pytest.approx(
        0.5 * math.erfc(-z / math.sqrt(2)), rel=1e-14
    )
    # A Sharpe ratio equal to the expected maximum gives exactly one half.
    benchmark = expected_maximum_sharpe(1000, 0.01)
    assert deflated_sharpe_ratio(benchmark, 1000, 0.01, 252, 0.3, 5.0) == pytest.approx(0.5)
    # Zero variance across trials: nothing to deflate, SR0 = 0.
    assert expected_maximum_sharpe(500, 0.0) == 0.0


valid_inputs = st.tuples(
    st.floats(-0.5, 0.5),  # per-session Sharpe
    st.integers(1, 10**6),
    st.floats(0.0, 0.05),
    st.integers(2, 5000),
    st.floats(-3.0, 3.0),
    st.floats(0.0, 20.0),  # kurtosis minus its bound 1 + skew^2
)


@given(valid_inputs)
def test_dsr_matches_reference(inputs):
    sharpe, trials, variance, observations, skew, extra = inputs
    kurtosis = 1 + skew * skew + extra
    expected = reference.deflated_sharpe_ratio(
        sharpe, trials, variance, observations, skew, kurtosis
    )
    value = deflated_sharpe_ratio(sharpe, trials, variance, observations, skew, kurtosis)
    assert value == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert 0.0 <= value <= 1.0


@given(valid_inputs, st.integers(1, 10**5))
def test_dsr_falls_as_trials_grow(inputs, more):
    sharpe, trials, variance, observations, skew, extra = inputs
    kurtosis = 1 + skew * skew + extra
    fewer = deflated_sharpe_ratio(sharpe, trials, variance, observations, skew, kurtosis)
    many = deflated_sharpe_ratio(sharpe, trials + more, variance, observations, skew, kurtosis)
    assert many <= fewer
    if variance > 1e-6 and 1e-9 < many and fewer < 1 - 1e-9:
        assert many < fewer


def test_dsr_falls_strictly_on_a_grid_of_trials():
    values = [deflated_sharpe_ratio(0.15, n, 0.002, 252, -0.5, 4.0) for n in (1, 10, 100, 10**4)]
    assert values == sorted(values, reverse=True)
    assert len(set(values)) == 4


def test_dsr_vector_equals_scalar():
    sharpe = np.array([0.2, -0.1, 0.05])
    skew = np.array([0.0, 1.0, -2.0])
    kurtosis = np.array([3.0, 4.0, 9.0])
    vector = deflated_sharpe_ratios(sharpe, 50, 0.003, 63, skew, kurtosis)
    scalar = [
        deflated_sharpe_ratio(s, 50, 0.003, 63, g, k)
        for s, g, k in zip(sharpe, skew, kurtosis, strict=True)
    ]
    assert vector.tolist() == scalar


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        ((float("nan"), 10, 0.01, 100, 0.0, 3.0), "sharpe"),
        (("0.1", 10, 0.01, 100, 0.0, 3.0), "sharpe"),
        ((0.1, 0, 0.01, 100, 0.0, 3.0), "n_trials"),
        ((0.1, 2.5, 0.01, 100, 0.0, 3.0), "n_trials"),
        ((0.1, True, 0.01, 100, 0.0, 3.0), "n_trials"),
        ((0.1, 10, -0.01, 100, 0.0, 3.0), "trials_sharpe_variance"),
        ((0.1, 10, float("inf"), 100, 0.0, 3.0), "trials_sharpe_variance"),
        ((0.1, 10, 0.01, 1, 0.0, 3.0), "n_observations"),
        ((0.1, 10, 0.01, 100, float("nan"), 3.0), "skew"),
        ((0.1, 10, 0.01, 100, 0.0, 0.0), "kurtosis"),  # excess kurtosis of a normal
        ((0.1, 10, 0.01, 100, 2.0, 4.0), "kurtosis"),  # below 1 + skew^2
    ],
)
def test_dsr_invalid_input_names_the_argument(arguments, name):
    with pytest.raises(ValueError, match=name):
        deflated_sharpe_ratio(*arguments)


# --- probability of backtest overfitting --------------------------------------------------------


def test_pbo_hand_case():
    # 4 sessions, 2 blocks of 2: splits (0,) and (1,). Per-block Sharpe (ddof 1):
    #        block 0          block 1
    # A  [1, 3]  1.414    [2, 0]   0.707
    # B  [0, 2]  0.707    [2, 4]   2.121
    # C  [5, 5]  0        [-1, -3] -1.414
    # D  [2, 2]  0        [0, 0]   0
    # Split (0,): best in sample A; out of sample C < D < A < B: rank 3 of 4, omega 3/5.
    # Split (1,): best B; out of sample C = D (1.5) < B (3) < A: omega 3/5.
    pnl = np.array([[1, 0, 5, 2], [3, 2, 5, 2], [2, 2, -1, 0], [0, 4, -3, 0]], dtype=float)
    result = probability_of_backtest_overfitting(pnl, n_blocks=2)
    assert isinstance(result, PBOResult)
    assert result.n_splits == 2
    assert result.logits.tolist() == pytest.approx([math.log(1.5), math.log(1.5)])
    assert result.pbo == 0.0
    # E, a copy of B, ties B everywhere: B stays the in-sample pick of split (1,) (lowest index)
    # and shares its out-of-sample rank: split (0,) puts A at rank 3 of 5 (C, D, A, B = E):
    # omega 1/2, logit 0, which counts as overfit; split (1,): C = D (1.5) < B = E (3.5) < A,
    # omega 3.5 / 6.
    with_copy = np.column_stack([pnl, pnl[:, 1]])
    result = probability_of_backtest_overfitting(with_copy, n_blocks=2)
    assert result.logits.tolist() == pytest.approx([0.0, math.log(3.5 / 2.5)])
    assert result.pbo == 0.5


def test_pbo_zero_deviation_gives_sharpe_zero():
    # Trial 1 is 0.3 in every session of blocks 0 and 1. 0.3 is not exact in binary: over those 6
    # sessions the sums give n x s2 - s1^2 = +9e-16, not 0, which naively is a huge Sharpe ratio
    # and would make trial 1 the in-sample pick of split (0, 1). It must be 0, below trial 0's
    # positive Sharpe, in every half; trial 1 is negative in blocks 2 and 3. So trial 0 wins in
    # sample and ranks 2 of 2 out of sample in all 6 splits: omega 2/3, logit ln 2.
    trial_0 = [0.1, 0.3, 0.2, 0.4, 0.1, 0.3, 0.2, 0.4, 0.1, 0.3, 0.2, 0.4]
    trial_1 = [0.3] * 6 + [-0.1, -0.3, -0.2] * 2
    pnl = np.column_stack([trial_0, trial_1])
    result = probability_of_backtest_overfitting(pnl, n_blocks=4)
    assert result.logits.tolist() == pytest.approx([math.log(2.0)] * 6)
    expected_pbo, expected_logits = reference.pbo(pnl.tolist(), 4)
    assert result.logits.tolist() == pytest.approx(expected_logits)
    assert result.pbo == expected_pbo == 0.0


integer_pnl = hnp.arrays(
    np.float64,
    st.tuples(st.integers(4, 24), st.integers(1, 6)),
    elements=st.integers(-5, 5).map(float),
)


@settings(max_examples=60, deadline=None)
@given(integer_pnl, st.sampled_from([2, 4]))
def test_pbo_matches_reference_on_integer_pnl(pnl, n_blocks):
    # Integer P&L (like the engine's units) keeps every tie exact in both implementations.
    if pnl.shape[0] // n_blocks < 2:
        with pytest.raises(ValueError, match="n_blocks"):
            probability_of_backtest_overfitting(pnl, n_blocks)
        return
    result = probability_of_backtest_overfitting(pnl, n_blocks)
    expected_pbo, expected_logits = reference.pbo(pnl.tolist(), n_blocks)
    assert result.logits.tolist() == pytest.approx(expected_logits, rel=1e-12, abs=1e-12)
    assert result.pbo == expected_pbo
    assert result.n_splits == math.comb(n_blocks, n_blocks // 2)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([2, 4, 6]), st.integers(0, 3))
def test_pbo_matches_reference_on_float_pnl(seed, n_blocks, remainder):
    rng = np.random.default_rng(seed)
    pnl = rng.normal(0.01, 1.0, size=(n_blocks * 3 + remainder, 7)) * rng.uniform(0.1, 5.0, 7)
    result = probability_of_backtest_overfitting(pnl, n_blocks)
    expected_pbo, expected_logits = reference.pbo(pnl.tolist(), n_blocks)
    assert result.logits.tolist() == pytest.approx(expected_logits, rel=1e-12, abs=1e-12)
    assert result.pbo == expected_pbo


def test_pbo_drops_the_remainder_from_the_end():
    rng = np.random.default_rng(3)
    pnl = rng.normal(size=(40, 9))
    base = probability_of_backtest_overfitting(pnl, 8)
    extended = probability_of_backtest_overfitting(np.vstack([pnl, rng.normal(size=(7, 9))]), 8)
    assert extended.logits.tolist() == base.logits.tolist()
    shifted = probability_of_backtest_overfitting(np.vstack([rng.normal(size=(7, 9)), pnl]), 8)
    assert shifted.logits.tolist() != base.logits.tolist()


def test_pbo_of_pure_noise_is_near_one_half():
    # Over many seeded noise grids the in-sample winner is a random draw out of sample.
    values = [
        probability_of_backtest_overfitting(
            np.random.default_rng(seed).normal(size=(160, 40)), 8
        ).pbo
        for seed in range(30)
    ]
    assert 0.4 <= float(np.mean(values)) <= 0.6


def test_pbo_with_one_real_edge_is_near_zero():
    rng = np.random.default_rng(11)
    pnl = rng.normal(size=(252, 200))
    pnl[:, 57] += 0.6  # per-session Sharpe about 0.6 against noise
    result = probability_of_backtest_overfitting(pnl, 16)
    assert result.pbo <= 0.01
    assert float(np.median(result.logits)) > 3.0


@pytest.mark.parametrize(
    ("shape", "n_blocks", "message"),
    [
        ((32, 3), 3, "n_blocks must be an even"),
        ((32, 3), 0, "n_blocks must be an even"),
        ((32, 3), 2.0, "n_blocks must be an even"),
        ((32, 3), True, "n_blocks must be an even"),
        ((31, 3), 16, "n_blocks=16 leaves 1 session"),
        ((32,), 2, "pnl must be 2-D"),
        ((32, 0), 2, "pnl must hold at least one trial"),
    ],
)
def test_pbo_invalid_input(shape, n_blocks, message):
    with pytest.raises(ValueError, match=message):
        probability_of_backtest_overfitting(np.zeros(shape), n_blocks)


def test_pbo_rejects_nan():
    pnl = np.zeros((8, 2))
    pnl[3, 1] = np.nan
    with pytest.raises(ValueError, match="pnl must be finite"):
        probability_of_backtest_overfitting(pnl, 2)
