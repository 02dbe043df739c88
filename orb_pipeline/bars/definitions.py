"""Dagster definitions of the bars stage (assets, checks, schedules, sensors)."""

import dagster as dg

from orb_pipeline.bars.assets import cached_bars

defs = dg.Definitions(assets=[cached_bars])
