"""Dagster definitions of the results stage (assets, checks, schedules, sensors)."""

import dagster as dg

from orb_pipeline.results.assets import leaderboard

defs = dg.Definitions(assets=[leaderboard])
