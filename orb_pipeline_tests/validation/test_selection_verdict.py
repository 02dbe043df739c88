"""The verdict rules (validation/selection_verdict.py) on hand-made rows."""

from __future__ import annotations

import pytest

from orb_pipeline.validation.selection_verdict import VerdictThresholds, row_verdict


def row(**values):
    base = {
        "deflated_sharpe": 0.97,
        "pbo": 0.1,
        "stability": 0.8,
        "walk_forward_folds": 6,
        "walk_forward_passed": 4,
    }
    return base | values


def test_promote_needs_every_check():
    verdict, reason = row_verdict(row())
    assert verdict == "promote"
    assert reason == (
        "deflated Sharpe 0.97 >= 0.95; PBO 0.10 <= 0.25; stability 0.80 >= 0.50; "
        "walk-forward passed 4 of 6 folds"
    )
    # Exactly at each threshold still promotes (inclusive); half of the folds is enough.
    assert (
        row_verdict(row(deflated_sharpe=0.95, pbo=0.25, stability=0.5, walk_forward_passed=3))[0]
        == "promote"
    )


@pytest.mark.parametrize(
    ("changes", "missing"),
    [
        ({"deflated_sharpe": 0.9}, "deflated Sharpe 0.90 < 0.95"),
        ({"pbo": 0.3}, "PBO 0.30 > 0.25"),
        ({"pbo": None}, "PBO not computed (window too short)"),
        ({"stability": 0.25}, "stability 0.25 < 0.50"),
        ({"stability": None}, "no parameter stability"),
        ({"walk_forward_passed": 2}, "walk-forward passed 2 of 6 folds"),
        ({"walk_forward_folds": None, "walk_forward_passed": None}, "not tested by a walk-forward"),
    ],
)
def test_watch_says_what_promotion_lacks(changes, missing):
    verdict, reason = row_verdict(row(**changes))
    assert verdict == "watch"
    assert reason.startswith("not promoted: ") and missing in reason
    assert reason.count(";") == 0  # only the one failing check is named


def test_reject_names_every_reason():
    verdict, reason = row_verdict(row(deflated_sharpe=0.2, pbo=0.6, walk_forward_passed=0))
    assert verdict == "reject"
    assert reason == (
        "deflated Sharpe 0.20 < 0.50: the best of the window's backtests on noise would look as "
        "good; PBO 0.60 > 0.50: the in-sample best usually ranks below the median out of sample; "
        "walk-forward: passed 0 of 6 folds"
    )
    assert row_verdict(row(pbo=0.5))[0] == "watch"  # 0.5 is not above 0.5
    assert row_verdict(row(deflated_sharpe=0.5))[0] == "watch"


def test_thresholds_are_checked_naming_the_field():
    with pytest.raises(ValueError, match="promote_pbo must be a number in"):
        VerdictThresholds(promote_pbo=1.5)
    with pytest.raises(ValueError, match="reject_deflated_sharpe .* must not exceed"):
        VerdictThresholds(reject_deflated_sharpe=0.99)
    with pytest.raises(ValueError, match="promote_pbo .* must not exceed reject_pbo"):
        VerdictThresholds(promote_pbo=0.6)
    custom = VerdictThresholds(promote_deflated_sharpe=0.9)
    assert row_verdict(row(deflated_sharpe=0.92), custom)[0] == "promote"
