"""Launch runs of the code location in this process, recorded like the daemon records them.

``orb-pipeline demo`` evaluates the research sensor itself and runs what it requests. Runs made
by ``execute_in_process`` carry no code-location origin, so the UI's Overview timeline and Jobs
pages leave them out and the Runs page calls them "Manually launched". A daemon (or
``instance.submit_run``) records the origin but starts a new Python process per run, which loads
every package and the definitions again (docs/ARCHITECTURE.md, "Runs and launches", has the
figures). :class:`InProcessLauncher` does both halves right: it creates each run as the sensor
daemon does (the ``orb_pipeline`` code location's job snapshot and origin, the sensor's name and
run key as tags) and executes it in this process, where the engine is compiled and the
definitions loaded once. With ``workers`` > 1, :meth:`InProcessLauncher.launch_all` executes a
batch of independent runs (one per ticker) in that many long-lived worker processes, each of
which loads the definitions and the compiled kernels once, as ``dagster api execute_run`` would
per run: a 2-core machine does two tickers' work at a time.

Dagster has no public API for "create a run with a code-location origin, then execute it here",
so this module (and only this one) uses the same internal functions the daemon and
``dagster api execute_run`` use.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from dagster._core.execution.api import execute_run
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.storage.tags import AUTOMATION_CONDITION_TAG, RUN_KEY_TAG, SENSOR_NAME_TAG
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._utils.hosted_user_process import recon_job_from_origin

from orb_pipeline.core.lineage import POOLS

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


@dataclass(frozen=True, eq=False)
class Launch:
    """One run to create: the request and how it was launched (see :meth:`InProcessLauncher.create`)."""

    request: dg.RunRequest
    job_name: str | None = None
    sensor_name: str | None = None
    automation: bool = False
    tags: dict[str, str] | None = None
    log_level: str | None = None


@dataclass(frozen=True)
class _Outcome:
    """What a worker reports of an executed run (picklable)."""

    run_id: str
    seconds: float
    events: int
    failures: tuple[str, ...]


def _execute(instance: dg.DagsterInstance, run: dg.DagsterRun) -> _Outcome:
    """Execute a created run here, as ``dagster api execute_run`` does."""
    started = time.perf_counter()
    result = execute_run(recon_job_from_origin(run.job_code_origin), run, instance)
    seconds = time.perf_counter() - started
    # The stored status, not only the result's: a run that fails outside its steps (its storage
    # raised) can return a result whose run object still reads as started.
    stored = instance.get_run_by_id(run.run_id)
    failures = ()
    if not result.success or stored is None or stored.status != dg.DagsterRunStatus.SUCCESS:
        failures = tuple(
            event.message or ""
            for event in result.all_events
            if event.event_type_value in {"STEP_FAILURE", "RUN_FAILURE"}
        ) or (f"the run ended {stored.status.value if stored else 'missing'}",)
    return _Outcome(run.run_id, seconds, len(instance.all_logs(run.run_id)), failures)


_WORKER_INSTANCE: dg.DagsterInstance | None = None


def _execute_in_worker(run_id: str) -> _Outcome:
    """A worker process's task: execute the run ``run_id`` on ``$DAGSTER_HOME``'s instance (opened
    once per worker)."""
    global _WORKER_INSTANCE
    if _WORKER_INSTANCE is None:
        _WORKER_INSTANCE = dg.DagsterInstance.get()
    run = _WORKER_INSTANCE.get_run_by_id(run_id)
    if run is None:
        raise LaunchError(f"run {run_id} is not in the instance at $DAGSTER_HOME")
    return _execute(_WORKER_INSTANCE, run)


@dataclass
class InProcessLauncher:
    """Creates runs of ``orb_pipeline``'s jobs with their code-location origin and executes them
    in this process, or a batch of them in ``workers`` worker processes (which read the instance
    from ``$DAGSTER_HOME`` and the environment as it is when the launcher is entered). Use as a
    context manager (it holds the loaded code location and the workers)."""

    instance: dg.DagsterInstance
    workers: int = 1
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
        self._pool = None
        if self.workers > 1:
            # Dagster creates a pool's limit row on the first claim of it; two runs claiming a
            # new pool at once on PostgreSQL collide on its unique key and one run fails.
            for pool in POOLS:
                self.instance.event_log_storage.initialize_concurrency_limit_to_default(pool)
            # Spawned, not forked: a fork would copy this process's open SQLite and thread state.
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context)
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
        self._location.cleanup()

    def launch(self, launch: Launch) -> LaunchedRun:
        """Create the run ``launch`` asks for and execute it here; raises :class:`LaunchError`
        naming the failed steps."""
        run = self.create(launch)
        return self._record(run, _execute(self.instance, run))

    def launch_all(
        self,
        launches: Sequence[Launch],
        on_done: Callable[[Launch, LaunchedRun], None] = lambda *_: None,
    ) -> list[LaunchedRun]:
        """Create every run of ``launches`` (independent of each other) and execute them in the
        worker processes, at most ``workers`` at a time (here when ``workers`` is 1); calls
        ``on_done`` as each one finishes. Raises :class:`LaunchError` naming every failed run
        once all have ended."""
        launched: list[LaunchedRun] = []
        if self._pool is None or len(launches) < 2:
            for launch in launches:
                launched.append(self.launch(launch))
                on_done(launch, launched[-1])
            return launched
        runs = {launch: self.create(launch) for launch in launches}
        futures = {
            self._pool.submit(_execute_in_worker, run.run_id): launch
            for launch, run in runs.items()
        }
        errors = []
        for future in as_completed(futures):
            launch, run = futures[future], runs[futures[future]]
            try:
                finished = self._record(run, future.result())
            except LaunchError as error:  # a failed run: it names itself; the others go on
                errors.append(str(error))
            except Exception as error:  # the worker died or could not start the run
                errors.append(f"{run.job_name} (run {run.run_id}) did not execute: {error!r}")
            else:
                launched.append(finished)
                on_done(launch, finished)
        if errors:
            raise LaunchError(" || ".join(errors))
        return launched

    def _record(self, run: dg.DagsterRun, outcome: _Outcome) -> LaunchedRun:
        launched = LaunchedRun(run.run_id, run.job_name, outcome.seconds, outcome.events)
        self.launched.append(launched)
        if outcome.failures:
            raise LaunchError(
                f"{run.job_name} failed (run {run.run_id}): {' | '.join(outcome.failures)[:2000]}"
            )
        return launched

    def create(self, launch: Launch) -> dg.DagsterRun:
        """Create, not start, the run ``launch.request`` asks for (``launch.job_name`` when the
        request names none), tagged as launched by ``launch.sensor_name`` (an automation
        condition sensor when ``launch.automation``); ``launch.log_level`` sets the console
        logger's level (every event is stored either way)."""
        request, sensor_name, log_level = launch.request, launch.sensor_name, launch.log_level
        name = request.job_name or launch.job_name
        remote_job = self._repository.get_full_job(name)
        run_tags = {**(remote_job.run_tags or {}), **request.tags, **(launch.tags or {})}
        if request.partition_key is not None:
            run_tags["dagster/partition"] = request.partition_key
        if sensor_name:
            run_tags[SENSOR_NAME_TAG] = sensor_name
        if launch.automation:  # requested by an automation condition sensor (``sensor_name``)
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
        return run
