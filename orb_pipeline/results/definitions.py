"""Dagster definitions of the results stage (assets, checks, schedules, sensors)."""

import dagster as dg

defs = dg.Definitions()
