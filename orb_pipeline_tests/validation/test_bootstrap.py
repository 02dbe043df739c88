import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orb_pipeline.validation.bootstrap import bootstrap, draw_indices, resampled_paths
from orb_pipeline_tests.validation import reference


def test_paths_hand_computed():
    net = np.array([1.0, -2.0, 3.0])
    indices = np.array([[0, 1, 2], [2, 2, 2], [1, 1, 0]])
    totals, drawdowns = resampled_paths(net, indices)
    # Path 1: cum 1, -1, 2 -> peak 1, trough -1: drawdown 2.
    # Path 2: 3, 6, 9 -> no fall. Path 3: -2, -4, -3 -> peak is the starting 0: drawdown 4.
    assert totals.tolist() == [2.0, 9.0, -3.0]
    assert drawdowns.tolist() == [2.0, 0.0, 4.0]


def test_single_session_window_has_no_spread():
    summary = bootstrap(np.array([-0.75]), samples=50, seed=1)
    assert summary.profit_p5 == summary.profit_p50 == summary.profit_p95 == -0.75
    assert summary.drawdown_p5 == summary.drawdown_p95 == 0.75


def test_two_session_tiny_case_by_enumeration():
    # Every ordered pair of draws from [2, -1]: totals 4, 1, 1, -2; drawdowns 0, 1, 0, 2.
    # With 20,000 samples the 50th percentile of totals is 1 and of drawdowns 0 or 1;
    # the 5th and 95th are the extremes since each extreme has probability 1/4.
    summary = bootstrap(np.array([2.0, -1.0]), samples=20_000, seed=7)
    assert (summary.profit_p5, summary.profit_p50, summary.profit_p95) == (-2.0, 1.0, 4.0)
    assert (summary.drawdown_p5, summary.drawdown_p95) == (0.0, 2.0)


def test_matches_slow_reference_with_same_seed():
    rng = np.random.default_rng(42)
    net = np.round(rng.normal(0.05, 1.0, size=37), 4)
    for seed in (0, 1, 123456789):
        fast = bootstrap(net, samples=501, seed=seed, chunk=64).as_dict()
        slow = reference.bootstrap(net.tolist(), samples=501, seed=seed)
        for key, value in slow.items():
            assert fast[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key


@settings(max_examples=30, deadline=None)
@given(
    net=st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=20),
    samples=st.integers(1, 60),
    seed=st.integers(0, 2**32),
)
def test_property_matches_reference(net, samples, seed):
    fast = bootstrap(np.array(net), samples=samples, seed=seed, chunk=7).as_dict()
    slow = reference.bootstrap(net, samples=samples, seed=seed)
    for key, value in slow.items():
        assert fast[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
    assert fast["drawdown_p5"] >= 0


def test_seeded_and_chunk_independent():
    net = np.linspace(-1, 1.2, 25)
    assert bootstrap(net, 300, 5, chunk=300) == bootstrap(net, 300, 5, chunk=11)
    assert bootstrap(net, 300, 5) != bootstrap(net, 300, 6)
    assert draw_indices(25, 3, 5).shape == (3, 25)


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"net": np.array([]), "samples": 10, "seed": 0}, "net"),
        ({"net": np.array([1.0, np.nan]), "samples": 10, "seed": 0}, "net"),
        ({"net": np.ones(3), "samples": 0, "seed": 0}, "samples"),
        ({"net": np.ones(3), "samples": 10, "seed": -1}, "seed"),
    ],
)
def test_bad_input_named(kwargs, parameter):
    with pytest.raises(ValueError, match=parameter):
        bootstrap(**kwargs)
