"""Dagster definitions of the staging stage (assets, checks, schedules, sensors)."""

import dagster as dg

defs = dg.Definitions()
