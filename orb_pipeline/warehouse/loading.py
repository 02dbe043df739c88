"""Create the warehouse table and load rows into it (tests, benchmarks, seeding a MySQL warehouse),
and copy one warehouse into another (``orb-pipeline load-warehouse``).

``insert_rows`` goes through SQLAlchemy Core ``insert`` with bound parameters, in batches;
``copy_warehouse`` loads a MySQL target by ``LOAD DATA LOCAL INFILE`` of CSV chunks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import polars as pl
import pymysql
import sqlalchemy as sa
import sqlalchemy.dialects.mysql.pymysql

from orb_pipeline.calendar import session_table
from orb_pipeline.core.local_infile import (
    LOCAL_INFILE_REFUSED_CODES,
    RestrictedLocalInfileConnection,
    load_frame,
)
from orb_pipeline.warehouse.demo import (
    DEMO_SEED,
    DEMO_START_PRICES,
    ROW_COLUMNS,
    generate_session,
)
from orb_pipeline.warehouse.resource import MySqlWarehouse, Warehouse

T = TypeVar("T")


def demo_rows(
    tickers: Iterable[str], first_session: str, last_session: str, seed: int = DEMO_SEED
) -> pl.DataFrame:
    """The demo generator's rows (``ROW_COLUMNS``) for the given tickers and sessions, in the
    order they are inserted (time, then generation order within a second)."""
    frames = []
    sessions = session_table(first_session, last_session)
    for ticker in tickers:
        price = DEMO_START_PRICES.get(ticker, 100.0)
        for day, open_utc, close_utc in sessions.select(
            "session_date", "open_utc", "close_utc"
        ).iter_rows():
            data, price = generate_session(
                ticker, day.isoformat(), open_utc, close_utc, price, seed
            )
            frames.append(pl.DataFrame({name: data[name] for name in ROW_COLUMNS}))
    if not frames:
        return pl.DataFrame(schema={name: pl.Float64 for name in ROW_COLUMNS})
    return pl.concat(frames).sort("timestamp_utc", maintain_order=True)


def create_table(warehouse: Warehouse) -> None:
    """Create the warehouse table (and its ticker/time index) if it does not exist."""
    table = warehouse.greeks_table()
    engine = warehouse.engine()
    try:
        table.metadata.create_all(engine)
    finally:
        engine.dispose()


def insert_rows(warehouse: Warehouse, rows: pl.DataFrame, batch_rows: int = 20_000) -> int:
    """Append ``rows`` (any subset of the table's columns except the order column) in their order,
    so the order column (auto-increment) follows the frame's order. Returns the row count."""
    table = warehouse.greeks_table()
    engine = warehouse.engine()
    try:
        with engine.begin() as connection:
            for start in range(0, rows.height, batch_rows):
                connection.execute(table.insert(), rows.slice(start, batch_rows).to_dicts())
    finally:
        engine.dispose()
    return rows.height


class WarehouseNotEmptyError(ValueError):
    """The target table of a copy holds rows that are not a prefix of the source's (pass
    ``replace=True`` to empty it first)."""


def copy_warehouse(
    source: Warehouse,
    target: MySqlWarehouse,
    *,
    chunk_rows: int = 250_000,
    replace: bool = False,
    keep_indexes: bool = False,
    progress: Callable[[str], None] = lambda message: None,
) -> int:
    """Copy every row of ``source``'s table into the MySQL ``target``'s (created when absent),
    with the same order-column values, so both warehouses return identical pulls; returns the rows
    copied by this call.

    Rows go in order-column order, ``chunk_rows`` at a time: read by connectorx (the next chunk
    while the server loads this one), written as a CSV by polars, loaded by ``LOAD DATA LOCAL
    INFILE`` (``core/local_infile.py``: the server may read that file and no other), each chunk
    committed on its own. A server that refuses local infile gets multi-row ``INSERT``s instead.
    A re-run is idempotent: a target holding exactly the source's rows up to its highest id (what
    an interrupted or finished copy leaves) resumes after that id, so nothing is duplicated or
    copied twice; any other non-empty target is refused unless ``replace`` (then it is emptied
    first). Into an empty table the secondary index is built after the rows are in, unless
    ``keep_indexes``. Finally the target's (rows, min id, max id) are checked against the source's.
    """
    if target.order_column != source.order_column:
        raise ValueError(
            f"order columns differ: source {source.order_column!r}, target {target.order_column!r}"
        )
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    source_table, target_table = source.greeks_table(), target.greeks_table()
    columns = [column.name for column in source_table.columns]
    order = source_table.c[source.order_column]
    [expected] = source._execute(_summary(source_table, source.order_column))
    create_table(target)
    target_summary = _summary(target_table, target.order_column)
    [present] = target._execute(target_summary)
    after = None  # copy the source rows whose id is greater than this
    if present[0] and replace:
        _truncate(target)
    elif present[0]:
        [prefix] = source._execute(
            _summary(source_table, source.order_column).where(order <= present[2])
        )
        if tuple(prefix) != tuple(present):
            raise WarehouseNotEmptyError(
                f"warehouse {target.describe()} already holds {present[0]:,} rows that are not "
                f"the source's first rows (rows, min id, max id: {tuple(present)} in the target, "
                f"{tuple(prefix)} in the source up to id {present[2]}); pass --replace to empty "
                "the table first"
            )
        after = present[2]
        progress(
            f"the target already holds the source's {present[0]:,} rows up to id {after:,}; "
            "copying the rest"
        )
    if after is None and not keep_indexes:
        # An empty table: its secondary index is built once, sorted, after the rows are in (1.2x
        # faster than keeping it up to date for 0.9 M rows, about even for 12 M rows on a server
        # with a 128 MB buffer pool: benchmarks.warehouse_load, docs/PERFORMANCE.md).
        _drop_secondary_indexes(target)
    remaining = expected[0] - (present[0] if after is not None else 0)
    copied, started = 0, time.perf_counter()
    with _LoadConnection(target) as writer, ThreadPoolExecutor(1) as reader:
        # The next chunk is read while the server loads this one.
        chunk = _read_chunk(source, columns, after, chunk_rows)
        while not chunk.is_empty():
            after = chunk[source.order_column][-1]
            following = reader.submit(_read_chunk, source, columns, after, chunk_rows)
            writer.append(chunk)
            copied += chunk.height
            progress(
                f"copied {copied:,} of {remaining:,} rows "
                f"({copied / max(time.perf_counter() - started, 1e-9):,.0f} rows/s, "
                f"{writer.method})"
            )
            chunk = following.result()
    built = _create_missing_indexes(target)
    if built:
        progress(f"built index {', '.join(built)} ({time.perf_counter() - started:,.0f} s in all)")
    [written] = target._execute(target_summary)
    if tuple(written) != tuple(expected):
        raise RuntimeError(
            f"copy to {target.describe()} does not match the source: (rows, min id, max id) "
            f"{tuple(written)} != {tuple(expected)}"
        )
    return copied


def _summary(table: sa.Table, order_column: str) -> sa.Select:
    order = table.c[order_column]
    return sa.select(sa.func.count(), sa.func.min(order), sa.func.max(order)).select_from(table)


def _read_chunk(
    source: Warehouse, columns: list[str], after: int | None, rows: int
) -> pl.DataFrame:
    """The next ``rows`` source rows in order-column order, after id ``after`` (``None``: from
    the first), every column in the table's types (``COPY_SCHEMA``)."""
    import connectorx

    table = source.greeks_table()
    order = table.c[source.order_column]
    statement = sa.select(*[table.c[name] for name in columns]).order_by(order).limit(rows)
    if after is not None:
        statement = statement.where(order > int(after))
    # connectorx takes text: the only literals are the two ints above.
    query = str(
        statement.compile(dialect=source.engine().dialect, compile_kwargs={"literal_binds": True})
    )

    def read() -> pl.DataFrame:
        return connectorx.read_sql(source._connectorx_url(), query, return_type="polars")

    frame = source._with_retries("read rows to copy", read)
    schema = {name: _COPY_TYPES[name] for name in columns if name in _COPY_TYPES}
    schema[source.order_column] = pl.Int64
    try:
        return frame.select([pl.col(name).cast(schema.get(name, pl.String)) for name in columns])
    except pl.exceptions.PolarsError as error:
        raise ValueError(
            f"warehouse {source.describe()}: rows after id {after} cannot be read as the "
            f"table's types ({str(error).splitlines()[0][:200]})"
        ) from None


_COPY_TYPES = {
    "timestamp_utc": pl.Int64,
    "ticker": pl.String,
    "underlying": pl.Float64,
    "delta": pl.Float64,
    "implied_volatility": pl.Float64,
    "strike": pl.Float64,
    "option_type": pl.String,
}


def _in_transaction(
    target: MySqlWarehouse, what: str, action: Callable[[sa.Connection, sa.Table], T]
) -> T:
    """``action(connection, table)`` in one transaction on ``target``, with its retries."""
    table = target.greeks_table()

    def run() -> T:
        engine = target.engine()
        try:
            with engine.begin() as connection:
                return action(connection, table)
        finally:
            engine.dispose()

    return target._with_retries(what, run)


def _present_indexes(connection: sa.Connection, table: sa.Table) -> set[str]:
    return {index["name"] for index in sa.inspect(connection).get_indexes(table.name, table.schema)}


def _drop_secondary_indexes(target: MySqlWarehouse) -> None:
    def drop(connection: sa.Connection, table: sa.Table) -> None:
        present = _present_indexes(connection, table)
        for index in table.indexes:
            if index.name in present:
                index.drop(connection)

    _in_transaction(target, "drop the secondary index", drop)


def _create_missing_indexes(target: MySqlWarehouse) -> list[str]:
    """Create the table's indexes that the target lacks (dropped for a load); their names."""

    def create(connection: sa.Connection, table: sa.Table) -> list[str]:
        present = _present_indexes(connection, table)
        missing = [index for index in table.indexes if index.name not in present]
        for index in missing:
            index.create(connection)
        return [index.name for index in missing]

    return _in_transaction(target, "build the secondary index", create)


def _truncate(target: MySqlWarehouse) -> None:
    def truncate(connection: sa.Connection, table: sa.Table) -> None:
        # Identifiers are validated configuration; TRUNCATE takes no parameters.
        quoted = connection.dialect.identifier_preparer.format_table(table)
        connection.exec_driver_sql("TRUNCATE TABLE " + quoted)

    _in_transaction(target, "empty the table", truncate)


class _LoadConnection:
    """One connection to the MySQL target that appends frames: ``LOAD DATA LOCAL INFILE`` (each
    frame committed on its own), or multi-row ``INSERT``s once the server refuses local infile."""

    def __init__(self, target: MySqlWarehouse) -> None:
        self.target = target
        self.method = "LOAD DATA LOCAL INFILE"
        self.connection: RestrictedLocalInfileConnection | None = None
        self.dialect = sa.dialects.mysql.pymysql.dialect()
        self.quote = self.dialect.identifier_preparer.quote
        self.table_sql = self.dialect.identifier_preparer.format_table(target.greeks_table())

    def __enter__(self) -> _LoadConnection:
        def connect() -> RestrictedLocalInfileConnection:
            return RestrictedLocalInfileConnection(
                host=self.target.host,
                port=self.target.port,
                user=self.target.user,
                password=self.target.password,
                database=self.target.database,
                connect_timeout=self.target.connect_timeout_seconds,
                autocommit=True,
                **self.target._connect_args(),  # TLS as every warehouse connection
            )

        self.connection = self.target._with_retries("connect", connect)
        return self

    def __exit__(self, *exc_info) -> None:
        if self.connection is not None:
            self.connection.close()

    def append(self, frame: pl.DataFrame) -> None:
        first, last = frame[self.target.order_column][0], frame[self.target.order_column][-1]
        where = f"rows with ids {first}..{last} into {self.target.describe()}"
        if self.method == "LOAD DATA LOCAL INFILE":
            try:
                affected, warnings = load_frame(
                    self.connection, self.table_sql, frame, quote=self.quote
                )
            except pymysql.err.MySQLError as error:
                if _error_code(error) not in LOCAL_INFILE_REFUSED_CODES:
                    raise RuntimeError(
                        f"loading {where} failed: {error}; the rows before id {first} are "
                        "complete, re-run to resume after them"
                    ) from None
                self.method = "multi-row INSERT (the server refused LOAD DATA LOCAL INFILE)"
            else:
                if warnings or affected != frame.height:
                    raise RuntimeError(
                        f"loading {where}: {affected:,} of {frame.height:,} rows stored with "
                        f"{warnings} warning(s) ({self._first_warning()}); rows up to id "
                        f"{first - 1} are complete, re-run to resume after them"
                    )
                return
        compiled = (
            self.target.greeks_table()
            .insert()
            .compile(dialect=self.dialect, column_keys=frame.columns)
        )
        cursor = self.connection.cursor()
        try:
            # pymysql folds INSERT ... VALUES into multi-row statements; one transaction per frame.
            self.connection.begin()
            cursor.executemany(compiled.string, frame.select(list(compiled.positiontup)).rows())
            self.connection.commit()
        except pymysql.err.MySQLError as error:
            self.connection.rollback()
            raise RuntimeError(
                f"inserting {where} failed: {error}; the rows before id {first} are complete, "
                "re-run to resume after them"
            ) from None
        finally:
            cursor.close()

    def _first_warning(self) -> str:
        cursor = self.connection.cursor()
        try:
            cursor.execute("SHOW WARNINGS LIMIT 1")
            row = cursor.fetchone()
        finally:
            cursor.close()
        return "first: " + " ".join(map(str, row)) if row else "no warning text"


def _error_code(error: BaseException) -> int | None:
    args = getattr(error, "args", ())
    return args[0] if args and isinstance(args[0], int) else None
