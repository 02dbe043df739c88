"""The leaderboard's pictures answer a trader's questions: drawdowns, distinct curves, the best
cell and a warning when it lies on the grid's edge (results/plots.py)."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import polars as pl
import pytest
from matplotlib import image as mpimg

from orb_pipeline.results import plots


def test_drawdown_is_the_fall_from_the_running_high_starting_at_zero():
    assert plots.drawdown(np.array([1.0, 3.0, 2.0, 5.0, 4.0])).tolist() == [0, 0, -1, 0, -1]
    assert plots.drawdown(np.array([-1.0, -2.0, 1.0, 0.5])).tolist() == [-1, -2, 0, -0.5]
    assert plots.drawdown(np.array([])).size == 0


def test_distinct_curves_leave_out_near_duplicates_in_rank_order():
    rng = np.random.default_rng(3)
    first = rng.normal(size=60)
    other = rng.normal(size=60)
    nets = np.stack(
        [
            first,
            first * 2 + 0.01,  # the same days, scaled: correlation 1
            other,
            first + rng.normal(scale=0.01, size=60),  # near-duplicate of row 0
            np.zeros(60),  # never trades
            np.zeros(60),  # a second flat line is a duplicate of the first flat one
            -first,  # the opposite of row 0 is distinct
        ]
    )
    assert plots.distinct_curves(nets, limit=10) == [0, 2, 4, 6]
    assert plots.distinct_curves(nets, limit=2) == [0, 2]
    assert plots.distinct_curves(nets, limit=10, max_correlation=1.0) == [0, 1, 2, 3, 4, 6]


def test_edge_warnings_name_each_parameter_on_the_grid_edge():
    values = {
        "range_seconds": [30],
        "stop_distance": [0.1, 0.2, 0.3],
        "limit_distance": [1.0, 2.0, 3.0],
        "stop_count_limit": [1, 2, 3],
        "stop_cooloff_period": [30, 60, 270],
    }
    best = {
        "range_seconds": 30,
        "stop_distance": 0.1,
        "limit_distance": 2.0,
        "stop_count_limit": 2,
        "stop_cooloff_period": 270,
    }
    assert plots.edge_warnings(values, best) == [
        "best stop distance 0.1 is the smallest the grid tried: widen the grid",
        "best cooloff after a stop 4 min 30 s is the largest the grid tried: widen the grid",
    ]
    inside = {**best, "stop_distance": 0.2, "stop_cooloff_period": 60}
    assert plots.edge_warnings(values, inside) == []


def test_panels_split_by_the_first_parameter_with_few_values():
    assert plots.panel_parameter({"stop_count_limit": [1, 2, 3], "range_seconds": [30]}) == (
        "stop_count_limit"
    )
    assert plots.panel_parameter({"stop_count_limit": [1], "range_seconds": [15, 30]}) == (
        "range_seconds"
    )
    assert (
        plots.panel_parameter(
            {"stop_count_limit": list(range(1, 9)), "stop_cooloff_period": list(range(9))}
        )
        is None
    )


def _pixels(png: bytes) -> np.ndarray:
    return (mpimg.imread(io.BytesIO(png), format="png")[..., :3] * 255).round().astype(int)


def test_heatmap_rings_the_best_cell_in_black_and_prints_the_warning():
    cells = [
        {
            "stop_distance": s,
            "limit_distance": limit,
            "stop_count_limit": c,
            "sharpe": float(c * s - limit),
            "backtest_profit": 0.0,
        }
        for s in (0.1, 0.2, 0.3)
        for limit in (1.0, 2.0)
        for c in (1, 2)
    ]
    best = {"stop_distance": 0.3, "limit_distance": 1.0, "stop_count_limit": 2}
    with_warning = plots.heatmap_figure(
        "t", pl.DataFrame(cells), best, panel_by="stop_count_limit", warnings=["edge"]
    )
    without = plots.heatmap_figure("t", pl.DataFrame(cells), best, panel_by="stop_count_limit")
    assert with_warning[:8] == b"\x89PNG\r\n\x1a\n"
    black = (_pixels(without).sum(axis=2) < 60).sum()
    assert black > 200  # the ring (axes and text are thin; the ring is 2.6 points wide)
    red = _pixels(with_warning)
    firebrick = (np.abs(red - np.array([178, 34, 34])).sum(axis=2) < 40).sum()
    assert firebrick > 20 and _pixels(with_warning).shape[0] > _pixels(without).shape[0]


def test_equity_figure_draws_curves_drawdowns_and_the_underlying_in_percent():
    dates = [dt.date(2025, 1, 2) + dt.timedelta(days=i) for i in range(10)]
    curve = pl.DataFrame({"session_date": dates, "equity": np.linspace(0, 5, 10)})
    series = pl.DataFrame({"session_date": dates, "price": np.linspace(100.0, 90.0, 10)})
    move = plots.underlying_move(series, pl.DataFrame({"session_date": dates}))
    assert move["move_percent"].round(6).to_list()[-1] == -10.0
    assert move["move"].to_list()[-1] == -10.0
    png = plots.equity_figure("SPY: stop $0.40", {"#1 stop $0.40": curve}, move, note="n")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_plotted_curves_follow_each_rows_cost_model():
    from types import SimpleNamespace

    from orb_pipeline import engine
    from orb_pipeline.results.leaderboard import plotted_curves
    from orb_pipeline_tests.staging.window_data import make_window

    series, sessions = make_window(n_sessions=8, ticks_per_session=200)
    params = {"range_seconds": 30, "stop_distance": 0.05, "stop_count_limit": 2,
              "stop_cooloff_period": 0, "limit_distance": 0.1}  # fmt: skip
    models = [(0.0, 0.0, "dollars"), (0.005, 2.0, "bps"), (0.0, 0.01, "dollars")]
    ranked = pl.DataFrame(
        [{"rank": i + 1, **params, "stop_distance": 0.05 * (1 + (i == 2)),
          "commission_per_share": c, "slippage": s, "slippage_unit": u,
          "distance_unit": "dollars"} for i, (c, s, u) in enumerate(models)]
    )  # fmt: skip
    window = SimpleNamespace(series=series, sessions=sessions)
    curves, _ = plotted_curves(window, ranked, plotted=3, max_correlation=1.0)
    assert len(curves) == 3
    for (label, curve), row in zip(curves.items(), ranked.iter_rows(named=True), strict=True):
        costs = engine.Costs(row["commission_per_share"], row["slippage"], row["slippage_unit"])
        grid = pl.DataFrame([{k: row[k] for k in engine.GRID_COLUMNS}])
        expected = engine.sweep(series, sessions, grid, costs=costs)["total_profit"][0]
        assert label.startswith(f"#{row['rank']} ")
        assert curve["equity"][-1] == pytest.approx(expected, abs=1e-9)
