"""CacheStore: local directory and S3 (moto's server on loopback), atomic overwrite."""

from __future__ import annotations

import os

import polars as pl
import pytest

from orb_pipeline.core.cache_store import CacheStore, partition_path
from orb_pipeline_tests.warehouse.seeding import s3_endpoint  # noqa: F401 - pytest fixture


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path) -> CacheStore:
    if request.param == "local":
        return CacheStore(url=str(tmp_path / "cache"))
    endpoint = request.getfixturevalue("s3_endpoint")
    import boto3

    bucket = "orb-cache-" + tmp_path.name.lower().replace("_", "-")[:30]
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return CacheStore(url=f"s3://{bucket}/prefix", s3_endpoint_url=endpoint, s3_region="us-east-1")


def test_write_read_overwrite_list(store):
    first = pl.DataFrame({"timestamp_utc": [1, 2], "price": [1.5, 2.5]})
    path = partition_path("bars", "SPY", "2025-03-10")
    written = store.write_frame(path, first)
    assert written > 0 and store.exists(path)
    assert store.read_frame(path).equals(first)
    second = pl.DataFrame({"timestamp_utc": [3], "price": [9.0]})
    store.write_frame(path, second)
    assert store.read_frame(path).equals(second)
    store.write_frame(partition_path("bars", "SPY", "2025-03-11"), second)
    assert store.list("bars") == ["bars/SPY/2025-03-10.parquet", "bars/SPY/2025-03-11.parquet"]
    assert not store.exists(partition_path("bars", "QQQ", "2025-03-10"))
    with pytest.raises(FileNotFoundError, match="QQQ"):
        store.read_bytes(partition_path("bars", "QQQ", "2025-03-10"))


def test_unsafe_paths_are_rejected(tmp_path):
    store = CacheStore(url=str(tmp_path))
    for bad in ("../x.parquet", "/abs.parquet", "bars//x", "bars/SP Y/x"):
        with pytest.raises(ValueError, match="store path"):
            store.write_bytes(bad, b"")


def test_local_write_is_atomic_when_serialization_fails(tmp_path, monkeypatch):
    store = CacheStore(url=str(tmp_path))
    path = partition_path("bars", "SPY", "2025-03-10")
    original = pl.DataFrame({"a": [1]})
    store.write_frame(path, original)

    class Boom(Exception):
        pass

    real_fsync = os.fsync

    def failing_fsync(fd):
        real_fsync(fd)
        raise Boom  # crash after the bytes are written to the temporary file, before the rename

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(Boom):
        store.write_frame(path, pl.DataFrame({"a": [2, 3]}))
    monkeypatch.undo()
    assert store.read_frame(path).equals(original)  # the old file is intact
    assert [p.name for p in (tmp_path / "bars" / "SPY").iterdir()] == ["2025-03-10.parquet"]
