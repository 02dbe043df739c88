"""Staging stores: a ticker's window (compressed series + sessions) as binary columnar payloads.

Contracts
- Payloads are Arrow IPC streams (pyarrow, record batches of 1 M rows, buffers compressed in
  parallel): ``zstd`` level 1 by default (about 9x smaller than the frames here and the fastest to
  read back; see benchmarks/sweep_chain.py), ``lz4`` or ``uncompressed`` by configuration. No
  JSON, no pickle for data.
- Everything is keyed by ticker **and data version**, so a reader asking for one version can never
  see parts of another. Each payload is split into parts of at most ``part_megabytes`` (<= 64 MB).
- The manifest (written last) lists every part with its size and SHA-256; :meth:`StagingStore.get`
  verifies all of them and raises :class:`StagedDataMissingError` (naming what is missing) instead of
  returning partial data. Parts and manifest share a TTL (``ttl_seconds``).
- :class:`RedisStagingStore` keeps parts as string values and the manifest as a hash;
  :class:`LocalStagingStore` (the embedded default) keeps files in a directory, written atomically.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl
import pyarrow as pa
import pyarrow.ipc as ipc
from pydantic import Field, PrivateAttr, field_validator

from orb_pipeline.core.files import write_atomically
from orb_pipeline.core.tickers import validate_ticker

PAYLOADS = ("series", "sessions")
FORMAT = "orb-staged-window/arrow-ipc-stream/1"
MAX_PART_MEGABYTES = 64
BATCH_ROWS = 1 << 20


def encode_frame(frame: pl.DataFrame, compression: str) -> pa.Buffer:
    """``frame`` as an Arrow IPC stream (``zstd`` at level 1, ``lz4`` or ``uncompressed``)."""
    codec = None
    if compression == "zstd":
        codec = pa.Codec("zstd", compression_level=1)
    elif compression == "lz4":
        codec = pa.Codec("lz4")
    table = frame.to_arrow()
    sink = pa.BufferOutputStream()
    options = ipc.IpcWriteOptions(compression=codec, use_threads=True)
    with ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table, max_chunksize=BATCH_ROWS)
    return sink.getvalue()


def decode_frame(payload: bytes) -> pl.DataFrame:
    """The inverse of :func:`encode_frame`."""
    return pl.from_arrow(ipc.open_stream(pa.py_buffer(payload)).read_all())


class StagedDataMissingError(LookupError):
    """The staged window is absent, expired, evicted, incomplete or malformed (the message says
    which); the window loader rebuilds it from the Parquet cache."""


class StagingUnavailableError(ConnectionError):
    """The staging server does not answer (the message names it, never the password)."""


@dataclass(frozen=True)
class StagedWindow:
    """A window read back from staging (frames exactly as staged)."""

    ticker: str
    data_version: str
    window_start: dt.date
    window_end: dt.date
    series: pl.DataFrame
    sessions: pl.DataFrame


@dataclass(frozen=True)
class StageReport:
    """What :meth:`StagingStore.put` wrote."""

    ticker: str
    data_version: str
    window_start: dt.date
    window_end: dt.date
    frame_bytes: int  # in-memory Arrow size of the frames
    payload_bytes: int  # bytes written (after compression)
    parts: int
    seconds: float
    compression: str


def _pointer_version(raw: bytes | None) -> str | None:
    """The version a ``current`` pointer names, or None when it is absent or damaged (a damaged
    pointer is like no pointer: the loader falls back to the window it expects)."""
    try:
        return _validate_version(raw.decode()) if raw else None
    except (UnicodeDecodeError, ValueError):
        return None


def _validate_version(data_version: str) -> str:
    if not data_version or not all(c.isalnum() or c in "._-" for c in data_version):
        raise ValueError(
            f"data_version must be letters, digits, '.', '_' or '-', got {data_version!r}"
        )
    return data_version


class StagingStore(dg.ConfigurableResource):
    """Interface of the staging stores (see module docstring)."""

    compression: str = Field(default="zstd", description="zstd (level 1), lz4 or uncompressed")
    part_megabytes: int = Field(default=8, description="largest stored value, MB (1..64)")
    ttl_seconds: int = Field(default=7 * 24 * 3600, description="lifetime of staged data")

    @field_validator("compression")
    @classmethod
    def _check_compression(cls, value: str) -> str:
        if value not in ("lz4", "zstd", "uncompressed"):
            raise ValueError(f"compression must be lz4, zstd or uncompressed, got {value!r}")
        return value

    @field_validator("part_megabytes")
    @classmethod
    def _check_part_size(cls, value: int) -> int:
        if not 1 <= value <= MAX_PART_MEGABYTES:
            raise ValueError(
                f"part_megabytes must be between 1 and {MAX_PART_MEGABYTES}, got {value}"
            )
        return value

    # --- storage primitives, per backend ----------------------------------------------------
    def describe(self) -> str:
        raise NotImplementedError

    def _write(
        self, ticker: str, version: str, parts: dict[str, memoryview], manifest: dict[str, str]
    ) -> None:
        """Store ``parts`` then ``manifest`` (last) and point ``current`` at ``version``."""
        raise NotImplementedError

    def _read_manifest(self, ticker: str, version: str) -> dict[str, str] | None:
        raise NotImplementedError

    def _read_parts(self, ticker: str, version: str, names: list[str]) -> list[bytes | None]:
        raise NotImplementedError

    def current_version(self, ticker: str) -> str | None:
        """The data version most recently staged for ``ticker`` (None when nothing is staged)."""
        raise NotImplementedError

    def delete(self, ticker: str, data_version: str) -> None:
        raise NotImplementedError

    # --- shared -------------------------------------------------------------------------------
    def put(
        self, ticker: str, data_version: str, series: pl.DataFrame, sessions: pl.DataFrame
    ) -> StageReport:
        """Stage one window; returns sizes and timing."""
        validate_ticker(ticker)
        _validate_version(data_version)
        if sessions.height == 0:
            raise ValueError(f"cannot stage an empty window for {ticker}: no sessions")
        started = time.perf_counter()
        part_size = self.part_megabytes * 1024 * 1024
        dates = sessions.get_column("session_date")
        manifest = {
            "format": FORMAT,
            "ticker": ticker,
            "data_version": data_version,
            "window_start": dates.min().isoformat(),
            "window_end": dates.max().isoformat(),
            "compression": self.compression,
            "staged_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        parts: dict[str, memoryview] = {}
        frame_bytes = 0
        for name, frame in zip(PAYLOADS, (series, sessions), strict=True):
            payload = memoryview(encode_frame(frame, self.compression))
            frame_bytes += int(frame.estimated_size())
            count = max(1, -(-len(payload) // part_size))
            manifest[name + ".rows"] = str(frame.height)
            manifest[name + ".bytes"] = str(len(payload))
            manifest[name + ".parts"] = str(count)
            for index in range(count):
                chunk = payload[index * part_size : (index + 1) * part_size]  # a view, no copy
                part = name + "." + str(index)
                parts[part] = chunk
                manifest[part] = str(len(chunk)) + " " + hashlib.sha256(chunk).hexdigest()
        self._write(ticker, data_version, parts, manifest)
        return StageReport(
            ticker=ticker,
            data_version=data_version,
            window_start=dt.date.fromisoformat(manifest["window_start"]),
            window_end=dt.date.fromisoformat(manifest["window_end"]),
            frame_bytes=frame_bytes,
            payload_bytes=sum(len(p) for p in parts.values()),
            parts=len(parts),
            seconds=time.perf_counter() - started,
            compression=self.compression,
        )

    def get(self, ticker: str, data_version: str) -> StagedWindow:
        """Read and verify one staged window; :class:`StagedDataMissingError` when anything is off."""
        validate_ticker(ticker)
        _validate_version(data_version)
        where = self.describe() + " for " + ticker + " @ " + data_version
        manifest = self._read_manifest(ticker, data_version)
        if not manifest:
            raise StagedDataMissingError(
                "no staged window in " + where + " (never staged, expired or flushed)"
            )
        if manifest.get("format") != FORMAT:
            raise StagedDataMissingError(
                "staged window in " + where + " has unknown format " + repr(manifest.get("format"))
            )
        try:
            frames = self._verified_frames(ticker, data_version, manifest, where)
            window_start = dt.date.fromisoformat(manifest["window_start"])
            window_end = dt.date.fromisoformat(manifest["window_end"])
        except (KeyError, ValueError, TypeError, pa.ArrowException) as error:
            # A truncated or hand-edited manifest (or a payload that passed its checksum yet does
            # not decode) is damage like a bad part: the caller rebuilds, never reads on.
            raise StagedDataMissingError(
                "the manifest of the staged window in "
                + where
                + " is malformed ("
                + type(error).__name__
                + ": "
                + str(error)[:200]
                + ")"
            ) from None
        return StagedWindow(
            ticker=ticker,
            data_version=data_version,
            window_start=window_start,
            window_end=window_end,
            series=frames["series"],
            sessions=frames["sessions"],
        )

    def _verified_frames(
        self, ticker: str, data_version: str, manifest: dict[str, str], where: str
    ) -> dict[str, pl.DataFrame]:
        """The payloads the manifest lists, each part checked against its size and SHA-256."""
        names = [
            name + "." + str(i) for name in PAYLOADS for i in range(int(manifest[name + ".parts"]))
        ]
        values = self._read_parts(ticker, data_version, names)
        frames = {}
        for name in PAYLOADS:
            chunks = []
            for index in range(int(manifest[name + ".parts"])):
                part = name + "." + str(index)
                value = values[names.index(part)]
                size, digest = manifest[part].split(" ")
                if value is None:
                    raise StagedDataMissingError(
                        "part "
                        + part
                        + " of the staged window in "
                        + where
                        + " is missing (expired or evicted)"
                    )
                if len(value) != int(size) or hashlib.sha256(value).hexdigest() != digest:
                    raise StagedDataMissingError(
                        "part "
                        + part
                        + " of the staged window in "
                        + where
                        + " fails its size/checksum check"
                    )
                chunks.append(value)
            frame = decode_frame(chunks[0] if len(chunks) == 1 else b"".join(chunks))
            if frame.height != int(manifest[name + ".rows"]):
                raise StagedDataMissingError(
                    name
                    + " of "
                    + where
                    + " has "
                    + str(frame.height)
                    + " rows, manifest says "
                    + manifest[name + ".rows"]
                )
            frames[name] = frame
        return frames


class RedisStagingStore(StagingStore):
    """Staging in Redis: parts as values (SET EX), the manifest as a hash, written in one MULTI."""

    host: str = "127.0.0.1"
    port: int = 6379
    db: int = 0
    password: str | None = None
    tls: bool = False
    tls_ca_path: str | None = None
    key_prefix: str = ""
    socket_timeout_seconds: float = 30.0
    _client: object = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        from orb_pipeline.core import settings

        settings.check_deployment_values(
            "staging",
            {"ORB_REDIS_HOST": self.host, "ORB_REDIS_PORT": self.port, "ORB_REDIS_DB": self.db},
        )

    def describe(self) -> str:
        scheme = "rediss://" if self.tls else "redis://"
        return "Redis " + scheme + self.host + ":" + str(self.port) + "/" + str(self.db)

    def client(self):
        """The redis client (created once per resource instance)."""
        if self._client is None:
            import redis

            options = {}
            if self.tls:
                options = {"ssl": True, "ssl_ca_certs": self.tls_ca_path}
            self._client = redis.Redis(
                host=self.host,
                port=self.port,
                db=self.db,
                password=self.password or None,
                socket_timeout=self.socket_timeout_seconds,
                **options,
            )
        return self._client

    def _key(self, ticker: str, *rest: str) -> str:
        return ":".join((self.key_prefix + "orb:staged", ticker, *rest))

    @contextlib.contextmanager
    def _answering(self):
        """Turn redis' connection errors into :class:`StagingUnavailableError` naming the server."""
        import redis

        try:
            yield self.client()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
            raise StagingUnavailableError(
                "cannot reach the staging server " + self.describe() + ": " + str(error)
            ) from None

    def _write(self, ticker, version, parts, manifest) -> None:
        # Parts go first in their own pipelines (bounded request size); the manifest and the
        # current-version pointer go last, atomically, so a reader never finds a manifest whose
        # parts were not all written.
        with self._answering() as client:
            for name, value in parts.items():
                client.set(self._key(ticker, version, "part", name), value, ex=self.ttl_seconds)
            manifest_key = self._key(ticker, version, "manifest")
            with client.pipeline(transaction=True) as pipe:
                pipe.delete(manifest_key)
                pipe.hset(manifest_key, mapping=manifest)
                pipe.expire(manifest_key, self.ttl_seconds)
                pipe.set(self._key(ticker, "current"), version, ex=self.ttl_seconds)
                pipe.execute()

    def _read_manifest(self, ticker, version):
        with self._answering() as client:
            raw = client.hgetall(self._key(ticker, version, "manifest"))
        try:
            return {k.decode(): v.decode() for k, v in raw.items()}
        except UnicodeDecodeError as error:
            raise StagedDataMissingError(
                "the manifest of the staged window in "
                + self.describe()
                + " for "
                + ticker
                + " @ "
                + version
                + " is malformed ("
                + str(error)
                + ")"
            ) from None

    def _read_parts(self, ticker, version, names):
        with self._answering() as client, client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.get(self._key(ticker, version, "part", name))
            return pipe.execute()

    def current_version(self, ticker):
        with self._answering() as client:
            return _pointer_version(client.get(self._key(validate_ticker(ticker), "current")))

    def delete(self, ticker, data_version):
        with self._answering() as client:
            keys = list(client.scan_iter(match=self._key(ticker, data_version, "*"), count=1000))
            if keys:
                client.delete(*keys)


