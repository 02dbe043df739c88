"""Issue 15: damaged staging, a staging server that is down, and windows whose data changed, on
the embedded stores and the real MySQL + Redis."""

from __future__ import annotations

import logging
import shutil

import polars as pl
import pytest
import sqlalchemy as sa

from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.results import schema
from orb_pipeline.staging.resource import (
    LocalStagingStore,
    RedisStagingStore,
    StagedDataMissingError,
)
from orb_pipeline_tests.services import free_port
from orb_pipeline_tests.staging.window_data import write_cached_window
from orb_pipeline_tests.sweeps.chain import SMALL_GRID, TICKER, Chain, embedded_chain
from orb_pipeline_tests.sweeps.test_chain import assert_matches_engine, expected_rows


def warnings_of(instance, result) -> str:
    """The warnings a run logged (Dagster's log manager, not Python's root logger)."""
    return "\n".join(
        entry.user_message
        for entry in instance.all_logs(result.run_id)
        if entry.level == logging.WARNING
    )


def staged_version(staging) -> str:
    version = staging.current_version(TICKER)
    assert version
    return version


def damage_manifest(staging, how: str) -> None:
    """Truncate the manifest or break one of its fields, as a crash or an edit would."""
    version = staged_version(staging)
    if isinstance(staging, LocalStagingStore):
        path = staging._dir(TICKER, version) / "manifest"
        text = path.read_bytes()
        if how == "truncated":
            path.write_bytes(text[: len(text) // 2])
        elif how == "not_an_object":
            path.write_bytes(b"[1, 2]")
        else:
            path.write_bytes(text.replace(b'"series.parts": "1"', b'"series.parts": "one"'))
    else:
        key = staging._key(TICKER, version, "manifest")
        client = staging.client()
        if how == "truncated":
            client.hdel(key, "series.0", "window_end")
        elif how == "not_an_object":
            client.hset(key, "series.0", "no-size-and-digest")
        else:
            client.hset(key, "series.parts", "one")


@pytest.mark.parametrize("how", ["truncated", "not_an_object", "bad_field"])
def test_malformed_manifest_is_rebuilt_and_said(chain, cached_window, how):
    instance = chain.instance()
    chain.stage(instance)
    staging = chain.resources()["staging"]
    damage_manifest(staging, how)
    with pytest.raises(StagedDataMissingError, match="manifest .*malformed"):
        staging.get(TICKER, staged_version(staging))

    said = ""
    for chunk in chain.settings.chunk_keys():
        result = chain.sweep(instance, chunk)
        metadata = result.asset_materializations_for_node("sweep_results")[0].metadata
        assert metadata["rebuilt_from_cache"].value is (chunk == "000")
        said += warnings_of(instance, result)
    assert "malformed" in said and "staging it again" in said
    assert_matches_engine(stored_results(chain), expected_rows(*cached_window))
    assert staging.get(TICKER, staged_version(staging)).series.equals(cached_window[0])


def test_a_damaged_current_pointer_reads_as_nothing_staged(tmp_path, cached_window):
    """A garbled ``current`` file used to raise a raw UnicodeDecodeError/ValueError."""
    chain = embedded_chain(tmp_path, TICKER)
    instance = chain.instance()
    chain.stage(instance)
    (tmp_path / "staging" / TICKER / "current").write_bytes(b"\xff/../x")
    assert chain.resources()["staging"].current_version(TICKER) is None
    assert chain.sweep(instance, "000").success  # the window staged_window recorded is used


def stored_results(chain: Chain) -> pl.DataFrame:
    store = chain.resources()["results"]
    return store.read(sa.select(schema.results).order_by(schema.results.c.backtest_id))


def test_redis_down_sweeps_from_the_parquet_cache_and_says_so(
    tmp_path, cached_window, redis_settings
):
    redis = {k: redis_settings[k] for k in ("host", "port", "password", "key_prefix")}
    spec = {
        "ticker": TICKER,
        "grid": SMALL_GRID,
        "cache_dir": str(tmp_path / "cache"),
        "sqlite_path": str(tmp_path / "r.sqlite"),
        "redis": redis,
    }
    instance = Chain(spec).instance()
    Chain(spec).stage(instance)
    down = free_port()  # nothing listens there: Redis is down
    chain = Chain({**spec, "redis": {**redis, "port": down}})
    said = ""
    for chunk in chain.settings.chunk_keys():
        result = chain.sweep(instance, chunk)
        metadata = result.asset_materializations_for_node("sweep_results")[0].metadata
        assert metadata["rebuilt_from_cache"].value is True
        said += warnings_of(instance, result)
    assert f"cannot reach the staging server Redis redis://127.0.0.1:{down}/0" in said
    assert "from the Parquet cache (not staging it: the staging server is down)" in said
    assert_matches_engine(stored_results(chain), expected_rows(*cached_window))


def change_one_session(tmp_path, cached_window) -> None:
    """Rewrite one session's cached series with other prices (a new data version)."""
    series, sessions = cached_window
    changed = series.with_columns(
        pl.when(pl.col("session_date") == sessions["session_date"][3])
        .then(pl.col("price") + 0.5)
        .otherwise(pl.col("price"))
        .alias("price")
    )
    write_cached_window(
        CacheStore(url=str(tmp_path / "cache")), TICKER, changed, sessions.slice(3, 1)
    )


def drop_staged(staging) -> None:
    if isinstance(staging, RedisStagingStore):
        keys = list(staging.client().scan_iter(match=staging.key_prefix + "*"))
        staging.client().delete(*keys)
    else:
        shutil.rmtree(staging.directory)


def test_a_window_never_mixes_data_versions(chain, cached_window, tmp_path):
    """Data changed + staged copy gone: a re-swept chunk used to take the new data while the
    others kept the old, and the leaderboard ranked the mix with a warning."""
    instance = chain.instance()
    chain.stage(instance)
    chain.sweep(instance, "000")
    chain.sweep(instance, "001")
    change_one_session(tmp_path, cached_window)
    drop_staged(chain.resources()["staging"])

    refused = chain.sweep(instance, "002", raise_on_error=False)
    assert not refused.success
    failure = refused.get_step_failure_events()[0].event_specific_data.error.to_string()
    assert "changed since staged_window staged it" in failure
    assert "Re-materialize staged_window for SPY, then every sweep_results chunk" in failure
    assert stored_results(chain).height == 48  # chunks 000 and 001 only

    # Restaged on the new data, only chunk 002 re-swept: the leaderboard refuses the mix and names
    # the stale chunks.
    chain.stage(instance)
    chain.sweep(instance, "002")
    board = chain.leaderboard(instance, raise_on_error=False, top=3)
    assert not board.success
    failure = board.get_step_failure_events()[0].event_specific_data.error.to_string()
    assert "48 of 72 results rows were swept on another data version" in failure
    assert "chunk 000 (run " in failure and "chunk 001 (run " in failure
    assert "chunk 002" not in failure
    assert "re-run sweep_results for those chunks of SPY" in failure

    chain.sweep(instance, "000")
    chain.sweep(instance, "001")
    assert chain.leaderboard(instance, top=3).success


def test_a_damaged_cache_file_stops_staging_naming_the_file(tmp_path, cached_window):
    """Issue 15: a flipped bit in one cached series file used to change 448 of 9,747 profits
    with no error anywhere down the chain."""
    chain = embedded_chain(tmp_path, TICKER)
    path = tmp_path / "cache" / "series" / TICKER / "2025-01-08.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x04
    path.write_bytes(bytes(data))
    with pytest.raises(
        Exception, match="cache file .*series/SPY/2025-01-08.parquet does not match"
    ):
        chain.stage(chain.instance())
