"""``CacheStore``: the ``cache`` resource, Parquet files in a local directory or under ``s3://``.

Paths are relative, ``/``-separated (``bars/SPY/2025-03-10.parquet``). Writes are atomic: a local
file is written to a temporary name in the same directory and renamed over the target; an S3
object is replaced by a single ``PutObject``. A reader never sees a half-written file.

Every write records the SHA-256 of the bytes written (S3: the object's ``sha256`` user metadata, in
the same ``PutObject``; local: a hidden ``.<name>.sha256`` file beside it, written after the data),
and every read checks it: a damaged, truncated, half-replaced or foreign file raises
:class:`CacheFileCorruptError` naming the file and what to re-materialize, never different data.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import threading
from functools import lru_cache
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field

from orb_pipeline.core.files import write_atomically

_SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=\-]*$")
DIGEST_METADATA = "sha256"  # S3 user metadata key (x-amz-meta-sha256)


class CacheFileCorruptError(ValueError):
    """A cache file does not match what was recorded when it was written, or cannot be parsed;
    the message names the file and what to re-materialize."""


def _check_relative(path: str) -> str:
    parts = path.split("/")
    if not parts or any(not _SAFE_PART.match(part) or part in {".", ".."} for part in parts):
        raise ValueError(f"store path must be relative with safe parts, got {path!r}")
    return path


_CLIENT_LOCK = threading.Lock()


@lru_cache(maxsize=8)
def _s3_client_cached(endpoint_url: str | None, region: str | None, credentials_key: str):
    import boto3

    # One client per process and endpoint: clients are thread-safe, creating them is not
    # (boto3's default session), and creating one per call costs tens of milliseconds.
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, region_name=region)


def _s3_client(endpoint_url: str | None, region: str | None):
    # Keyed by the access key id too, so a change of credentials in the environment gets a new client.
    with _CLIENT_LOCK:
        return _s3_client_cached(endpoint_url, region, os.environ.get("AWS_ACCESS_KEY_ID", ""))


class CacheStore(dg.ConfigurableResource):
    """Parquet files under ``url``: a local directory (default) or ``s3://bucket/prefix``.

    S3 credentials come from boto3's usual chain (environment, profile, task role);
    ``s3_endpoint_url`` points at an S3-compatible endpoint (moto in the tests).
    """

    url: str = Field(description="local directory or s3://bucket/prefix")
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint, optional"
    )
    s3_region: str | None = Field(default=None, description="AWS region for S3, optional")

    # ---- location -------------------------------------------------------------------------
    @property
    def is_s3(self) -> bool:
        return self.url.startswith("s3://")

    def _bucket_prefix(self) -> tuple[str, str]:
        rest = self.url[len("s3://") :]
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise ValueError(f"cache url has no bucket: {self.url!r}")
        return bucket, prefix.strip("/")

    def _s3_key(self, path: str) -> str:
        _, prefix = self._bucket_prefix()
        return f"{prefix}/{path}" if prefix else path

    def _client(self):
        return _s3_client(self.s3_endpoint_url, self.s3_region)

    def location(self, path: str) -> str:
        """Human-readable location of ``path`` (for metadata and errors)."""
        path = _check_relative(path)
        if self.is_s3:
            bucket, _ = self._bucket_prefix()
            return f"s3://{bucket}/{self._s3_key(path)}"
        return str(Path(self.url).resolve() / path)

    # ---- bytes ----------------------------------------------------------------------------
    def write_bytes(self, path: str, data: bytes) -> None:
        """Write ``data`` atomically and record its SHA-256 (see the module docstring)."""
        path = _check_relative(path)
        digest = hashlib.sha256(data).hexdigest()
        if self.is_s3:
            bucket, _ = self._bucket_prefix()
            self._client().put_object(
                Bucket=bucket, Key=self._s3_key(path), Body=data, Metadata={DIGEST_METADATA: digest}
            )
            return
        target = Path(self.url) / path
        write_atomically(target, data)
        write_atomically(_digest_path(target), digest.encode())

    def read_bytes(self, path: str) -> bytes:
        """Contents of ``path``, checked against the digest recorded when it was written;
        ``FileNotFoundError`` naming the location when absent, :class:`CacheFileCorruptError`
        when the bytes or the record do not match."""
        path = _check_relative(path)
        if self.is_s3:
            bucket, _ = self._bucket_prefix()
            client = self._client()
            try:
                answer = client.get_object(Bucket=bucket, Key=self._s3_key(path))
            except client.exceptions.NoSuchKey:
                raise FileNotFoundError(self.location(path)) from None
            data = answer["Body"].read()
            recorded = answer.get("Metadata", {}).get(DIGEST_METADATA)
        else:
            target = Path(self.url) / path
            try:
                data = target.read_bytes()
            except FileNotFoundError:
                raise FileNotFoundError(self.location(path)) from None
            try:
                recorded = _digest_path(target).read_text().strip()
            except FileNotFoundError:
                recorded = None
        if recorded is None:
            raise self.corrupt(
                path,
                "has no recorded digest (written by an older version, or "
                "its write was interrupted)",
            )
        if hashlib.sha256(data).hexdigest() != recorded:
            raise self.corrupt(
                path,
                f"does not match the SHA-256 recorded when it was written ({recorded[:12]}...)",
            )
        return data

    def corrupt(self, path: str, problem: str) -> CacheFileCorruptError:
        """The error for a damaged file: its location, the problem, what to re-materialize."""
        return CacheFileCorruptError(
            f"cache file {self.location(path)} {problem}: the file is damaged or not what was "
            f"written; {rematerialize_hint(path)}"
        )

    def exists(self, path: str) -> bool:
        path = _check_relative(path)
        if self.is_s3:
            bucket, _ = self._bucket_prefix()
            client = self._client()
            try:
                client.head_object(Bucket=bucket, Key=self._s3_key(path))
                return True
            except client.exceptions.ClientError as error:
                if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                    return False
                raise
        return (Path(self.url) / path).is_file()

    def list(self, prefix: str) -> list[str]:
        """Relative paths of the files under the folder ``prefix``, sorted."""
        prefix = _check_relative(prefix.strip("/"))
        if self.is_s3:
            bucket, _ = self._bucket_prefix()
            paginator = self._client().get_paginator("list_objects_v2")
            base = self._s3_key(prefix) + "/"
            _, store_prefix = self._bucket_prefix()
            strip = len(store_prefix) + 1 if store_prefix else 0
            found = []
            for page in paginator.paginate(Bucket=bucket, Prefix=base):
                found.extend(item["Key"][strip:] for item in page.get("Contents", []))
            return sorted(found)
        root = Path(self.url)
        folder = root / prefix
        if not folder.is_dir():
            return []
        return sorted(
            p.relative_to(root).as_posix()
            for p in folder.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )

    # ---- frames ---------------------------------------------------------------------------
    def write_frame(self, path: str, frame: pl.DataFrame) -> int:
        """Write ``frame`` as Parquet (zstd) atomically; returns the file size in bytes."""
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd", statistics=True)
        data = buffer.getvalue()
        self.write_bytes(path, data)
        return len(data)

    def read_frame(self, path: str) -> pl.DataFrame:
        """The verified Parquet file ``path`` as a frame (errors as :meth:`read_bytes`)."""
        return self.parse_frame(path, self.read_bytes(path))

    def parse_frame(self, path: str, data: bytes) -> pl.DataFrame:
        """``data`` (the bytes of ``path``) parsed as Parquet; :class:`CacheFileCorruptError`
        naming the file when they are not a readable Parquet file."""
        try:
            return pl.read_parquet(io.BytesIO(data))
        # polars panics (a BaseException) on some malformed footers ("Thrift out of range").
        except (
            pl.exceptions.PolarsError,
            pl.exceptions.PanicException,
            OSError,
            ValueError,
        ) as error:
            raise self.corrupt(path, f"is not a readable Parquet file ({error})") from None

    def read_frame_and_digest(self, path: str) -> tuple[pl.DataFrame, str]:
        """The frame and the sha256 hex digest of the file's bytes."""
        data = self.read_bytes(path)
        return self.parse_frame(path, data), hashlib.sha256(data).hexdigest()