class LocalStagingStore(StagingStore):
    """Embedded default: a directory ``<root>/<ticker>/<data_version>/`` per staged window."""

    directory: str

    def describe(self) -> str:
        return "local staging " + self.directory

    def _dir(self, ticker: str, version: str | None = None) -> Path:
        path = Path(self.directory) / ticker
        return path / version if version else path

    def _write(self, ticker, version, parts, manifest) -> None:
        target = self._dir(ticker, version)
        target.mkdir(parents=True, exist_ok=True)
        (target / "manifest").unlink(missing_ok=True)
        for name, value in parts.items():
            write_atomically(target / name, value)
        expires = time.time() + self.ttl_seconds
        write_atomically(
            target / "manifest", json.dumps({**manifest, "expires_epoch": str(expires)}).encode()
        )
        write_atomically(self._dir(ticker) / "current", version.encode())

    def _read_manifest(self, ticker, version):
        path = self._dir(ticker, version) / "manifest"
        try:
            manifest = json.loads(path.read_bytes())
            expires = float(manifest.get("expires_epoch", "inf"))
        except FileNotFoundError:
            return None
        except (ValueError, AttributeError, TypeError) as error:  # truncated, not an object...
            raise StagedDataMissingError(
                "the manifest "
                + str(path)
                + " of the staged window is malformed ("
                + type(error).__name__
                + ": "
                + str(error)[:200]
                + ")"
            ) from None
        if expires < time.time():
            self.delete(ticker, version)
            return None
        return manifest

    def _read_parts(self, ticker, version, names):
        found = []
        for name in names:
            try:
                found.append((self._dir(ticker, version) / name).read_bytes())
            except FileNotFoundError:
                found.append(None)
        return found

    def current_version(self, ticker):
        try:
            return _pointer_version((self._dir(validate_ticker(ticker)) / "current").read_bytes())
        except FileNotFoundError:
            return None

    def delete(self, ticker, data_version):
        shutil.rmtree(self._dir(ticker, data_version), ignore_errors=True)


