"""Dagster definitions of the series stage (assets, checks, schedules, sensors)."""

import dagster as dg

from orb_pipeline.series.assets import compressed_series

defs = dg.Definitions(assets=[compressed_series])
