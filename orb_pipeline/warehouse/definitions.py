"""Dagster definitions of the warehouse stage (assets, checks, schedules, sensors)."""

import dagster as dg

from orb_pipeline.warehouse.sensors import ticker_sensor

defs = dg.Definitions(sensors=[ticker_sensor])
