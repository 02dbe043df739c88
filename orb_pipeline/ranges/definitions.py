"""Dagster definitions of the ranges stage (assets, checks, schedules, sensors)."""

import dagster as dg

from orb_pipeline.ranges.assets import opening_ranges

defs = dg.Definitions(assets=[opening_ranges])
