"""The production results store: MySQL or MariaDB through pymysql.

Each batch goes by ``LOAD DATA LOCAL INFILE ... REPLACE`` (the fast path) or, when the server
refuses local infile (remembered per resource), by multi-row ``INSERT ... ON DUPLICATE KEY UPDATE``
in the same transaction.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl
import pymysql
import sqlalchemy as sa
from pydantic import PrivateAttr
from sqlalchemy.dialects import mysql as mysql_dialect

from orb_pipeline.core import settings
from orb_pipeline.core.local_infile import (
    LOCAL_INFILE_REFUSED_CODES,
    RestrictedLocalInfileConnection,
    load_frame,
)
from orb_pipeline.core.mysql_tls import MySqlTls
from orb_pipeline.results.resource.base import (
    ResultsStore,
    ResultsStoreError,
    bind_rows,
    mysql_error_code,
)

_PACKET_MARGIN = 64 * 1024


class MySqlResultsStore(ResultsStore):
    """Production store: MySQL or MariaDB through pymysql. ``LOAD DATA LOCAL`` may read only the
    CSV our own statement wrote (``core/local_infile.py``); with ``tls_ca_path`` TLS is required and the
    server's certificate and host name are verified against that CA (the RDS bundle in the stack;
    the rule: :mod:`orb_pipeline.core.mysql_tls`)."""

    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str = ""
    database: str = "results"
    use_load_data: bool = True
    write_connections: int = 2
    connect_timeout_seconds: int = 10
    tls_ca_path: str | None = None
    _load_data_refused: bool = PrivateAttr(default=False)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        settings.check_deployment_values(
            "results store",
            {
                "ORB_RESULTS_HOST": self.host,
                "ORB_RESULTS_PORT": self.port,
                "ORB_RESULTS_DATABASE": self.database,
                "ORB_RESULTS_USER": self.user,
                # Nor switch verification off, or trust another CA.
                "ORB_RESULTS_TLS_CA": self.tls_ca_path or "",
            },
        )

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
        connect_args: dict[str, Any] = {
            "connect_timeout": self.connect_timeout_seconds,
            **self._tls().pymysql_connect_args(),
        }
        engine = sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)
        if self.use_load_data:

            @sa.event.listens_for(engine, "do_connect")
            def restricted_local_infile(dialect, connection_record, cargs, cparams):
                return RestrictedLocalInfileConnection(*cargs, **cparams)

        return engine

    def _tls(self) -> MySqlTls:
        return MySqlTls(self.tls_ca_path, "ORB_RESULTS_TLS_CA")

    def _tls_refusal(self, error: BaseException) -> str | None:
        tls = self._tls()
        if not tls.refused(error):
            return None
        return tls.failure_message(self.host + ":" + str(self.port), error)

    def _write_connections(self) -> int:
        return self.write_connections

    def _upsert_batch(
        self, connection: sa.Connection, table: sa.Table, frame: pl.DataFrame, log: Any
    ) -> str:
        try:
            return self._upsert_batch_unchecked(connection, table, frame, log)
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
        self, connection: sa.Connection, table: sa.Table, frame: pl.DataFrame, log: Any
    ) -> str:
        if self.use_load_data and not self._load_data_refused:
            if self._load_data_batch(connection, table, frame, log):
                return "load_data"
        self._multi_row_batch(connection, table, frame)
        return "multi_row"

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
        rows = bind_rows(compiled, frame)
        packet = connection.exec_driver_sql("SELECT @@max_allowed_packet").scalar_one()
        cursor = connection.connection.dbapi_connection.cursor()
        # pymysql's executemany folds INSERT ... VALUES into multi-row statements of this length.
        cursor.max_stmt_length = max(64 * 1024, min(int(packet) - _PACKET_MARGIN, 16 * 1024 * 1024))
        cursor.executemany(compiled.string, rows)
        cursor.close()

    def _load_data_batch(
        self, connection: sa.Connection, table: sa.Table, frame: pl.DataFrame, log: Any
    ) -> bool:
        """Load ``frame`` by ``LOAD DATA LOCAL INFILE ... REPLACE``; ``False`` (nothing written,
        the transaction still usable) when the server refuses local infile, which is then
        remembered so later batches go straight to the multi-row path."""
        # Every column is in the frame (prepare_frame), so REPLACE (delete + insert of a row with a
        # known key) is the same whole-row upsert as the other paths. With LOCAL, bad values become
        # warnings (truncation, bad numbers), so any warning fails the batch.
        constants = _constant_columns(frame, {c.name for c in table.primary_key.columns})
        try:
            affected, warnings = load_frame(
                connection.connection.dbapi_connection,
                connection.dialect.identifier_preparer.quote(table.name),
                frame,
                quote=connection.dialect.identifier_preparer.quote,
                duplicates="REPLACE",  # affected: inserted + 2 x replaced
                constants=constants,
            )
        except (pymysql.err.OperationalError, pymysql.err.InternalError) as error:
            if mysql_error_code(error) not in LOCAL_INFILE_REFUSED_CODES:
                raise
            log.warning(
                f"results store {self.describe()} refused LOAD DATA LOCAL INFILE ({error});"
                " falling back to multi-row INSERT ... ON DUPLICATE KEY UPDATE (slower)"
            )
            self._load_data_refused = True
            return False
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
        return True


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