def _digest_path(target: Path) -> Path:
    """The hidden file beside ``target`` that holds its SHA-256 (``list`` skips hidden files)."""
    return target.with_name("." + target.name + ".sha256")


# ---- layout of the data stages' files -----------------------------------------------------
BARS_PREFIX = "bars"
SERIES_PREFIX = "series"
RANGES_PREFIX = "ranges"


# The asset that writes each data-stage folder (for re-materialization hints).
ASSET_OF_PREFIX = {
    BARS_PREFIX: "cached_bars",
    SERIES_PREFIX: "compressed_series",
    RANGES_PREFIX: "opening_ranges",
}


def rematerialize_hint(path: str) -> str:
    """What to do about a damaged file at ``path``: the asset and partition to re-materialize
    (for ``<prefix>/<ticker>/<session>.parquet`` of a data stage), else to write it again."""
    parts = path.split("/")
    if len(parts) == 3 and parts[0] in ASSET_OF_PREFIX and parts[2].endswith(".parquet"):
        asset, ticker, session = ASSET_OF_PREFIX[parts[0]], parts[1], parts[2][: -len(".parquet")]
        key = dg.MultiPartitionKey({"session": session, "ticker": ticker})
        return (
            f"re-materialize {asset} (and what depends on it) for partition {key} "
            f"(dagster asset materialize --select {asset} --partition '{key}')"
        )
    return "re-materialize the asset that wrote it"


def partition_path(prefix: str, ticker: str, session: str) -> str:
    """``<prefix>/<ticker>/<YYYY-MM-DD>.parquet`` (one file per ticker and session)."""
    return _check_relative(prefix + "/" + ticker + "/" + session + ".parquet")


def cache_from_environment(data_dir: Path) -> CacheStore:
    """The ``cache`` resource: ``ORB_CACHE_URL`` (a directory or ``s3://bucket/prefix``, default
    ``<data_dir>/cache``); ``ORB_CACHE_S3_ENDPOINT_URL`` for an S3-compatible endpoint."""
    from orb_pipeline.core import settings

    chosen = settings.current()
    return CacheStore(
        url=chosen.cache_url or str(data_dir / "cache"),
        s3_endpoint_url=chosen.cache_s3_endpoint_url,
        s3_region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None,
    )
