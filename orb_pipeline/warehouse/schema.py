"""The warehouse table and the queries on it, built with SQLAlchemy Core (no SQL strings).

The table is shaped like the old system's ``options.greeks``: one row per option snapshot with
``timestamp_utc`` (int seconds), ``ticker``, ``underlying`` (the stock price), ``delta`` and
``implied_volatility``, plus an ``id`` whose order within a second is the source's own order.
Database, table and order-column names are configuration, validated as plain identifiers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa

from orb_pipeline.core.tickers import validate_ticker

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

PULL_COLUMNS = ("row_order", "timestamp_utc", "price", "delta", "implied_volatility")


def validate_identifier(value: str, name: str) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise ValueError(
            f"{name} must be a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]*), got {value!r}"
        )
    return value


def validate_window(start_utc: int, end_utc: int) -> tuple[int, int]:
    for name, value in (("start_utc", start_utc), ("end_utc", end_utc)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an int of UTC seconds, got {value!r}")
    if end_utc < start_utc:
        raise ValueError(f"end_utc {end_utc} is before start_utc {start_utc}")
    return int(start_utc), int(end_utc)


def greeks_table(
    table: str = "greeks", database: str | None = None, order_column: str = "id"
) -> sa.Table:
    """The warehouse table; ``database`` is the MySQL schema (``None`` for SQLite)."""
    validate_identifier(table, "table")
    validate_identifier(order_column, "order_column")
    if database is not None:
        validate_identifier(database, "database")
    return sa.Table(
        table,
        sa.MetaData(),
        sa.Column(
            order_column,
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("timestamp_utc", sa.BigInteger, nullable=False),
        sa.Column("ticker", sa.String(16), nullable=False),
        sa.Column("underlying", sa.Float(53)),
        sa.Column("delta", sa.Float(53)),
        sa.Column("implied_volatility", sa.Float(53)),
        sa.Column("strike", sa.Float(53)),
        sa.Column("option_type", sa.String(1)),
        sa.Index(table + "_ticker_time", "ticker", "timestamp_utc"),
        schema=database,
    )


def pull_query(
    table: sa.Table,
    order_column: str,
    ticker: str,
    windows: Sequence[tuple[int, int]],
    ordered: bool,
) -> sa.Select:
    """Rows of ``ticker`` with ``start <= timestamp_utc <= end`` for any of ``windows``.

    Columns ``PULL_COLUMNS``; ``ordered`` adds ``ORDER BY timestamp_utc, <order_column>``.
    """
    validate_ticker(ticker)
    if not windows:
        raise ValueError("windows is empty")
    windows = [validate_window(*window) for window in windows]
    time = table.c.timestamp_utc
    statement = sa.select(
        table.c[order_column].label("row_order"),
        time.label("timestamp_utc"),
        table.c.underlying.label("price"),
        table.c.delta,
        table.c.implied_volatility,
    ).where(table.c.ticker == ticker, sa.or_(*[time.between(start, end) for start, end in windows]))
    if ordered:
        statement = statement.order_by(time, table.c[order_column])
    return statement


def ticker_exists_query(table: sa.Table, ticker: str) -> sa.Select:
    return sa.select(sa.literal(1)).where(table.c.ticker == validate_ticker(ticker)).limit(1)


def tickers_query(table: sa.Table) -> sa.Select:
    return sa.select(table.c.ticker).distinct().order_by(table.c.ticker)
