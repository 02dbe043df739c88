"""The staging -> sweep -> leaderboard chain through Dagster, on SQLite/local and MySQL/Redis."""

from __future__ import annotations

import datetime as dt
import shutil

import dagster as dg
import polars as pl
import pytest
import sqlalchemy as sa

from orb_pipeline import engine
from orb_pipeline.results import schema
from orb_pipeline.results.ids import backtest_ids
from orb_pipeline.results.leaderboard import engine_options_of
from orb_pipeline.staging.resource import RedisStagingStore
from orb_pipeline.statistics.overfitting import probability_of_backtest_overfitting
from orb_pipeline_tests.results.selection_reference import expected_ranking
from orb_pipeline_tests.services import free_port
from orb_pipeline_tests.sweeps.chain import FIRST, LAST, SMALL_GRID, TICKER, Chain


def expected_rows(series, sessions) -> pl.DataFrame:
    """The engine on the whole grid at once, with the ids the store should hold."""
    settings = Chain({"grid": SMALL_GRID}).settings
    metrics = engine.sweep(series, sessions, settings.grid(), **settings.engine_options())
    return metrics.with_columns(
        backtest_id=backtest_ids(
            metrics,
            TICKER,
            dt.date.fromisoformat(FIRST),
            dt.date.fromisoformat(LAST),
            engine.ENGINE_VERSION,
            **settings.engine_options(),
        )
    ).sort("backtest_id")


def stored_results(chain: Chain) -> pl.DataFrame:
    store = chain.resources()["results"]
    return store.read(sa.select(schema.results).order_by(schema.results.c.backtest_id))


def assert_matches_engine(stored: pl.DataFrame, expected: pl.DataFrame) -> None:
    assert stored.height == expected.height
    assert stored["backtest_id"].to_list() == expected["backtest_id"].to_list()
    for metric, column in schema.METRIC_COLUMNS.items():
        want = expected[metric].to_list()
        got = stored[column].to_list()
        assert got == want, metric


def test_chain_materializes_exact_rows_metadata_and_leaderboard(chain, cached_window):
    instance = chain.instance()
    staged = chain.stage(instance)
    stage_metadata = staged.asset_materializations_for_node("staged_window")[0].metadata
    assert stage_metadata["window_start"].value == FIRST
    assert stage_metadata["window_end"].value == LAST

    for chunk in chain.settings.chunk_keys():
        result = chain.sweep(instance, chunk)
        metadata = result.asset_materializations_for_node("sweep_results")[0].metadata
        assert metadata["backtests"].value == 24
        assert metadata["seconds"].value >= 0 and metadata["backtests_per_second"].value > 0
        assert metadata["best_result"].value["backtest_id"] == metadata["best_backtest_id"].value
        assert metadata["rebuilt_from_cache"].value is False
        assert metadata["data_version"].value == stage_metadata["data_version"].value
        # 24 rows: MySQL writes them over its 2 connections, SQLite over its one.
        assert metadata["upsert_connections"].value == (
            2 if "MySQL" in metadata["results_store"].value else 1
        )
    stored = stored_results(chain)
    assert_matches_engine(stored, expected_rows(*cached_window))
    assert set(stored["data_version"]) == {stage_metadata["data_version"].value}

    board = chain.leaderboard(instance, top=4, plotted=2)
    metadata = board.asset_materializations_for_node("leaderboard")[0].metadata
    assert metadata["equity_curves"].value.startswith("![equity curves](data:image/png;base64,")
    assert metadata["parameter_heatmap"].value.startswith(
        "![parameter heatmap](data:image/png;base64,"
    )
    assert (
        "| # | parameters | backtest id | deflated Sharpe | Sharpe (annualized) | PBO | parameter "
        "stability |" in metadata["top_backtests_detail"].value
    )
    assert metadata["pbo_logits"].value.startswith("![PBO: logits")
    assert metadata["parameter_stability"].value.startswith("![parameter stability of #1]")
    series, sessions = cached_window
    expected = expected_ranking(stored, series, sessions)
    assert metadata["best_backtest_id"].value == expected[0][0]
    assert metadata["best_deflated_sharpe"].value == pytest.approx(expected[0][1], abs=5e-4)
    assert metadata["n_trials"].value == stored.height
    ranked = stored.filter(pl.col("backtest_id").is_in([item[0] for item in expected[:4]]))
    ranked = ranked.sort(
        pl.col("backtest_id").replace_strict({i: n for n, (i, _) in enumerate(expected)})
    )
    options = engine_options_of(stored.row(0, named=True))
    grid = stored.select(engine.GRID_COLUMNS)
    nets = engine.session_stats(series, sessions, grid, **options).net_units
    pbo = probability_of_backtest_overfitting(nets.T.astype(float), 10)
    assert metadata["pbo"].value == pbo.pbo

    store = chain.resources()["results"]
    trades = store.read(sa.select(schema.trades))
    top_ids = ranked["backtest_id"].head(4).to_list()
    assert sorted(trades["backtest_id"].unique().to_list()) == sorted(top_ids)
    for backtest in ranked.head(4).iter_rows(named=True):
        ledger = engine.ledger(
            series,
            sessions,
            {k: backtest[k] for k in engine.GRID_COLUMNS},
            **chain.settings.engine_options(),
        )
        mine = trades.filter(pl.col("backtest_id") == backtest["backtest_id"]).sort("trade_index")
        assert mine["profit"].to_list() == ledger["profit"].to_list()
        assert mine["exit_reason"].to_list() == ledger["exit_reason"].to_list()
    with_stats = stored_results(chain).filter(pl.col("trade_stats").is_not_null())
    assert sorted(with_stats["backtest_id"].to_list()) == sorted(top_ids)


