"""Dagster definitions of the series stage (assets, checks, schedules, sensors)."""

import dagster as dg

from orb_pipeline.series.assets import compressed_series
from orb_pipeline.series.freshness import (
    fresh_after_close,
    freshness_check_job,
    freshness_schedule,
)

defs = dg.Definitions(
    assets=[compressed_series],
    asset_checks=[fresh_after_close],
    jobs=[freshness_check_job],
    schedules=[freshness_schedule],
)
