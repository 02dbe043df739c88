"""The results store: MySQL through pymysql, or an embedded SQLite file, behind one interface.

Contracts
- Tables come from :mod:`orb_pipeline.results.schema` (one SQLAlchemy Core definition for both
  dialects) and are created idempotently by :meth:`ResultsStore.ensure_tables`; any other stage
  may pass its own ``sa.Table`` objects.
- :meth:`ResultsStore.upsert` writes a polars frame into a table with a primary key: a row with an
  existing key is replaced as a whole (table columns missing from the frame become NULL), new keys
  are inserted, nothing is ignored (duplicate keys inside one frame are an error). NaN and
  +/-infinity are stored as NULL. Each batch is one transaction; deadlocks (MySQL 1213) and
  lock-wait timeouts are retried.
- Rows are written in key order, in batches of at most ``batch_rows``. On MySQL,
  ``write_connections`` (default 2) connections write at once, each a contiguous run of batches
  (disjoint key ranges); after a failed batch no connection starts another, and the error is raised.
  Batches already committed stay: a re-run replaces them, so nothing is duplicated.
- MySQL path: ``LOAD DATA LOCAL INFILE ... REPLACE`` of a CSV of the batch in key order (the fast
  path; any warning fails the batch; text, date and integer columns with one value in the whole
  batch are passed once as ``SET`` parameters instead of in every CSV row); when the server
  refuses local infile, multi-row
  ``INSERT ... ON DUPLICATE KEY UPDATE`` statements sized below the server's
  ``max_allowed_packet`` (queried), with a warning in the log.
- SQLite path: ``INSERT ... ON CONFLICT DO UPDATE`` through ``executemany``.
- A server that cannot be reached raises :class:`ResultsStoreUnavailable` naming it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pymysql
import sqlalchemy as sa
from pydantic import PrivateAttr
from sqlalchemy.dialects import mysql as mysql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from orb_pipeline.results import schema

_LOG = logging.getLogger(__name__)

# MySQL error codes (pymysql puts them in ``exc.orig.args[0]``).
_RETRYABLE = {1213, 1205}  # deadlock, lock wait timeout
_UNREACHABLE = {1044, 1045, 1049, 2002, 2003, 2005, 2006, 2013}
_LOCAL_INFILE_REFUSED = {1148, 2068, 3948, 4166}
_PACKET_MARGIN = 64 * 1024


class ResultsStoreError(RuntimeError):
    """A results-store operation failed for a reason the caller can act on."""


class ResultsStoreUnavailable(ResultsStoreError):
    """The results database cannot be reached (the message names the server)."""


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


def _mysql_code(error: BaseException) -> int | None:
    original = getattr(error, "orig", None)
    args = getattr(original, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


class ResultsStore(dg.ConfigurableResource):
    """Base of the results stores; use :class:`SqliteResultsStore` or :class:`MySqlResultsStore`."""

    batch_rows: int = 100_000
    _engine: sa.Engine | None = PrivateAttr(default=None)
    _log: Any = PrivateAttr(default=None)  # the logger of the upsert in progress

    # --- implemented by each dialect -------------------------------------------------------
    def describe(self) -> str:
        raise NotImplementedError

    def _create_engine(self) -> sa.Engine:
        raise NotImplementedError

    def _upsert_batch(self, connection: sa.Connection, table: sa.Table, frame: pl.DataFrame) -> str:
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
        except sa.exc.OperationalError as error:
            code = _mysql_code(error)
            if code in _UNREACHABLE or (code is None and "unable to open" in str(error)):
                raise ResultsStoreUnavailable(
                    "cannot use the results store " + self.describe() + ": " + str(error.orig)
                ) from error
            raise

    def run_in_transaction(self, work: Callable[[sa.Connection], Any], attempts: int = 6) -> Any:
        """Run ``work(connection)`` in one transaction, retrying deadlocks and lock timeouts."""
        for attempt in range(attempts):
            try:
                with self._translated_errors(), self.engine().begin() as connection:
                    return work(connection)
            except sa.exc.OperationalError as error:
                retryable = _mysql_code(error) in _RETRYABLE or "database is locked" in str(error)
                if not retryable or attempt == attempts - 1:
                    raise
                _LOG.warning(
                    "results store: %s; retrying the transaction (attempt %d)",
                    error.orig,
                    attempt + 2,
                )
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    def ensure_tables(self, *tables: sa.Table) -> None:
        """Create the given tables (default: ``results`` and ``trades``) if they do not exist."""
        chosen = list(tables) or [schema.results, schema.trades]
        for attempt in range(3):
            try:
                with self._translated_errors(), self.engine().begin() as connection:
                    for table in chosen:
                        table.create(connection, checkfirst=True)
                return
            except (sa.exc.OperationalError, sa.exc.ProgrammingError) as error:
                # Two workers creating the same table at once: the loser sees 1050; re-check.
                if _mysql_code(error) != 1050 or attempt == 2:
                    raise

    def upsert(self, table: sa.Table, frame: pl.DataFrame, log: Any = None) -> UpsertReport:
        """Insert or replace ``frame``'s rows in ``table`` by primary key (see module docstring)."""
        log = self._log = log or _LOG
        started = time.perf_counter()
        # Key order keeps B-tree inserts local (random hash ids otherwise split pages everywhere).
        prepared = prepare_frame(table, frame).sort([c.name for c in table.primary_key.columns])
        connections = max(1, min(self._write_connections(), prepared.height))
        size = max(1, min(self.batch_rows, -(-prepared.height // connections)))
        batches = [prepared.slice(offset, size) for offset in range(0, prepared.height, size)]
        # Each connection takes one contiguous run of batches: disjoint key ranges, no lock waits.
        groups = _contiguous_groups(batches, connections)
        methods = self._write_groups(table, groups)
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

    def _write_groups(self, table: sa.Table, groups: list[list[pl.DataFrame]]) -> set[str]:
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
                                connection, table, batch
                            )
                        )
                    )
                except BaseException:
                    stop.set()
                    raise
            return methods

        if len(groups) == 1:  # _contiguous_groups always gives at least one
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
                self._upsert_batch(connection, table, prepared)

        self.run_in_transaction(work)

    def read(self, statement: sa.Executable) -> pl.DataFrame:
        """Run a select and return a polars frame (JSON values come back as JSON text)."""
        with self._translated_errors(), self.engine().connect() as connection:
            result = connection.execute(statement)
            names = list(result.keys())
            rows = [
                tuple(
                    json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v for v in row
                )
                for row in result.fetchall()
            ]
        return pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)


