"""CacheStore: local directory and S3 (moto's server on loopback), atomic overwrite."""

from __future__ import annotations

import os
import random
from pathlib import Path

import polars as pl
import pytest

from orb_pipeline.core.cache_store import CacheFileCorruptError, CacheStore, partition_path
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
    assert sorted(p.name for p in (tmp_path / "bars" / "SPY").iterdir()) == [
        ".2025-03-10.parquet.sha256",  # the digest recorded with the file
        "2025-03-10.parquet",
    ]


FRAME = pl.DataFrame(
    {"timestamp_utc": list(range(200)), "price": [100.0 + i / 100 for i in range(200)]}
)
PATH = partition_path("series", "SPY", "2025-03-10")
HINT = "re-materialize compressed_series .*for partition 2025-03-10\\|SPY"


def replace_bytes(store: CacheStore, path: str, data: bytes) -> None:
    """Put other bytes where ``path`` is, keeping the digest recorded for the original."""
    if store.is_s3:
        bucket, _ = store._bucket_prefix()
        client = store._client()
        recorded = client.head_object(Bucket=bucket, Key=store._s3_key(path))["Metadata"]
        client.put_object(Bucket=bucket, Key=store._s3_key(path), Body=data, Metadata=recorded)
    else:
        (Path(store.url) / path).write_bytes(data)


def test_a_flipped_bit_or_a_truncation_fails_naming_the_file(store):
    """Issue 15: one flipped bit used to read back as other prices, and a truncated file failed
    with polars' bare ComputeError and no path."""
    store.write_frame(PATH, FRAME)
    data = store.read_bytes(PATH)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x10
    replace_bytes(store, PATH, bytes(flipped))
    with pytest.raises(CacheFileCorruptError, match="series/SPY/2025-03-10.parquet does not match"):
        store.read_frame(PATH)
    replace_bytes(store, PATH, data[: len(data) // 2])
    with pytest.raises(CacheFileCorruptError, match=HINT):
        store.read_frame(PATH)
    store.write_frame(PATH, FRAME)  # re-materializing repairs it
    assert store.read_frame(PATH).equals(FRAME)


def test_no_single_bit_flip_reads_back_as_data(tmp_path):
    """300 random single-bit flips (188 of 300 used to read back as other data): every one fails."""
    store = CacheStore(url=str(tmp_path))
    store.write_frame(PATH, FRAME)
    data = store.read_bytes(PATH)
    rng = random.Random(15)
    for _ in range(300):
        flipped = bytearray(data)
        bit = rng.randrange(len(data) * 8)
        flipped[bit // 8] ^= 1 << (bit % 8)
        replace_bytes(store, PATH, bytes(flipped))
        with pytest.raises(CacheFileCorruptError, match="2025-03-10.parquet"):
            store.read_frame(PATH)


def test_a_file_without_a_recorded_digest_is_refused(tmp_path):
    store = CacheStore(url=str(tmp_path))
    target = tmp_path / PATH
    target.parent.mkdir(parents=True)
    FRAME.write_parquet(target)  # not through the store: nothing recorded
    with pytest.raises(CacheFileCorruptError, match="has no recorded digest.*" + HINT):
        store.read_frame(PATH)


def test_a_written_file_that_is_not_parquet_names_the_file(tmp_path):
    """Bytes recorded as written but not Parquet (a truncated or bit-flipped footer makes polars
    raise ComputeError, or panic with "Thrift out of range"): the file is named either way."""
    store = CacheStore(url=str(tmp_path))
    store.write_bytes(PATH, b"PAR1 but not really")
    with pytest.raises(CacheFileCorruptError, match="2025-03-10.parquet is not a readable Parquet"):
        store.read_frame(PATH)
    store.write_frame(PATH, FRAME)
    data = store.read_bytes(PATH)
    rng = random.Random(15)
    for _ in range(100):  # flipped bits recorded as if written so: parse errors, never a panic
        flipped = bytearray(data)
        bit = rng.randrange(len(data) * 8)
        flipped[bit // 8] ^= 1 << (bit % 8)
        store.write_bytes(PATH, bytes(flipped))
        try:
            store.read_frame(PATH)
        except CacheFileCorruptError as error:
            assert "2025-03-10.parquet is not a readable Parquet file" in str(error)
