"""Dagster definitions of the staging stage (assets, checks, schedules, sensors)."""

import dagster as dg

from orb_pipeline.staging.assets import staged_window

defs = dg.Definitions(assets=[staged_window])