class SqliteResultsStore(ResultsStore):
    """Embedded default: a SQLite file (WAL mode)."""

    path: str

    def describe(self) -> str:
        return "SQLite " + self.path

    def _create_engine(self) -> sa.Engine:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine("sqlite:///" + self.path, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # noqa: ANN001
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine

    def _upsert_batch(self, connection: sa.Connection, table: sa.Table, frame: pl.DataFrame) -> str:
        names = frame.columns
        statement = sqlite_dialect.insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=[c.name for c in table.primary_key.columns],
            set_={
                name: statement.excluded[name]
                for name in names
                if name not in table.primary_key.columns
            },
        )
        compiled = statement.compile(dialect=connection.dialect, column_keys=names)
        cursor = connection.connection.dbapi_connection.cursor()
        cursor.executemany(compiled.string, _bind_rows(compiled, frame))
        cursor.close()
        return "sqlite"


class MySqlResultsStore(ResultsStore):
    """Production store: MySQL or MariaDB through pymysql (``local_infile`` enabled on the client)."""

    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str = ""
    database: str = "results"
    use_load_data: bool = True
    write_connections: int = 2
    connect_timeout_seconds: int = 10
    _load_data_refused: bool = PrivateAttr(default=False)

    def describe(self) -> str:
        return "MySQL " + self.host + ":" + str(self.port) + "/" + self.database

    def _create_engine(self) -> sa.Engine:
        url = sa.engine.URL.create(
            "mysql+pymysql",
            username=self.user,
            password=self.password or None,
            host=self.host,
            port=self.port,
            database=self.database,
            query={"charset": "utf8mb4"},
        )
        return sa.create_engine(
            url,
            pool_pre_ping=True,
            connect_args={"local_infile": True, "connect_timeout": self.connect_timeout_seconds},
        )

    def _write_connections(self) -> int:
        return self.write_connections

    def _upsert_batch(self, connection: sa.Connection, table: sa.Table, frame: pl.DataFrame) -> str:
        try:
            return self._upsert_batch_unchecked(connection, table, frame)
        except pymysql.err.DataError as error:  # raw DB-API cursor: SQLAlchemy does not wrap it
            first_key = frame.select(c.name for c in table.primary_key.columns).row(0)
            raise ResultsStoreError(
                "rejected a batch of "
                + str(frame.height)
                + " rows for "
                + table.name
                + " (first key "
                + ", ".join(map(str, first_key))
                + "): "
                + str(error.args[-1])
                + "; batch rolled back"
            ) from error

    def _upsert_batch_unchecked(
        self, connection: sa.Connection, table: sa.Table, frame: pl.DataFrame
    ) -> str:
        if self.use_load_data and not self._load_data_refused:
            try:
                self._load_data_batch(connection, table, frame)
                return "load_data"
            except (
                sa.exc.OperationalError,
                sa.exc.InternalError,
                sa.exc.ProgrammingError,
            ) as error:
                if _mysql_code(error) not in _LOCAL_INFILE_REFUSED:
                    raise
                (self._log or _LOG).warning(
                    f"results store {self.describe()} refused LOAD DATA LOCAL INFILE ({error.orig});"
                    " falling back to multi-row INSERT ... ON DUPLICATE KEY UPDATE (slower)"
                )
                self._load_data_refused = True
                raise _RetryWithoutLoadData from error
        self._multi_row_batch(connection, table, frame)
        return "multi_row"

    def run_in_transaction(self, work: Callable[[sa.Connection], Any], attempts: int = 6) -> Any:
        try:
            return super().run_in_transaction(work, attempts)
        except _RetryWithoutLoadData:
            return super().run_in_transaction(work, attempts)

    @staticmethod
    def _upsert_statement(table: sa.Table, names: list[str]) -> mysql_dialect.Insert:
        statement = mysql_dialect.insert(table)
        return statement.on_duplicate_key_update(
            {
                name: statement.inserted[name]
                for name in names
                if name not in table.primary_key.columns
            }
        )

    def _multi_row_batch(
        self, connection: sa.Connection, table: sa.Table, frame: pl.DataFrame
    ) -> None:
        names = frame.columns
        compiled = self._upsert_statement(table, names).compile(
            dialect=connection.dialect, column_keys=names
        )
        rows = _bind_rows(compiled, frame)
        packet = connection.exec_driver_sql("SELECT @@max_allowed_packet").scalar_one()
        cursor = connection.connection.dbapi_connection.cursor()
        # pymysql's executemany folds INSERT ... VALUES into multi-row statements of this length.
        cursor.max_stmt_length = max(64 * 1024, min(int(packet) - _PACKET_MARGIN, 16 * 1024 * 1024))
        cursor.executemany(compiled.string, rows)
        cursor.close()

    def _load_data_batch(
        self, connection: sa.Connection, table: sa.Table, frame: pl.DataFrame
    ) -> None:
        # Every column is in the frame (prepare_frame), so REPLACE (delete + insert of a row with a
        # known key) is the same whole-row upsert as the other paths. With LOCAL, bad values become
        # warnings (truncation, bad numbers), so any warning fails the batch.
        quote = connection.dialect.identifier_preparer.quote
        constants = _constant_columns(frame, {c.name for c in table.primary_key.columns})
        parsed = [name for name in frame.columns if name not in constants]
        with tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False) as handle:
            path = handle.name
        try:
            frame.select(parsed).write_csv(
                path,
                include_header=False,
                null_value="NULL",
                quote_style="necessary",
                line_terminator="\n",
                date_format="%Y-%m-%d",
            )
            load = (
                "LOAD DATA LOCAL INFILE %s REPLACE INTO TABLE "
                + quote(table.name)
                + " CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"'"
                + " ESCAPED BY '' LINES TERMINATED BY '\\n' ("
                + ", ".join(quote(name) for name in parsed)
                + ")"
            )
            if constants:
                load += " SET " + ", ".join(quote(name) + " = %s" for name in constants)
            cursor = connection.connection.dbapi_connection.cursor()
            affected = cursor.execute(load, (path, *constants.values()))  # inserted + 2 x replaced
            cursor.execute("SHOW COUNT(*) WARNINGS")
            warnings = cursor.fetchone()[0]
            cursor.close()
        finally:
            os.unlink(path)
        if warnings or not frame.height <= affected <= 2 * frame.height:
            raise ResultsStoreError(
                "LOAD DATA into "
                + table.name
                + " affected "
                + str(affected)
                + " rows for "
                + str(frame.height)
                + " with "
                + str(warnings)
                + " warning(s); batch rolled back"
            )


