"""Dagster definitions of the warehouse stage (assets, checks, schedules, sensors)."""

import dagster as dg

from orb_pipeline.warehouse.assets import warehouse_greeks

defs = dg.Definitions(assets=[warehouse_greeks])
