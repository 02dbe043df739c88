"""The results store's shared base: the resource interface, errors, batching and frame preparation.

The dialects live beside it (:mod:`.sqlite`, :mod:`.mysql`); :mod:`orb_pipeline.results.resource`
states the contracts every dialect keeps.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg
import polars as pl
import pymysql
import sqlalchemy as sa
from pydantic import PrivateAttr

from orb_pipeline.core.retry import retry
from orb_pipeline.results import schema

_LOG = logging.getLogger(__name__)

# MySQL error codes (pymysql puts them in ``exc.orig.args[0]``).
_RETRYABLE = {1213, 1205}  # deadlock, lock wait timeout
_UNREACHABLE = {1044, 1045, 1049, 2002, 2003, 2005, 2006, 2013}


# Rows turned into columns at a time by ``ResultsStore.read``.
READ_BATCH_ROWS = 20_000


class ResultsStoreError(RuntimeError):
    """A results-store operation failed for a reason the caller can act on."""


class ResultsStoreUnavailableError(ResultsStoreError):
    """The results database cannot be reached (the message names the server)."""


class ResultsStoreCorruptError(ResultsStoreError):
    """The results database is damaged (the message names the file or table and what to do)."""


# SQLite's words for a damaged file; MySQL/MariaDB's codes for a crashed or corrupt table.
_SQLITE_CORRUPT = ("malformed", "file is not a database", "disk image")
_MYSQL_CORRUPT = {126, 127, 145, 1034, 1194, 1195}


@dataclass(frozen=True)
class UpsertReport:
    """What one :meth:`ResultsStore.upsert` did."""

    table: str
    rows: int
    batches: int
    seconds: float
    method: str  # "load_data", "multi_row" or "sqlite"
    connections: int = 1  # written over this many connections at once

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


def mysql_error_code(error: BaseException) -> int | None:
    """The MySQL error number of a pymysql error, or of the one a SQLAlchemy error wraps."""
    original = getattr(error, "orig", error)
    args = getattr(original, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _lock_conflict(error: BaseException) -> bool:
    """A conflict with another transaction that a retry resolves: MySQL's deadlock or lock wait
    timeout, SQLite's locked file. LOAD DATA runs on the raw pymysql cursor, so its errors arrive
    unwrapped by SQLAlchemy."""
    return isinstance(error, sa.exc.OperationalError | pymysql.err.OperationalError) and (
        mysql_error_code(error) in _RETRYABLE or "database is locked" in str(error)
    )


class ResultsStore(dg.ConfigurableResource):
    """Base of the results stores; use :class:`SqliteResultsStore` or :class:`MySqlResultsStore`."""

    batch_rows: int = 100_000
    _engine: sa.Engine | None = PrivateAttr(default=None)

    # --- implemented by each dialect -------------------------------------------------------
    def describe(self) -> str:
        raise NotImplementedError

    def _create_engine(self) -> sa.Engine:
        raise NotImplementedError

    def _tls_refusal(self, error: BaseException) -> str | None:
        """The message for ``error`` when it is a refused TLS handshake (never retried)."""
        return None

    def _upsert_batch(
        self, connection: sa.Connection, table: sa.Table, frame: pl.DataFrame, log: Any
    ) -> str:
        """Write ``frame`` (prepared) in ``connection``'s transaction; returns the method used.
        ``log`` receives warnings (the caller's logger, never kept on the resource)."""
        raise NotImplementedError

    # --- shared ------------------------------------------------------------------------------
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine (created once per resource instance)."""
        if self._engine is None:
            self._engine = self._create_engine()
        return self._engine

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @contextlib.contextmanager
    def _translated_errors(self) -> Iterator[None]:
        try:
            yield
        except sa.exc.DatabaseError as error:
            code = mysql_error_code(error)
            refusal = self._tls_refusal(error)
            if refusal is not None:
                raise ResultsStoreUnavailableError(refusal) from error
            if isinstance(error, sa.exc.OperationalError) and (
                code in _UNREACHABLE or (code is None and "unable to open" in str(error))
            ):
                raise ResultsStoreUnavailableError(
                    "cannot use the results store " + self.describe() + ": " + str(error.orig)
                ) from error
            if code in _MYSQL_CORRUPT or (
                code is None and any(word in str(error.orig) for word in _SQLITE_CORRUPT)
            ):
                raise ResultsStoreCorruptError(
                    "the results store "
                    + self.describe()
                    + " is damaged ("
                    + str(error.orig)
                    + "): restore it from a backup, or move it aside and re-run sweep_results "
                    "and the leaderboard (results are recomputed from the cache)"
                ) from error
            raise

    def run_in_transaction(self, work: Callable[[sa.Connection], Any], attempts: int = 6) -> Any:
        """Run ``work(connection)`` in one transaction, retrying deadlocks and lock timeouts
        (at most ``attempts`` times, waiting 0.05 s, then twice as long each time)."""

        def transaction() -> Any:
            with self._translated_errors(), self.engine().begin() as connection:
                return work(connection)

        def log_retry(error: BaseException, attempt: int, _delay: float) -> None:
            _LOG.warning(
                "results store: %s; retrying the transaction (attempt %d)",
                getattr(error, "orig", error),
                attempt + 1,
            )

        return retry(
            transaction,
            attempts=attempts,
            transient=_lock_conflict,
            first_delay_seconds=0.05,
            on_retry=log_retry,
        )

    def ensure_tables(self, *tables: sa.Table) -> None:
        """Create the given tables (default: ``results`` and ``trades``) if they do not exist."""
        chosen = list(tables) or [schema.results, schema.trades]

        def create() -> None:
            with self._translated_errors(), self.engine().begin() as connection:
                for table in chosen:
                    table.create(connection, checkfirst=True)

        # Two workers creating the same table at once: the loser sees MySQL's 1050 or SQLite's
        # "table ... already exists" (or a locked new SQLite file); re-check.
        retry(
            create,
            attempts=6,
            transient=lambda error: (
                _lock_conflict(error)
                or (
                    isinstance(error, sa.exc.OperationalError | sa.exc.ProgrammingError)
                    and (mysql_error_code(error) == 1050 or "already exists" in str(error))
                )
            ),
            first_delay_seconds=0.05,
        )

    def upsert(self, table: sa.Table, frame: pl.DataFrame, log: Any = None) -> UpsertReport:
        """Insert or replace ``frame``'s rows in ``table`` by primary key (see module docstring)."""
        log = log or _LOG
        started = time.perf_counter()
        # Key order keeps B-tree inserts local (random hash ids otherwise split pages everywhere).
        prepared = prepare_frame(table, frame).sort([c.name for c in table.primary_key.columns])
        connections = max(1, min(self._write_connections(), prepared.height))
        size = max(1, min(self.batch_rows, -(-prepared.height // connections)))
        batches = [prepared.slice(offset, size) for offset in range(0, prepared.height, size)]
        # Each connection takes one contiguous run of batches: disjoint key ranges, no lock waits.
        groups = contiguous_groups(batches, connections)
        methods = self._write_groups(table, groups, log)
        report = UpsertReport(
            table=table.name,
            rows=prepared.height,
            batches=len(batches),
            seconds=time.perf_counter() - started,
            method="+".join(sorted(methods)) or "none",
            connections=len(groups),
        )
        log.info(
            f"results store {self.describe()}: upserted {report.rows} rows into {table.name} "
            f"in {report.batches} batch(es) over {report.connections} connection(s), "
            f"{report.seconds:.2f} s ({report.method})"
        )
        return report

    def _write_connections(self) -> int:
        return 1

    def _write_groups(
        self, table: sa.Table, groups: list[list[pl.DataFrame]], log: Any
    ) -> set[str]:
        """Write each group's batches in order, one transaction per batch, the groups in parallel
        threads; after a failure no group starts another batch, and the first error is raised."""
        stop = threading.Event()

        def write(group: list[pl.DataFrame]) -> set[str]:
            methods = set()
            for batch in group:
                if stop.is_set():
                    break
                try:
                    methods.add(
                        self.run_in_transaction(
                            lambda connection, batch=batch: self._upsert_batch(
                                connection, table, batch, log
                            )
                        )
                    )
                except BaseException:
                    stop.set()
                    raise
            return methods

        if len(groups) == 1:  # contiguous_groups always gives at least one
            return write(groups[0])
        with concurrent.futures.ThreadPoolExecutor(
            len(groups), thread_name_prefix="results-upsert"
        ) as pool:
            futures = [pool.submit(write, group) for group in groups]
            concurrent.futures.wait(futures)
        errors = [future.exception() for future in futures if future.exception() is not None]
        if errors:
            raise errors[0]
        return set().union(*(future.result() for future in futures))

    def replace_rows(
        self, table: sa.Table, key_column: str, keys: list[str], frame: pl.DataFrame
    ) -> None:
        """Delete every row of ``table`` whose ``key_column`` is in ``keys``, then insert ``frame``:
        one transaction, so readers see the old rows or the new ones, never a mix."""
        prepared = prepare_frame(table, frame)
        column = table.c[key_column]

        def work(connection: sa.Connection) -> None:
            if keys:
                connection.execute(sa.delete(table).where(column.in_(keys)))
            if prepared.height:
                self._upsert_batch(connection, table, prepared, _LOG)

        self.run_in_transaction(work)

    def read(self, statement: sa.Executable, batch_rows: int = READ_BATCH_ROWS) -> pl.DataFrame:
        """Run a select and return a polars frame (JSON values come back as JSON text).

        Rows are streamed from the server (``stream_results``) and turned into columns
        ``batch_rows`` at a time, so reading millions of rows holds one batch of Python row
        objects (~4 KB a row) beside the frame (~300 bytes a row), not all of them (issue 15: a
        leaderboard of a 1 M-row window read 4 GB). Column types are inferred over every row,
        as from one batch (``vertical_relaxed``: a batch of NULLs takes the others' type)."""

        def frame_of(rows: list) -> pl.DataFrame:
            return pl.DataFrame(
                [
                    tuple(
                        json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v
                        for v in row
                    )
                    for row in rows
                ],
                schema=names,
                orient="row",
                infer_schema_length=None,
            )

        with self._translated_errors(), self.engine().connect() as connection:
            result = connection.execution_options(stream_results=True).execute(statement)
            names = list(result.keys())
            frames = [frame_of(batch) for batch in result.partitions(batch_rows)]
        if not frames:
            return frame_of([])
        return pl.concat(frames, how="vertical_relaxed") if len(frames) > 1 else frames[0]


def contiguous_groups(batches: list[pl.DataFrame], groups: int) -> list[list[pl.DataFrame]]:
    """``batches`` cut into at most ``groups`` runs of consecutive batches, as even as possible."""
    groups = max(1, min(groups, len(batches)))
    bounds = [round(index * len(batches) / groups) for index in range(groups + 1)]
    return [batches[bounds[index] : bounds[index + 1]] for index in range(groups)]


def prepare_frame(table: sa.Table, frame: pl.DataFrame) -> pl.DataFrame:
    """Select ``table``'s columns from ``frame`` in table order, ready for writing.

    Raises on an unknown column, a missing NOT NULL column, or a repeated primary key. Floats:
    NaN/inf -> null. Booleans -> 0/1 (what both dialects store for ``sa.Boolean``; MySQL's
    ``LOAD DATA`` would reject ``true``/``false`` text). JSON columns: dicts/lists serialized to
    JSON text. Dates stay dates.
    """
    table_names = [c.name for c in table.columns]
    unknown = sorted(set(frame.columns) - set(table_names))
    if unknown:
        raise ResultsStoreError("columns not in table " + table.name + ": " + ", ".join(unknown))
    missing = [c.name for c in table.columns if c.name not in frame.columns and not c.nullable]
    if missing:
        raise ResultsStoreError(
            "missing NOT NULL columns for " + table.name + ": " + ", ".join(missing)
        )
    keys = [c.name for c in table.primary_key.columns]
    if frame.height and frame.n_unique(subset=keys) != frame.height:
        raise ResultsStoreError("repeated primary key in rows for " + table.name)
    expressions = []
    for column in table.columns:
        name = column.name
        if name not in frame.columns:
            expressions.append(pl.lit(None, dtype=_polars_type(column.type)).alias(name))
            continue
        dtype = frame.schema[name]
        if isinstance(column.type, sa.JSON):
            values = frame.get_column(name)
            if dtype != pl.String:
                values = pl.Series(
                    name,
                    [
                        None if v is None else json.dumps(v, sort_keys=True)
                        for v in values.to_list()
                    ],
                    dtype=pl.String,
                )
            expressions.append(values.to_frame().to_series())
        elif dtype.is_float():
            expressions.append(
                pl.when(pl.col(name).is_finite()).then(pl.col(name)).otherwise(None).alias(name)
            )
        elif dtype == pl.Boolean:
            expressions.append(pl.col(name).cast(pl.Int8))
        else:
            expressions.append(pl.col(name))
    return frame.select(expressions)


def _polars_type(column_type: sa.types.TypeEngine) -> pl.DataType:
    if isinstance(column_type, sa.Date):
        return pl.Date
    if isinstance(column_type, sa.Integer):
        return pl.Int64
    if isinstance(column_type, sa.Float):
        return pl.Float64
    return pl.String


def bind_rows(compiled: sa.engine.Compiled, frame: pl.DataFrame) -> list[tuple] | list[dict]:
    """``frame``'s rows as DB-API parameters for ``compiled`` (an insert compiled with the frame's
    columns as keys): tuples for positional paramstyles, dicts for named ones. Dates go as ISO
    text, which sqlite3 and pymysql both accept."""
    converted = frame.with_columns(
        [
            pl.col(name).dt.strftime("%Y-%m-%d")
            for name, dtype in frame.schema.items()
            if dtype == pl.Date
        ]
    )
    if compiled.positiontup is None:
        return converted.to_dicts()
    return converted.select(list(compiled.positiontup)).rows()