def _contiguous_groups(batches: list[pl.DataFrame], groups: int) -> list[list[pl.DataFrame]]:
    """``batches`` cut into at most ``groups`` runs of consecutive batches, as even as possible."""
    groups = max(1, min(groups, len(batches)))
    bounds = [round(index * len(batches) / groups) for index in range(groups + 1)]
    return [batches[bounds[index] : bounds[index + 1]] for index in range(groups)]


def _constant_columns(frame: pl.DataFrame, skip: set[str]) -> dict[str, Any]:
    """Text, date and integer columns holding one non-null value in every row of ``frame`` (two
    rows or more), with that value: ``LOAD DATA`` sets them once instead of parsing every row."""
    if frame.height < 2:
        return {}
    constants = {}
    for name, dtype in frame.schema.items():
        if name in skip or not (dtype in (pl.String, pl.Date) or dtype.is_integer()):
            continue
        column = frame.get_column(name)
        first = column.item(0)
        if first is not None and column.null_count() == 0 and (column == first).all():
            constants[name] = first
    return constants


class _RetryWithoutLoadData(Exception):
    """Internal: the server refused local infile; the batch is re-run on the multi-row path."""


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


def _bind_rows(compiled: sa.engine.Compiled, frame: pl.DataFrame) -> list[tuple] | list[dict]:
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


