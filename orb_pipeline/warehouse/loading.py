"""Create the warehouse table and load rows into it (tests, benchmarks, seeding a MySQL warehouse),
and copy one warehouse into another (``orb-pipeline load-warehouse``).

Rows go through SQLAlchemy Core ``insert`` with bound parameters, in batches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import polars as pl
import sqlalchemy as sa

from orb_pipeline.calendar import session_table
from orb_pipeline.warehouse.demo import (
    DEMO_SEED,
    DEMO_START_PRICES,
    ROW_COLUMNS,
    generate_session,
)
from orb_pipeline.warehouse.resource import Warehouse


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
    """The target table of a copy already holds rows (pass ``replace=True`` to empty it first)."""


def copy_warehouse(
    source: Warehouse,
    target: Warehouse,
    *,
    batch_rows: int = 50_000,
    replace: bool = False,
    progress: Callable[[str], None] = lambda message: None,
) -> int:
    """Copy every row of ``source``'s table into ``target``'s (created when absent), in the order
    column's order and with the same order-column values, so both warehouses return identical
    pulls. Refuses a target table that already has rows unless ``replace`` (then it is emptied
    first). Checks the copied row count and order-column range against the source; returns the
    row count."""
    source_table, target_table = source.greeks_table(), target.greeks_table()
    columns = [column.name for column in source_table.columns]
    order = source_table.c[source.order_column]
    if target.order_column != source.order_column:
        raise ValueError(
            f"order columns differ: source {source.order_column!r}, target {target.order_column!r}"
        )
    summary = sa.select(sa.func.count(), sa.func.min(order), sa.func.max(order))
    [expected] = source._execute(summary.select_from(source_table))
    create_table(target)
    target_order = target_table.c[target.order_column]
    target_summary = sa.select(
        sa.func.count(), sa.func.min(target_order), sa.func.max(target_order)
    ).select_from(target_table)
    [present] = target._execute(target_summary)
    if present[0] and not replace:
        raise WarehouseNotEmptyError(
            f"warehouse {target.describe()} already holds {present[0]:,} rows; "
            "pass --replace to empty the table first"
        )
    source_engine, target_engine = source.engine(), target.engine()
    copied, started = 0, time.perf_counter()
    try:
        with target_engine.begin() as writer, source_engine.connect() as reader:
            if present[0]:
                writer.execute(sa.delete(target_table))
            result = reader.execution_options(yield_per=batch_rows).execute(
                sa.select(*[source_table.c[name] for name in columns]).order_by(order)
            )
            for batch in result.partitions():
                writer.execute(
                    target_table.insert(), [dict(zip(columns, row, strict=True)) for row in batch]
                )
                copied += len(batch)
                progress(
                    f"copied {copied:,} of {expected[0]:,} rows "
                    f"({copied / max(time.perf_counter() - started, 1e-9):,.0f} rows/s)"
                )
    finally:
        source_engine.dispose()
        target_engine.dispose()
    [written] = target._execute(target_summary)
    if tuple(written) != tuple(expected):
        raise RuntimeError(
            f"copy to {target.describe()} does not match the source: (rows, min id, max id) "
            f"{tuple(written)} != {tuple(expected)}"
        )
    return copied
