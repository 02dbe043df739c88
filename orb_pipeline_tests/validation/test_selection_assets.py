"""verdict and universe_ranking through Dagster on the real chain, two tickers sharing one results
store (SQLite/local and MySQL/Redis): stored verdicts follow the rules from the stored inputs, the
universe ranking matches a plain-Python count, and re-runs neither lose nor duplicate rows."""

from __future__ import annotations

import datetime as dt
import statistics

import dagster as dg
import polars as pl
import pytest
import sqlalchemy as sa

from orb_pipeline.partitions import TICKERS_PARTITIONS_NAME
from orb_pipeline.results import schema as results_schema
from orb_pipeline.results.summary import leaderboard_text
from orb_pipeline.validation import schema
from orb_pipeline.validation.assets import build_walk_forward
from orb_pipeline.validation.selection_assets import universe_ranking_asset, verdict
from orb_pipeline.validation.selection_verdict import row_verdict
from orb_pipeline.validation.universe import universe_text
from orb_pipeline_tests.sweeps.chain import FIRST, LAST, Chain, chain_for, write_window

TICKERS = ("SPY", "QQQ")
WINDOW = (dt.date.fromisoformat(FIRST), dt.date.fromisoformat(LAST))
WALK_CONFIG = {"train_sessions": 8, "test_sessions": 4, "max_generalization_gap": 1.5}


@pytest.fixture(params=["embedded", "servers"])
def chains(request, tmp_path) -> dict[str, Chain]:
    for ticker in TICKERS:
        write_window(tmp_path / "cache", ticker)
    return {ticker: chain_for(request, tmp_path, ticker) for ticker in TICKERS}


def materialize(chain, instance, assets, ticker=None, config=None):
    return dg.materialize(
        assets,
        instance=instance,
        resources=chain.resources(),
        partition_key=ticker,
        run_config={"ops": config} if config else None,
    )


def test_verdicts_and_universe(chains):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(TICKERS_PARTITIONS_NAME, list(TICKERS))
    for chain in chains.values():
        chain.stage(instance)
        for chunk in chain.settings.chunk_keys():
            chain.sweep(instance, chunk)
        chain.leaderboard(instance, top=6, plotted=1)
    spy = chains["SPY"]
    walk = build_walk_forward(spy.settings.grid())
    materialize(spy, instance, [walk], "SPY", {"walk_forward": {"config": WALK_CONFIG}})
    store = spy.resources()["results"]
    board = results_schema.leaderboard_rows

    for _ in range(2):  # a re-run replaces the verdicts in place
        for ticker in TICKERS:
            result = materialize(spy, instance, [verdict], ticker)
            metadata = result.asset_materializations_for_node("verdict")[0].metadata
            assert sum(metadata[f"{v}_rows"].value for v in ("promote", "watch", "reject")) == 6
    stored = store.read(sa.select(board)).sort("ticker", "rank")
    assert stored.height == 12 and stored["verdict"].null_count() == 0

    # SPY's walk-forward folds per parameters, counted here from the stored fold rows.
    results = store.read(sa.select(schema.walk_forward_results))
    for row in stored.iter_rows(named=True):
        if row["ticker"] == "QQQ":
            assert row["walk_forward_folds"] is None and row["verdict"] != "promote"
        else:
            mine = [
                r
                for r in results.iter_rows(named=True)
                if all(
                    r[k] == row[k]
                    for k in (
                        "range_seconds",
                        "stop_distance",
                        "limit_distance",
                        "stop_count_limit",
                        "stop_cooloff_period",
                    )
                )
            ]
            assert row["walk_forward_folds"] == len({r["fold"] for r in mine}) == 3
            assert row["walk_forward_passed"] == sum(r["promotion_ready"] for r in mine)
        assert (row["verdict"], row["verdict_reason"]) == row_verdict(row)

    for _ in range(2):
        result = materialize(
            spy,
            instance,
            [universe_ranking_asset],
            config={"universe_ranking": {"config": {"window_start": FIRST, "window_end": LAST}}},
        )
    metadata = result.asset_materializations_for_node("universe_ranking")[0].metadata
    assert metadata["tickers"].value == "QQQ, SPY"
    ranking = store.read(sa.select(schema.universe_rankings)).sort("rank")
    assert ranking.height == metadata["parameter_sets"].value == 72  # stored once, not twice
    deflated = store.read(sa.select(results_schema.window_deflated))
    rows = store.read(sa.select(results_schema.results)).join(deflated, on="backtest_id")
    best = ranking.row(0, named=True)
    keys = (
        "range_seconds",
        "stop_distance",
        "stop_count_limit",
        "stop_cooloff_period",
        "limit_distance",
    )
    same = rows.filter(*[pl.col(k) == best[k] for k in keys])
    assert best["tickers_ranked"] == same.height
    assert best["tickers_beating_noise"] == sum(v > 0.5 for v in same["deflated_sharpe"])
    assert best["median_deflated_sharpe"] == pytest.approx(
        statistics.median(same["deflated_sharpe"].to_list())
    )
    shares = ranking["share_beating_noise"].to_list()
    assert shares == sorted(shares, reverse=True)

    # The demo's text: each leaderboard row's verdict with its reason, then the universe view.
    text = leaderboard_text(store, "SPY", *WINDOW)
    first = stored.filter(pl.col("ticker") == "SPY").row(0, named=True)
    assert f"      {first['verdict']}: {first['verdict_reason']}" in text.splitlines()
    universe = universe_text(store, *WINDOW, top=3).splitlines()
    assert universe[0].startswith(f"== universe {FIRST}..{LAST}: parameter sets that hold up")
    assert "share of tickers beating noise" in universe[1] and len(universe) == 2 + 3 + 3


def test_bad_verdict_configuration_is_named(chains):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(TICKERS_PARTITIONS_NAME, ["SPY"])
    with pytest.raises(Exception, match="promote_pbo"):
        materialize(
            chains["SPY"],
            instance,
            [verdict],
            "SPY",
            {"verdict": {"config": {"promote_pbo": 0.8}}},
        )
    with pytest.raises(Exception, match="window_start and window_end must be given together"):
        materialize(
            chains["SPY"],
            instance,
            [universe_ranking_asset],
            config={"universe_ranking": {"config": {"window_start": FIRST}}},
        )
