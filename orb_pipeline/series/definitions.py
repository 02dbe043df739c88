"""Dagster definitions of the series stage (assets, checks, schedules, sensors)."""

import dagster as dg

defs = dg.Definitions()
