"""Jobs, the daily schedule and the sensors that span stages (so they live here)."""

import dagster as dg

from orb_pipeline.core.lineage import VALIDATION_ASSETS
from orb_pipeline.orchestration.alerts import failed_check_alert, run_failure_alert
from orb_pipeline.orchestration.cleanup import prune_event_logs_job, prune_event_logs_schedule
from orb_pipeline.orchestration.dead_runs import dead_run_sensor
from orb_pipeline.orchestration.ecs import validation_run_tags
from orb_pipeline.orchestration.jobs import VALIDATION_AUTOMATION, build_jobs
from orb_pipeline.orchestration.schedules import daily_after_close
from orb_pipeline.orchestration.sensors import build_research_sensor
from orb_pipeline.orchestration.sweep_plan import SESSIONS_PER_YEAR
from orb_pipeline.sweeps.definitions import settings

jobs = build_jobs(settings)

# Evaluates the validation assets' automation condition (validation.assets.AFTER_LEADERBOARD):
# one run per ticker whose leaderboard changed, both assets in it, sized for ECS like
# validation_job. Stopped by default, like the research sensor it continues.
validation_automation = dg.AutomationConditionSensorDefinition(
    VALIDATION_AUTOMATION,
    target=dg.AssetSelection.assets(*VALIDATION_ASSETS),
    run_tags=validation_run_tags(settings.grid().height, SESSIONS_PER_YEAR),
    default_status=dg.DefaultSensorStatus.STOPPED,
    minimum_interval_seconds=60,
    description="Walk-forward and Monte Carlo validation of each ticker whose leaderboard was "
    "updated (declarative automation; the Automation page shows each evaluation).",
)

defs = dg.Definitions(
    jobs=[*jobs, prune_event_logs_job],
    schedules=[daily_after_close, prune_event_logs_schedule],
    sensors=[
        build_research_sensor(jobs, settings),
        validation_automation,
        run_failure_alert,
        failed_check_alert,
        dead_run_sensor,
    ],
    # Runs of the implicit asset job (`dagster asset materialize`, the UI's Materialize button)
    # run their steps in the run's process too: one process per step cost a Python start-up
    # and a definitions load each (docs/ARCHITECTURE.md, "Runs and launches").
    executor=dg.in_process_executor,
)