def results_from_environment(data_dir: Path) -> ResultsStore:
    """The ``results`` resource chosen by ``ORB_RESULTS`` (``sqlite`` default, or ``mysql``).

    Names are read now: ``ORB_RESULTS_PATH`` (default ``<data_dir>/results.sqlite``),
    ``ORB_RESULTS_PORT``, ``ORB_RESULTS_DATABASE`` (default ``results``), ``ORB_RESULTS_LOAD_DATA``
    (``false`` skips LOAD DATA LOCAL INFILE), ``ORB_RESULTS_WRITE_CONNECTIONS`` (default 2). Host,
    user and password are ``dg.EnvVar``s resolved at run time (``ORB_RESULTS_HOST``,
    ``ORB_RESULTS_USER``, ``ORB_RESULTS_PASSWORD``).
    """
    kind = os.environ.get("ORB_RESULTS", "sqlite").strip().lower()
    if kind == "sqlite":
        return SqliteResultsStore(
            path=os.environ.get("ORB_RESULTS_PATH", str(data_dir / "results.sqlite"))
        )
    if kind == "mysql":
        return MySqlResultsStore(
            host=dg.EnvVar("ORB_RESULTS_HOST"),
            port=int(os.environ.get("ORB_RESULTS_PORT", "3306")),
            user=dg.EnvVar("ORB_RESULTS_USER"),
            password=dg.EnvVar("ORB_RESULTS_PASSWORD"),
            database=os.environ.get("ORB_RESULTS_DATABASE", "results"),
            write_connections=_positive_int("ORB_RESULTS_WRITE_CONNECTIONS", 2),
            use_load_data=os.environ.get("ORB_RESULTS_LOAD_DATA", "true").strip().lower()
            not in {"0", "false", "no"},
        )
    raise ValueError(f"ORB_RESULTS must be 'sqlite' or 'mysql', got {kind!r}")


def _positive_int(name: str, default: int) -> int:
    text = os.environ.get(name, str(default)).strip()
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {text!r}")
    return int(text)
