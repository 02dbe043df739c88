"""The embedded results store: a SQLite file, upserts by ``INSERT ... ON CONFLICT DO UPDATE``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sqlite_dialect

from orb_pipeline.results.resource.base import ResultsStore, bind_rows


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

    def _upsert_batch(
        self, connection: sa.Connection, table: sa.Table, frame: pl.DataFrame, log: Any
    ) -> str:
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
        cursor.executemany(compiled.string, bind_rows(compiled, frame))
        cursor.close()
        return "sqlite"
