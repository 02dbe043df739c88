"""Dagster definitions of the validation stage (assets, checks, schedules, sensors)."""

import dagster as dg

defs = dg.Definitions()
