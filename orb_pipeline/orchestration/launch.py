"""Launch runs of the code location in this process, recorded like the daemon records them.

``orb-pipeline demo`` evaluates the research sensor itself and runs what it requests. Runs made
by ``execute_in_process`` carry no code-location origin, so the UI's Overview timeline and Jobs
pages leave them out and the Runs page calls them "Manually launched". A daemon (or
``instance.submit_run``) records the origin but starts a new Python process per run, which loads
every package and the definitions again (docs/ARCHITECTURE.md, "Runs and launches", has the
figures). :class:`InProcessLauncher` does both halves right: it creates each run as the sensor
daemon does (the ``orb_pipeline`` code location's job snapshot and origin, the sensor's name and
run key as tags) and executes it in this process, where the engine is compiled and the
definitions loaded once.

Dagster has no public API for "create a run with a code-location origin, then execute it here",
so this module (and only this one) uses the same internal functions the daemon and
``dagster api execute_run`` use.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from dagster._core.execution.api import execute_run
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.storage.tags import AUTOMATION_CONDITION_TAG, RUN_KEY_TAG, SENSOR_NAME_TAG
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._utils.hosted_user_process import recon_job_from_origin

# workspace.yaml's code location: runs launched here belong to it in the UI.
LOCATION_NAME = "orb_pipeline"
DEFINITIONS_MODULE = "orb_pipeline.definitions"
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


class LaunchError(RuntimeError):
    """A launched run failed; the message names the job, the run and the failed steps."""


@dataclass
class LaunchedRun:
    run_id: str
    job_name: str
    seconds: float
    events: int


@dataclass
class InProcessLauncher:
    """Creates runs of ``orb_pipeline``'s jobs with their code-location origin and executes them
    in this process. Use as a context manager (it holds the loaded code location)."""

    instance: dg.DagsterInstance
    launched: list[LaunchedRun] = field(default_factory=list)

    def __enter__(self) -> InProcessLauncher:
        origin = InProcessCodeLocationOrigin(
            LoadableTargetOrigin(
                executable_path=sys.executable,
                module_name=DEFINITIONS_MODULE,
                working_directory=str(REPOSITORY_ROOT),
            ),
            location_name=LOCATION_NAME,
        )
        self._location = origin.create_location(self.instance)
        (self._repository,) = self._location.get_repositories().values()
        return self

    def __exit__(self, *exc) -> None:
        self._location.cleanup()

    def launch(
        self,
        request: dg.RunRequest,
        *,
        job_name: str | None = None,
        sensor_name: str | None = None,
        automation: bool = False,
        tags: dict[str, str] | None = None,
        log_level: str | None = None,
    ) -> LaunchedRun:
        """Create the run ``request`` asks for (``job_name`` when the request names none) and
        execute it here, tagged as launched by ``sensor_name`` (an automation condition sensor
        when ``automation``); raises :class:`LaunchError` naming the failed steps. ``log_level``
        sets the console logger's level (every event is stored either way)."""
        name = request.job_name or job_name
        remote_job = self._repository.get_full_job(name)
        run_tags = {**(remote_job.run_tags or {}), **request.tags, **(tags or {})}
        if request.partition_key is not None:
            run_tags["dagster/partition"] = request.partition_key
        if sensor_name:
            run_tags[SENSOR_NAME_TAG] = sensor_name
        if automation:  # requested by an automation condition sensor (``sensor_name``)
            run_tags[AUTOMATION_CONDITION_TAG] = "true"
        if request.run_key:
            run_tags[RUN_KEY_TAG] = request.run_key
        run_config = dict(request.run_config or {})
        if log_level:
            run_config["loggers"] = {"console": {"config": {"log_level": log_level}}}
        plan = self._location.get_execution_plan(
            remote_job,
            run_config,
            step_keys_to_execute=None,
            known_state=None,
            instance=self.instance,
        )
        run = self.instance.create_run(
            job_name=name,
            run_id=None,
            run_config=run_config,
            status=dg.DagsterRunStatus.NOT_STARTED,
            tags=run_tags,
            root_run_id=None,
            parent_run_id=None,
            step_keys_to_execute=None,
            execution_plan_snapshot=plan.execution_plan_snapshot,
            job_snapshot=remote_job.job_snapshot,
            parent_job_snapshot=remote_job.parent_job_snapshot,
            asset_selection=None,
            asset_check_selection=None,
            resolved_op_selection=None,
            op_selection=None,
            remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(),
            asset_graph=self._repository.asset_graph,
        )
        started = time.perf_counter()
        recon_job = recon_job_from_origin(remote_job.get_python_origin())
        result = execute_run(recon_job, run, self.instance)
        seconds = time.perf_counter() - started
        events = len(self.instance.all_logs(run.run_id))
        launched = LaunchedRun(run.run_id, name, seconds, events)
        self.launched.append(launched)
        if not result.success:
            failures = [
                event.message or ""
                for event in result.all_events
                if event.event_type_value in {"STEP_FAILURE", "RUN_FAILURE"}
            ]
            raise LaunchError(f"{name} failed (run {run.run_id}): {' | '.join(failures)[:2000]}")
        return launched
