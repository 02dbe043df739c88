"""Create the warehouse table and load rows into it (tests, benchmarks, seeding a MySQL warehouse).

Rows go through SQLAlchemy Core ``insert`` with bound parameters, in batches.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from orb_pipeline.calendar import session_table
from orb_pipeline.warehouse.demo import DEMO_SEED, DEMO_START_PRICES, generate_session
from orb_pipeline.warehouse.resource import Warehouse

ROW_COLUMNS = (
    "timestamp_utc",
    "ticker",
    "underlying",
    "delta",
    "implied_volatility",
    "strike",
    "option_type",
)


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
