"""walk_forward and monte_carlo through Dagster on the real chain (staging -> sweep -> leaderboard),
on SQLite/local files and on MySQL/Redis, checked against fresh engine runs and the slow references."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import numpy as np
import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from orb_pipeline import engine
from orb_pipeline.validation import schema
from orb_pipeline.validation.assets import build_walk_forward, monte_carlo
from orb_pipeline.validation.config import WalkForwardConfig
from orb_pipeline.validation.walk_forward_run import sessions_for_grid
from orb_pipeline_tests.sweeps.chain import (
    Chain,
    chain_for,
    embedded_chain,
    write_window,
)
from orb_pipeline_tests.validation import reference

TICKER = "QQQ"
WALK_CONFIG = {
    "train_sessions": 8,
    "test_sessions": 4,
    "min_test_win_rate": 40.0,
    "max_generalization_gap": 1.5,
}


@pytest.fixture
def window(tmp_path):
    return write_window(tmp_path / "cache", TICKER)


@pytest.fixture(params=["embedded", "servers"])
def chain(request, tmp_path, window) -> Chain:
    return chain_for(request, tmp_path, TICKER)


def run_walk_forward(chain, instance, config=WALK_CONFIG, raise_on_error=True):
    return dg.materialize(
        [build_walk_forward(chain.settings.grid())],
        instance=instance,
        resources=chain.resources(),
        partition_key=TICKER,
        run_config={"ops": {"walk_forward": {"config": config}}},
        raise_on_error=raise_on_error,
    )


def read(chain, table) -> pl.DataFrame:
    return chain.resources()["results"].read(sa.select(table))


def test_walk_forward_stores_folds_equity_and_picture(chain, window):
    series, sessions = window
    instance = chain.instance()
    chain.stage(instance)
    result = run_walk_forward(chain, instance)
    metadata = result.asset_materializations_for_node("walk_forward")[0].metadata
    assert metadata["equity"].value.startswith(
        "![in-sample vs out-of-sample equity](data:image/png;base64,"
    )
    assert metadata["folds"].value == 3 and metadata["combinations"].value == 72
    assert "| fold | train from | test from |" in metadata["folds_table"].value
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "stored_rows_complete" and check.passed
    assert check.metadata["stored"].value["walk_forward_results"] == 3 * 72

    grid = chain.settings.grid()
    folds = read(chain, schema.walk_forward_folds).sort("fold")
    assert folds.height == 3
    assert read(chain, schema.walk_forward_results).height == 3 * 72
    dates = sessions["session_date"].to_list()
    for fold in folds.iter_rows(named=True):
        # Independent pick: fresh sweeps of the training sessions, scored by the reference.
        index = fold["fold"]
        train_dates = dates[index * 4 : index * 4 + 8]
        test_dates = dates[index * 4 + 8 : index * 4 + 12]
        assert str(fold["train_start"]) == str(train_dates[0]) and str(fold["test_end"]) == str(
            test_dates[-1]
        )
        swept = engine.sweep(
            series.filter(pl.col("session_date").is_in(train_dates)),
            sessions.filter(pl.col("session_date").is_in(train_dates)),
            grid,
        )
        scores = [reference.score(row, 8) for row in swept.iter_rows(named=True)]
        assert fold["combination"] == int(np.argmax(scores))
        assert fold["stop_distance"] == grid["stop_distance"][fold["combination"]]

    equity = read(chain, schema.walk_forward_equity).sort("session_date")
    assert equity.height == 12
    expected = []
    for fold in folds.iter_rows(named=True):
        params = {k: grid[k][fold["combination"]] for k in engine.GRID_COLUMNS}
        trades = engine.ledger(series, sessions, params)
        for date in dates[8 + fold["fold"] * 4 : 12 + fold["fold"] * 4]:
            expected.append(trades.filter(pl.col("session_date") == date)["profit"].sum())
    assert equity["oos_net"].to_list() == pytest.approx(expected, abs=1e-9)
    assert equity["oos_equity"].to_list() == pytest.approx(np.cumsum(expected).tolist(), abs=1e-9)
    runs = read(chain, schema.walk_forward_runs)
    assert runs.height == 1
    assert runs["oos_total_profit"][0] == pytest.approx(sum(expected), abs=1e-9)

    # A re-run replaces its rows: same id, same counts.
    run_walk_forward(chain, instance)
    assert read(chain, schema.walk_forward_runs).height == 1
    assert read(chain, schema.walk_forward_results).height == 3 * 72
    assert read(chain, schema.walk_forward_equity).height == 12


def test_monte_carlo_matches_slow_bootstrap_of_the_ledgers(chain, window):
    series, sessions = window
    instance = chain.instance()
    chain.stage(instance)
    for chunk in chain.settings.chunk_keys():
        chain.sweep(instance, chunk)
    chain.leaderboard(instance, top=3, plotted=1)
    result = dg.materialize(
        [monte_carlo],
        instance=instance,
        resources=chain.resources(),
        partition_key=TICKER,
        run_config={"ops": {"monte_carlo": {"config": {"top": 3, "samples": 300, "seed": 9}}}},
    )
    metadata = result.asset_materializations_for_node("monte_carlo")[0].metadata
    assert metadata["bootstrap"].value.startswith("![bootstrap percentiles](data:image/png;base64,")
    stored = read(chain, schema.monte_carlo).sort("rank")
    assert stored.height == 3 and stored["seed"].to_list() == [9, 9, 9]
    from orb_pipeline.results import schema as results_schema

    backtests = read(chain, results_schema.results)
    for row in stored.iter_rows(named=True):
        backtest = backtests.filter(pl.col("backtest_id") == row["backtest_id"]).row(0, named=True)
        trades = engine.ledger(
            series,
            sessions,
            {k: backtest[k] for k in engine.GRID_COLUMNS},
            **chain.settings.engine_options(),
        )
        nets = [
            trades.filter(pl.col("session_date") == d)["profit"].sum()
            for d in sessions["session_date"]
        ]
        slow = reference.bootstrap(nets, samples=300, seed=9)
        for key, value in slow.items():
            assert row[key] == pytest.approx(value, abs=1e-9), key

    # Asking for more backtests than the leaderboard holds: its 3 (ranked by deflated Sharpe),
    # every one with its ledger.
    more = dg.materialize(
        [monte_carlo],
        instance=instance,
        resources=chain.resources(),
        partition_key=TICKER,
        run_config={"ops": {"monte_carlo": {"config": {"top": 5, "samples": 50, "seed": 9}}}},
    )
    metadata = more.asset_materializations_for_node("monte_carlo")[0].metadata
    assert metadata["backtests"].value == 3 and metadata["backtests_without_ledger"].value == 0
    assert read(chain, schema.monte_carlo).height == 3


def test_bad_configuration_is_named_before_any_run(tmp_path, window):
    chain = embedded_chain(tmp_path, TICKER)
    instance = chain.instance()
    chain.stage(instance)
    with pytest.raises(dg.DagsterInvalidConfigError, match="min_test_sharpe"):
        run_walk_forward(chain, instance, {"min_test_sharpe": 1.0})
    for config, name in (
        ({"test_sessions": 0}, "test_sessions"),
        ({"distance_unit": "pips"}, "distance_unit"),
        ({"mode": "rolling"}, "mode"),
        ({"train_sessions": 15, "test_sessions": 4, "folds": 2}, "folds"),
        ({"train_sessions": 18, "test_sessions": 4}, "train_sessions"),
    ):
        result = run_walk_forward(chain, instance, config, raise_on_error=False)
        assert not result.success
        events = result.get_step_failure_events()
        message = events[0].event_specific_data.error.to_string() if events else str(result)
        assert name in message, (config, message)
    if _has_table(chain):  # created by the runs that got past config validation
        assert read(chain, schema.walk_forward_runs).height == 0


def _has_table(chain) -> bool:
    engine_ = chain.resources()["results"].engine()
    return sa.inspect(engine_).has_table(schema.walk_forward_runs.name)


def test_iv_scaled_grid_needs_iv():
    sessions = pl.DataFrame({"session_date": [dt.date(2025, 1, 2), dt.date(2025, 1, 3)]})
    no_iv = pl.DataFrame(
        {
            "session_date": sessions["session_date"],
            "range_seconds": [30, 30],
            "open_price": [100.0, 101.0],
            "atm_iv": [None, None],
        },
        schema_overrides={"atm_iv": pl.Float64},
    )
    config = WalkForwardConfig(distance_unit="expected_move")
    grid = engine.make_grid(
        range_seconds=30,
        stop_distance=0.5,
        stop_count_limit=1,
        stop_cooloff_period=0,
        limit_distance=1.0,
    )
    with pytest.raises(ValueError, match="distance_unit='expected_move'"):
        sessions_for_grid(sessions, config, grid, lambda seconds: no_iv)
    half = no_iv.with_columns(atm_iv=pl.Series([0.2, None]))
    with_move, skipped = sessions_for_grid(sessions, config, grid, lambda seconds: half)
    assert skipped == 1 and with_move["expected_move"][0] == pytest.approx(100 * 0.2 / 252**0.5)
    assert sessions_for_grid(sessions, WalkForwardConfig(), grid, None) == (sessions, 0)


def test_walk_forward_in_small_blocks_stores_exactly_what_one_block_stores(
    tmp_path, window, monkeypatch
):
    """Issue 15: a 5 M-row grid took all 23 GB and the kernel killed the step; the grid is now
    validated in blocks of bounded memory. Forced to 5 parameter sets per block (15 blocks), the
    stored rows equal those of a one-block run."""
    from orb_pipeline.validation import runner

    chain = embedded_chain(tmp_path, TICKER)
    instance = chain.instance()
    chain.stage(instance)

    def stored() -> dict[str, pl.DataFrame]:
        frames = {}
        for table in schema.WALK_FORWARD_TABLES:
            frame = read(chain, table).drop("run_id", strict=False)
            keys = [c.name for c in table.primary_key.columns]
            frames[table.name] = frame.sort(keys)
        return frames

    # 20 sessions x 80 bytes + 2 x 3 folds x 256 bytes = 3,136 bytes per parameter set.
    monkeypatch.setattr(runner, "STATS_BLOCK_BYTES", 5 * 3_136 + 3_135)
    small = run_walk_forward(chain, instance)
    metadata = small.asset_materializations_for_node("walk_forward")[0].metadata
    assert metadata["blocks"].value == 15 and metadata["rows_per_block"].value == 5
    assert small.get_asset_check_evaluations()[0].passed
    in_blocks = stored()
    assert in_blocks[schema.walk_forward_results.name].height == 3 * 72

    monkeypatch.undo()
    whole = run_walk_forward(chain, instance)
    assert whole.asset_materializations_for_node("walk_forward")[0].metadata["blocks"].value == 1
    for name, frame in stored().items():
        assert_frame_equal(in_blocks[name], frame, check_exact=True)


def test_walk_forward_fails_with_a_reason_when_one_block_cannot_fit(tmp_path, window, monkeypatch):
    """The limit left: not even one block fits; the step fails before the engine, naming sizes."""
    from orb_pipeline.validation import runner

    chain = embedded_chain(tmp_path, TICKER)
    instance = chain.instance()
    chain.stage(instance)
    # 72 x (3,136 + 80) bytes = 231,552 bytes needed; pretend 100,000 are free.
    monkeypatch.setattr(runner, "available_memory_bytes", lambda: 100_000)
    result = run_walk_forward(chain, instance, raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error.to_string()
    assert "ValidationMemoryError: walk_forward over 72 parameter sets needs about" in failure
    assert "one block of 72 parameter sets x 20 sessions x 3 folds" in failure
    assert read(chain, schema.walk_forward_runs).height == 0
