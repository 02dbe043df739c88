"""Dagster definitions of the warehouse stage (assets, checks, schedules, sensors)."""

import dagster as dg

defs = dg.Definitions()
