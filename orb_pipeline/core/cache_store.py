"""``CacheStore``: the ``cache`` resource, Parquet files in a local directory or under ``s3://``.

Paths are relative, ``/``-separated (``bars/SPY/2025-03-10.parquet``). Writes are atomic: a local
file is written to a temporary name in the same directory and renamed over the target; an S3
object is replaced by a single ``PutObject``. A reader never sees a half-written file.
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
        path = _check_relative(path)
        if self.is_s3:
            bucket, _ = self._bucket_prefix()
            self._client().put_object(Bucket=bucket, Key=self._s3_key(path), Body=data)
            return
        write_atomically(Path(self.url) / path, data)

    def read_bytes(self, path: str) -> bytes:
        """Contents of ``path``; ``FileNotFoundError`` naming the location when absent."""
        path = _check_relative(path)
        if self.is_s3:
            bucket, _ = self._bucket_prefix()
            client = self._client()
            try:
                return client.get_object(Bucket=bucket, Key=self._s3_key(path))["Body"].read()
            except client.exceptions.NoSuchKey:
                raise FileNotFoundError(self.location(path)) from None
        try:
            return (Path(self.url) / path).read_bytes()
        except FileNotFoundError:
            raise FileNotFoundError(self.location(path)) from None

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
        return pl.read_parquet(io.BytesIO(self.read_bytes(path)))

    def read_frame_and_digest(self, path: str) -> tuple[pl.DataFrame, str]:
        """The frame and the sha256 hex digest of the file's bytes."""
        data = self.read_bytes(path)
        return pl.read_parquet(io.BytesIO(data)), hashlib.sha256(data).hexdigest()


# ---- layout of the data stages' files -----------------------------------------------------
BARS_PREFIX = "bars"
SERIES_PREFIX = "series"
RANGES_PREFIX = "ranges"


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
