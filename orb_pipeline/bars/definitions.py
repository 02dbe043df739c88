"""Dagster definitions of the bars stage (assets, checks, schedules, sensors)."""

import dagster as dg

defs = dg.Definitions()
