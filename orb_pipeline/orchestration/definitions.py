"""Jobs, the daily schedule and the research sensor (they span stages, so they live here)."""

import dagster as dg

from orb_pipeline.orchestration.alerts import failed_check_alert, run_failure_alert
from orb_pipeline.orchestration.jobs import build_jobs
from orb_pipeline.orchestration.schedules import daily_after_close
from orb_pipeline.orchestration.sensors import build_research_sensor
from orb_pipeline.sweeps.definitions import settings

jobs = build_jobs(settings)
defs = dg.Definitions(
    jobs=jobs,
    schedules=[daily_after_close],
    sensors=[build_research_sensor(jobs, settings), run_failure_alert, failed_check_alert],
    # Runs of the implicit asset job (`dagster asset materialize`, the UI's Materialize button)
    # run their steps in the run's process too: one process per step cost a Python start-up
    # and a definitions load each (docs/ARCHITECTURE.md, "Runs and launches").
    executor=dg.in_process_executor,
)
