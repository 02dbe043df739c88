"""Dagster definitions of the reports stage: ``research_report`` per ticker (in ``validation_job``)."""

import dagster as dg

from orb_pipeline.reports.assets import research_report

defs = dg.Definitions(assets=[research_report])
