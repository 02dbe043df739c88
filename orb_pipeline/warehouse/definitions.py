"""Dagster definitions of the warehouse stage (assets, checks, schedules, sensors)."""

import dagster as dg

from orb_pipeline.warehouse.assets import warehouse_greeks
from orb_pipeline.warehouse.sensors import ticker_sensor

defs = dg.Definitions(assets=[warehouse_greeks], sensors=[ticker_sensor])