def test_one_run_over_every_chunk_stores_exactly_the_grid_and_marks_each_chunk(
    chain, cached_window
):
    instance = chain.instance()
    chain.stage(instance)
    result = chain.sweep_range(instance, "000", "002")
    materializations = result.asset_materializations_for_node("sweep_results")
    assert sorted(m.partition for m in materializations) == ["000|SPY", "001|SPY", "002|SPY"]
    metadata = materializations[0].metadata
    assert (metadata["backtests"].value, metadata["chunks"].value) == (72, 3)
    assert metadata["per_chunk"].value.count("| SPY |") == 3
    stored = stored_results(chain)
    assert_matches_engine(stored, expected_rows(*cached_window))
    assert set(stored["run_id"]) == {result.run_id}
    best = stored.sort(["backtest_profit", "backtest_id"], descending=[True, False]).row(
        0, named=True
    )
    assert metadata["best_backtest_id"].value == best["backtest_id"]


def test_rerunning_a_partition_replaces_its_rows(chain, cached_window):
    instance = chain.instance()
    chain.stage(instance)
    chain.sweep(instance, "001")
    first = stored_results(chain)
    chain.sweep(instance, "001")
    second = stored_results(chain)
    assert first.height == second.height == 24
    assert first.drop("run_id").equals(second.drop("run_id"))
    assert first["run_id"][0] != second["run_id"][0]


def test_sweep_after_staged_data_vanished_rebuilds_and_is_correct(chain, cached_window):
    instance = chain.instance()
    chain.stage(instance)
    staging = chain.resources()["staging"]
    if isinstance(
        staging, RedisStagingStore
    ):  # every key of this test (its own prefix), as a flush would
        keys = list(staging.client().scan_iter(match=staging.key_prefix + "*"))
        assert keys
        staging.client().delete(*keys)
    else:
        shutil.rmtree(staging.directory)
    assert staging.current_version(TICKER) is None
    for chunk in chain.settings.chunk_keys():
        metadata = (
            chain.sweep(instance, chunk)
            .asset_materializations_for_node("sweep_results")[0]
            .metadata
        )
        assert metadata["rebuilt_from_cache"].value is (chunk == "000")
    assert_matches_engine(stored_results(chain), expected_rows(*cached_window))


def test_sweep_without_any_staging_names_what_to_do(chain):
    result = chain.sweep(chain.instance(), "000", raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error.to_string()
    assert "nothing staged for SPY" in failure and "materialize staged_window for SPY" in failure


def test_mysql_down_fails_naming_the_server_and_records_nothing(tmp_path, cached_window):
    port = free_port()  # nothing listens there
    chain = Chain(
        {
            "ticker": TICKER,
            "grid": SMALL_GRID,
            "cache_dir": str(tmp_path / "cache"),
            "staging_dir": str(tmp_path / "staging"),
            "mysql": {
                "host": "127.0.0.1",
                "port": port,
                "database": "results",
                "connect_timeout_seconds": 2,
            },
        }
    )
    instance = chain.instance()
    chain.stage(instance)
    result = chain.sweep(instance, "000", raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error.to_string()
    assert "results store MySQL 127.0.0.1:" + str(port) + "/results" in failure
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("sweep_results")), limit=10
    ).records
    assert records == []