def staging_from_environment(data_dir: Path) -> StagingStore:
    """The ``staging`` resource chosen by ``ORB_STAGING`` (``local`` default, or ``redis``).

    Names are read now: ``ORB_STAGING_DIR`` (default ``<data_dir>/staging``),
    ``ORB_STAGING_COMPRESSION``, ``ORB_STAGING_PART_MB``, ``ORB_STAGING_TTL_SECONDS``,
    ``ORB_REDIS_PORT``, ``ORB_REDIS_DB``, ``ORB_REDIS_TLS``, ``ORB_REDIS_TLS_CA``,
    ``ORB_REDIS_KEY_PREFIX``. Host and password are ``dg.EnvVar``s resolved at run time
    (``ORB_REDIS_HOST``, ``ORB_REDIS_PASSWORD``; the password only when that variable exists).
    """
    from orb_pipeline.core import settings

    chosen = settings.current()
    common = {
        "compression": chosen.staging_compression,
        "part_megabytes": chosen.staging_part_mb,
        "ttl_seconds": chosen.staging_ttl_seconds,
    }
    if chosen.staging == "local":
        return LocalStagingStore(
            directory=chosen.staging_dir or str(data_dir / "staging"), **common
        )
    return RedisStagingStore(
        host=settings.env_var("ORB_REDIS_HOST"),
        port=chosen.redis_port,
        db=chosen.redis_db,
        password=settings.optional_env_var("ORB_REDIS_PASSWORD"),
        tls=chosen.redis_tls,
        tls_ca_path=chosen.redis_tls_ca,
        key_prefix=chosen.redis_key_prefix,
        **common,
    )
