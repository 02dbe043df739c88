"""Warehouse stage: the intraday option-snapshot source (MySQL or the embedded demo SQLite), its resource, the demo generator and the ticker sensor."""

from orb_pipeline.warehouse.resource import (
    MySqlWarehouse,
    SqliteWarehouse,
    UnknownTickerError,
    Warehouse,
    WarehouseDataError,
    WarehouseUnavailableError,
    list_warehouse_tickers,
)

__all__ = [
    "MySqlWarehouse",
    "SqliteWarehouse",
    "UnknownTickerError",
    "Warehouse",
    "WarehouseDataError",
    "WarehouseUnavailableError",
    "list_warehouse_tickers",
]
