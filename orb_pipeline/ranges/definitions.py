"""Dagster definitions of the ranges stage (assets, checks, schedules, sensors)."""

import dagster as dg

defs = dg.Definitions()
