"""Staging stores: exact round trips, versioned keys, parts <= the size limit, verified reads."""

from __future__ import annotations

import time

import polars as pl
import pyarrow.ipc
import pytest
import redis

from orb_pipeline.staging.resource import (
    LocalStagingStore,
    RedisStagingStore,
    StagedDataMissingError,
)
from orb_pipeline_tests.staging.conftest import redis_staging
from orb_pipeline_tests.staging.window_data import make_window


@pytest.mark.parametrize("compression", ["lz4", "zstd", "uncompressed"])
def test_round_trip_is_exact(make_staging, compression):
    staging = make_staging(compression=compression)
    series, sessions = make_window(n_sessions=5)
    report = staging.put("SPY", "v1", series, sessions)
    window = staging.get("SPY", "v1")
    assert window.series.equals(series) and window.series.schema == series.schema
    assert window.sessions.equals(sessions)
    assert (window.window_start, window.window_end) == (
        sessions["session_date"].min(),
        sessions["session_date"].max(),
    )
    assert staging.current_version("SPY") == "v1"
    assert report.parts == 2 and report.payload_bytes > 0


def test_large_payloads_are_split_into_parts_no_bigger_than_the_limit(make_staging):
    staging = make_staging(part_megabytes=1, compression="uncompressed")
    series, sessions = make_window(n_sessions=40, ticks_per_session=2000)  # ~2 MB of series
    report = staging.put("SPY", "v1", series, sessions)
    assert report.parts >= 3
    manifest = staging._read_manifest("SPY", "v1")
    sizes = [
        int(manifest[key].split(" ")[0])
        for key in manifest
        if key.startswith("series.") and key.split(".")[1].isdigit()
    ]
    assert len(sizes) == int(manifest["series.parts"]) >= 2
    assert max(sizes) <= 1024 * 1024 and sum(sizes) == int(manifest["series.bytes"])
    assert staging.get("SPY", "v1").series.equals(series)


def test_versions_never_mix(make_staging):
    staging = make_staging()
    old_series, sessions = make_window(n_sessions=3, seed=1)
    new_series, _ = make_window(n_sessions=3, seed=2)
    staging.put("SPY", "old", old_series, sessions)
    staging.put("SPY", "new", new_series, sessions)
    assert staging.get("SPY", "old").series.equals(old_series)
    assert staging.get("SPY", "new").series.equals(new_series)
    assert staging.current_version("SPY") == "new"
    with pytest.raises(StagedDataMissingError, match="QQQ @ new"):
        staging.get("QQQ", "new")


def _damage(staging, how: str) -> None:
    if isinstance(staging, LocalStagingStore):
        path = staging._dir("SPY", "v1") / "series.1"
        if how == "drop":
            path.unlink()
        else:
            path.write_bytes(b"x" + path.read_bytes()[1:])
    else:
        key = staging._key("SPY", "v1", "part", "series.1")
        if how == "drop":
            staging.client().delete(key)
        else:
            staging.client().setrange(key, 0, b"x")


@pytest.mark.parametrize(
    "how,message",
    [("drop", "series.1 .* is missing"), ("corrupt", "series.1 .* fails its size/checksum")],
)
def test_partial_or_corrupt_data_is_never_returned(make_staging, how, message):
    staging = make_staging(part_megabytes=1, compression="uncompressed")
    series, sessions = make_window(n_sessions=40, ticks_per_session=2000)
    staging.put("SPY", "v1", series, sessions)
    _damage(staging, how)
    with pytest.raises(StagedDataMissingError, match=message):
        staging.get("SPY", "v1")


def test_staged_data_expires(make_staging):
    staging = make_staging(ttl_seconds=1)
    series, sessions = make_window(n_sessions=2)
    staging.put("SPY", "v1", series, sessions)
    time.sleep(1.3)
    with pytest.raises(StagedDataMissingError, match="never staged, expired or flushed"):
        staging.get("SPY", "v1")


def test_redis_keys_carry_ticker_version_and_ttl(redis_settings):
    staging = redis_staging(redis_settings, ttl_seconds=600)
    series, sessions = make_window(n_sessions=2)
    staging.put("SPY", "abc123", series, sessions)
    client = redis.Redis(
        host=redis_settings["host"],
        port=redis_settings["port"],
        password=redis_settings["password"],
    )
    keys = sorted(k.decode() for k in client.scan_iter(match=redis_settings["key_prefix"] + "*"))
    prefix = redis_settings["key_prefix"] + "orb:staged:SPY:"
    assert keys == [
        prefix + "abc123:manifest",
        prefix + "abc123:part:series.0",
        prefix + "abc123:part:sessions.0",
        prefix + "current",
    ]
    assert all(0 < client.ttl(key) <= 600 for key in keys)
    assert client.type(prefix + "abc123:manifest") == b"hash"
    # The payload is an Arrow IPC stream (continuation marker, then a flatbuffer schema message),
    # not JSON or pickle, and decodes with pyarrow alone.
    payload = client.get(prefix + "abc123:part:series.0")
    assert payload[:4] == b"\xff\xff\xff\xff"
    assert pl.from_arrow(pyarrow.ipc.open_stream(payload).read_all()).equals(series)


@pytest.mark.parametrize(
    "options,message",
    [
        ({"part_megabytes": 65}, "part_megabytes must be between 1 and 64"),
        ({"compression": "gzip"}, "compression must be lz4, zstd or uncompressed"),
    ],
)
def test_bad_configuration_is_rejected(options, message):
    with pytest.raises(Exception, match=message):
        RedisStagingStore(**options)


def test_bad_names_are_rejected(tmp_path):
    staging = LocalStagingStore(directory=str(tmp_path))
    series, sessions = make_window(n_sessions=2)
    with pytest.raises(ValueError, match="ticker must be"):
        staging.put("../etc", "v1", series, sessions)
    with pytest.raises(ValueError, match="cannot stage an empty window"):
        staging.put("SPY", "v1", series, sessions.clear())
