"""Walk-forward on the engine: per-fold metrics equal a fresh sweep of the fold's sessions."""

import numpy as np
import polars as pl
import pytest

from orb_pipeline import engine
from orb_pipeline.validation.runner import SplitSpec, walk_forward_on_stats, with_parameters
from orb_pipeline_tests.validation.test_engine_reference import frames, random_sessions, small_grid

METRICS = ["total_profit", "max_drawdown", "win_rate_percent", "trades", "days_traded", "sharpe"]


def test_fold_metrics_equal_sweeps_of_the_fold_sessions():
    rng = np.random.default_rng(21)
    series, table = frames(random_sessions(rng, count=10, ticks=120))
    grid = small_grid("dollars")
    costs = engine.Costs(0.002, 1.0, "bps")
    stats = engine.session_stats(series, table, grid, costs=costs)
    result = walk_forward_on_stats(stats, SplitSpec(train_sessions=4, test_sessions=2))
    assert result.chosen.height == 3
    for fold in result.chosen.iter_rows(named=True):
        rows = result.evaluations.filter(pl.col("fold") == fold["fold"]).sort("combination")
        for side in ("train", "test"):
            dates = table["session_date"][fold[f"{side}_start"] : fold[f"{side}_stop"]]
            swept = engine.sweep(
                series.filter(pl.col("session_date").is_in(dates.to_list())),
                table.filter(pl.col("session_date").is_in(dates.to_list())),
                grid,
                costs=costs,
            )
            for name in METRICS:
                assert rows[f"{side}_{name}"].to_list() == pytest.approx(swept[name].to_list()), (
                    name
                )
    # The stitched curve is the chosen parameters' ledger, session by session.
    for fold in result.chosen.iter_rows(named=True):
        params = {k: grid.row(fold["combination"], named=True)[k] for k in engine.GRID_COLUMNS}
        trades = engine.ledger(series, table, params, costs=costs)
        dates = table["session_date"][fold["test_start"] : fold["test_stop"]].to_list()
        expected = [trades.filter(pl.col("session_date") == d)["profit"].sum() for d in dates]
        got = result.equity.filter(pl.col("fold") == fold["fold"])["oos_net"].to_list()
        assert got == pytest.approx(expected, abs=1e-12)
    chosen = with_parameters(result.chosen, grid)
    assert chosen["stop_distance"].to_list() == [
        grid["stop_distance"][c] for c in chosen["combination"]
    ]


def test_train_test_mode_and_bad_split():
    rng = np.random.default_rng(22)
    series, table = frames(random_sessions(rng, count=6, ticks=60))
    stats = engine.session_stats(series, table, small_grid("dollars"))
    result = walk_forward_on_stats(stats, SplitSpec(mode="train_test", train_ratio=0.5))
    assert result.chosen.select("train_stop", "test_start", "test_stop").row(0) == (3, 3, 6)
    with pytest.raises(ValueError, match="test_sessions"):
        walk_forward_on_stats(stats, SplitSpec(train_sessions=4, test_sessions=3))
    with pytest.raises(ValueError, match="mode"):
        SplitSpec(mode="rolling")


@pytest.mark.parametrize(
    ("sessions", "sizes", "folds"),
    [(252, (126, 21), 6), (62, (31, 5), 6), (20, (10, 1), 10), (2, (1, 1), 1)],
)
def test_unset_sizes_adapt_to_the_window(sessions, sizes, folds):
    spec = SplitSpec()
    assert spec.sizes_for(sessions) == sizes
    planned = spec.folds_for(sessions)
    assert len(planned) == folds and planned[-1].test_stop == sessions
    assert SplitSpec(train_sessions=5).sizes_for(20) == (5, 2)


def test_one_session_window_cannot_be_split():
    with pytest.raises(ValueError, match="train_sessions"):
        SplitSpec().folds_for(1)


@pytest.mark.parametrize("distance_unit", ["dollars", "percent"])
def test_fast_window_metrics_equal_engine_aggregate(distance_unit):
    from orb_pipeline.validation.fold_metrics import contiguous_range, window_metrics

    rng = np.random.default_rng(23)
    series, table = frames(random_sessions(rng, count=9, ticks=120))
    stats = engine.session_stats(
        series,
        table,
        small_grid(distance_unit),
        costs=engine.Costs(0.001, 0.5, "bps"),
        distance_unit=distance_unit,
    )
    for start, stop in ((0, 9), (0, 1), (3, 7), (8, 9), (2, 4)):
        fast = window_metrics(stats, start, stop)
        slow = engine.aggregate(stats, np.arange(start, stop))
        for name in ("total_profit", "max_drawdown", "win_rate_percent", "trades", "days_traded"):
            assert fast[name].to_list() == slow[name].to_list(), (name, start, stop)
        assert fast["sharpe"].to_list() == pytest.approx(
            slow["sharpe"].to_list(), rel=1e-12, abs=1e-12
        )
    assert contiguous_range(np.array([3, 4, 5])) == (3, 6)
    assert contiguous_range(np.array([3, 5])) is None
    with pytest.raises(ValueError, match="outside"):
        window_metrics(stats, 5, 10)
