import pytest
from hypothesis import given
from hypothesis import strategies as st

from orb_pipeline.validation.splits import Fold, train_test_split, walk_forward_folds


def spans(folds):
    return [(f.train_start, f.train_stop, f.test_start, f.test_stop) for f in folds]


def test_train_test_split_by_ratio():
    assert spans(train_test_split(10, 0.7)) == [(0, 7, 7, 10)]
    assert spans(train_test_split(3, 0.5)) == [(0, 1, 1, 3)]


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.2, 1.5, 0.05, "half", True])
def test_train_test_split_rejects_bad_ratio(ratio):
    with pytest.raises(ValueError, match="train_ratio"):
        train_test_split(10, ratio)


def test_walk_forward_hand_cases():
    assert spans(walk_forward_folds(10, 4, 2)) == [(0, 4, 4, 6), (2, 6, 6, 8), (4, 8, 8, 10)]
    # Aligned to the end: the leftover session 0 only trains.
    assert spans(walk_forward_folds(11, 4, 2)) == [(1, 5, 5, 7), (3, 7, 7, 9), (5, 9, 9, 11)]
    assert spans(walk_forward_folds(10, 4, 2, folds=2)) == [(2, 6, 6, 8), (4, 8, 8, 10)]
    assert spans(walk_forward_folds(10, 4, 2, anchored=True)) == [
        (0, 4, 4, 6),
        (0, 6, 6, 8),
        (0, 8, 8, 10),
    ]
    assert walk_forward_folds(10, 4, 2)[1] == Fold(1, 2, 6, 6, 8)
    assert list(walk_forward_folds(10, 4, 2)[1].test) == [6, 7]


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"train_sessions": 8, "test_sessions": 3}, "train_sessions"),
        ({"train_sessions": 4, "test_sessions": 0}, "test_sessions"),
        ({"train_sessions": 0, "test_sessions": 2}, "train_sessions"),
        ({"train_sessions": 4, "test_sessions": 2, "folds": 4}, "folds"),
        ({"train_sessions": 4, "test_sessions": 2, "folds": 0}, "folds"),
        ({"train_sessions": 4.5, "test_sessions": 2}, "train_sessions"),
    ],
)
def test_walk_forward_rejects_folds_that_do_not_fit(kwargs, parameter):
    with pytest.raises(ValueError, match=parameter):
        walk_forward_folds(10, **kwargs)


@given(
    session_count=st.integers(0, 400),
    train=st.integers(1, 100),
    test=st.integers(1, 50),
    folds=st.none() | st.integers(1, 30),
    anchored=st.booleans(),
)
def test_walk_forward_properties(session_count, train, test, folds, anchored):
    fits = train + (folds or 1) * test <= session_count
    if not fits:
        with pytest.raises(ValueError):
            walk_forward_folds(session_count, train, test, folds, anchored)
        return
    result = walk_forward_folds(session_count, train, test, folds, anchored)
    if folds is not None:
        assert len(result) == folds
    else:
        assert len(result) == (session_count - train) // test
    assert [f.index for f in result] == list(range(len(result)))
    assert result[-1].test_stop == session_count
    for previous, fold in zip(result, result[1:], strict=False):
        assert fold.test_start == previous.test_stop  # tests tile, no overlap, no hole
    for fold in result:
        assert fold.train_stop == fold.test_start  # train ends where test begins
        assert fold.test_stop - fold.test_start == test
        assert fold.train_start >= 0
        if anchored:
            assert fold.train_start == 0
        else:
            assert fold.train_stop - fold.train_start == train
