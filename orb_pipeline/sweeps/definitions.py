"""Dagster definitions of the sweeps stage (assets, checks, schedules, sensors)."""

import dagster as dg

defs = dg.Definitions()
