"""Picture legends name a ranked backtest by its parameters (ids share their window prefix)."""

from orb_pipeline.results.leaderboard import backtest_label


def test_label_names_rank_and_every_parameter():
    row = {
        "rank": 2,
        "range_seconds": 30,
        "stop_distance": 0.4,
        "limit_distance": 1.0,
        "stop_count_limit": 3,
        "stop_cooloff_period": 270,
        "backtest_id": "5254c4c7" + "0" * 24,
    }
    assert backtest_label(row) == (
        "#2 30 s range, stop $0.40, limit $1.00, at most 3 stops a day, 4 min 30 s cooloff"
    )


def test_labels_of_one_window_differ_where_shortened_ids_would_not():
    base = {
        "range_seconds": 30,
        "stop_distance": 1.9,
        "limit_distance": 3.0,
        "stop_count_limit": 2,
        "backtest_id": "91e3a3c0" + "1c" + "a" * 22,
    }
    first = backtest_label({**base, "rank": 1, "stop_cooloff_period": 30})
    third = backtest_label(
        {**base, "rank": 3, "stop_cooloff_period": 120, "backtest_id": "91e3a3c0" + "1c" + "b" * 22}
    )
    assert first != third
    assert first[len("#1 ") :] != third[len("#3 ") :]
