"""``orb-pipeline demo``: the whole lineage for a universe of tickers on embedded defaults.

Runs through Dagster, on the instance in ``$DAGSTER_HOME`` (``scripts/demo.sh`` sets it to the
repository root, so ``dagster dev`` shows every run afterwards), with the production definitions
(``orb_pipeline.definitions``) and the production orchestration logic:

1. the demo warehouse (SQLite) is generated under ``ORB_DATA_DIR`` if absent (not timed);
2. the tickers become ``tickers`` partitions, and ``daily_data_job`` runs over every session of
   the window for every ticker (one run per contiguous block of tickers);
3. the research sensor is evaluated until it has nothing left to request, and each request is
   launched as the daemon would launch it (the code location's origin, the sensor's tags) and
   executed in this process (``orchestration/launch.py``): ``stage_window_job``, ``sweep_job``
   (a range of chunks), ``leaderboard_job`` and ``validation_job`` per ticker;
4. per ticker the leaderboard, pictures and verdict, then seconds, runs and Dagster events per
   phase, ending with ``total: <seconds> s`` (everything after the warehouse generation).

Modules: ``demo_setup`` (universe, window, environment, warehouse), ``warmup`` (numba compile in
a second process), ``launch`` (runs), ``progress`` (progress lines), ``demo_report`` (output).
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from orb_pipeline.orchestration.demo_setup import (
    UNIVERSE,
    DemoScope,
    dagster_ui_command,
    missing_tickers,
    prepare_environment,
)
from orb_pipeline.orchestration.progress import Progress

PHASE_OF_JOB = {
    "daily_data_job": "data",
    "stage_window_job": "stage",
    "sweep_job": "sweeps",
    "leaderboard_job": "leaderboards",
    "validation_job": "validation",
    "universe_job": "universe",
}


class DemoError(RuntimeError):
    """A step of the demo failed; the message names the step and the run."""


def _dagster_home(progress: Progress) -> Path:
    if not os.environ.get("DAGSTER_HOME"):
        os.environ["DAGSTER_HOME"] = str(Path.cwd())
        progress(f"DAGSTER_HOME not set: using {os.environ['DAGSTER_HOME']}")
    home = Path(os.environ["DAGSTER_HOME"]).resolve()
    home.mkdir(parents=True, exist_ok=True)
    found = "found" if (home / "dagster.yaml").exists() else "missing: defaults"
    progress(f"Dagster instance: {home} (dagster.yaml {found})")
    return home


def _ensure_warehouse(scope: DemoScope, data: Path, progress: Progress) -> None:
    """Generate the SQLite demo warehouse when it lacks a ticker of the scope (never a file the
    user named with ORB_WAREHOUSE_PATH); a MySQL warehouse is used as it is."""
    from orb_pipeline.core import settings
    from orb_pipeline.warehouse.demo import build_demo_warehouse

    chosen = settings.current()
    if chosen.warehouse != "sqlite":
        progress(f"warehouse: ORB_WAREHOUSE={chosen.warehouse} (not generated)")
        return
    path = Path(chosen.warehouse_path)
    missing = missing_tickers(path, scope.tickers)
    if not missing:
        progress(f"demo warehouse: {path} (reused)")
        return
    if path.resolve() != scope.warehouse_path(data).resolve():
        raise DemoError(f"warehouse {path} (ORB_WAREHOUSE_PATH) has no rows for {missing}")
    present = set(scope.tickers) - set(missing) if path.exists() else set()
    tickers = tuple(t for t in UNIVERSE if t in present or t in scope.tickers)
    progress(
        f"generating the demo warehouse {path}: {len(tickers)} tickers x "
        f"{scope.first_session}..{scope.last_session} (not counted in the total)"
    )
    started = time.perf_counter()
    rows = build_demo_warehouse(
        path,
        tickers=tickers,
        first_session=scope.first_session.isoformat(),
        last_session=scope.last_session.isoformat(),
    )
    progress(f"demo warehouse: {rows:,} option snapshots in {time.perf_counter() - started:.1f} s")


def _contiguous_blocks(ordered: list[str], wanted: set[str]) -> list[list[str]]:
    """Maximal runs of ``wanted`` tickers in the partitions' order (a range tag spans a block)."""
    blocks: list[list[str]] = [[]]
    for ticker in ordered:
        if ticker in wanted:
            blocks[-1].append(ticker)
        elif blocks[-1]:
            blocks.append([])
    return [block for block in blocks if block]


def run_demo(
    write: Callable[[str], None] = print,
    *,
    universe: int | None = None,
    first_session: str | None = None,
    last_session: str | None = None,
) -> int:
    progress = Progress(write)
    try:
        scope = DemoScope.from_arguments(universe, first_session, last_session)
    except ValueError as error:
        write(f"orb-pipeline demo: {error}")
        return 2
    home = _dagster_home(progress)

    from orb_pipeline import resources
    from orb_pipeline.orchestration.warmup import BackgroundWarmUp

    data = resources.data_dir()
    data.mkdir(parents=True, exist_ok=True)
    environment = prepare_environment(scope, data)
    progress(
        f"compiling the engine in the background (numba cache {os.environ['NUMBA_CACHE_DIR']})"
    )
    warm_up = BackgroundWarmUp()
    try:
        _ensure_warehouse(scope, data, progress)
        return _run(scope, home, data, environment, warm_up, progress, write)
    except DemoError as error:
        write(f"orb-pipeline demo: {error}")
        return 1
    finally:
        warm_up.kill()


def _run(scope, home, data, environment, warm_up, progress, write) -> int:
    from orb_pipeline.orchestration.demo_report import PhaseClock, ticker_report
    from orb_pipeline.validation.universe import universe_text

    clock = PhaseClock()
    wall_started = started = time.perf_counter()
    progress("loading definitions (orb_pipeline.definitions)")
    import dagster as dg

    # Dagster's notes about beta APIs are for developers; the demo's reader wants progress.
    for category in (dg.BetaWarning, dg.PreviewWarning):
        warnings.filterwarnings("ignore", category=category)

    from orb_pipeline import resources
    from orb_pipeline.calendar import session_table
    from orb_pipeline.core import settings
    from orb_pipeline.core.artifacts import ARTIFACTS_PREFIX
    from orb_pipeline.core.cache_store import cache_from_environment
    from orb_pipeline.core.event_log import latest_storage_ids
    from orb_pipeline.core.lineage import DATA_ASSETS
    from orb_pipeline.definitions import defs
    from orb_pipeline.orchestration.jobs import (
        DAILY_DATA_JOB,
        STAGE_WINDOW_JOB,
        UNIVERSE_JOB,
        VALIDATION_AUTOMATION,
    )
    from orb_pipeline.orchestration.launch import InProcessLauncher, Launch, LaunchError
    from orb_pipeline.orchestration.progress import MaterializationWatcher
    from orb_pipeline.orchestration.sensors import WATCHED
    from orb_pipeline.orchestration.sweep_plan import SESSIONS_PER_YEAR
    from orb_pipeline.partitions import (
        TICKERS_PARTITIONS_NAME,
        period_key,
        rectangle_run_request,
        weekdays,
    )

    instance = dg.DagsterInstance.get()
    try:
        workers = settings.current().demo_workers
        progress(
            f"runs of different tickers execute {workers} at a time ({workers} worker processes)"
        )
        with InProcessLauncher(instance, workers=workers) as launcher:
            known = set(instance.get_dynamic_partitions(TICKERS_PARTITIONS_NAME))
            new = [t for t in scope.tickers if t not in known]
            if new:
                instance.add_dynamic_partitions(TICKERS_PARTITIONS_NAME, new)
            ordered = list(instance.get_dynamic_partitions(TICKERS_PARTITIONS_NAME))
            progress(f"tickers: {', '.join(t for t in ordered if t in scope.tickers)}")
            clock.add("definitions", time.perf_counter() - started)

            # Everything materialized from here on is this demo's: the sensor and the automation
            # condition start after it.
            cursor = latest_storage_ids(instance, WATCHED)
            _, automation_cursor = _validation_requests(defs, instance, None)
            window = f"{scope.first_session}..{scope.last_session}"
            days = weekdays(scope.first_session, scope.last_session)
            partitions = len(scope.tickers) * len({period_key(day) for day in days})
            progress(
                f"{DAILY_DATA_JOB}: bars, opening ranges, compressed series for "
                f"{len(scope.tickers)} tickers x {window} ({len(scope.tickers) * len(days)} "
                f"ticker-sessions in {partitions} (period, ticker) partitions)"
            )
            data_assets = list(DATA_ASSETS)
            with MaterializationWatcher(instance, data_assets, partitions, progress):
                blocks = _split_blocks(_contiguous_blocks(ordered, set(scope.tickers)), workers)
                _launch_batch(
                    launcher,
                    [
                        _demo_launch(
                            rectangle_run_request(scope.first_session, scope.last_session, block),
                            job_name=DAILY_DATA_JOB,
                        )
                        for block in blocks
                    ],
                    clock,
                    progress,
                )

            def wait_for_compile() -> None:
                # The sweeps are the first runs that need every kernel; staging does not, so the
                # compile keeps overlapping the work until then.
                nonlocal warm_up
                if warm_up is None:
                    return
                started = time.perf_counter()
                line, waited = warm_up.finish()
                warm_up = None
                progress(f"{line} (waited {waited:.1f} s for it here)")
                clock.add("engine compile wait", time.perf_counter() - started)

            # Evaluate, as the daemon would, the research sensor and the validation assets'
            # automation condition until neither asks for anything more.
            sensor = defs.resolve_sensor_def("research_sensor")
            tick = 0
            while True:
                tick += 1
                started = time.perf_counter()
                # Entered, so the context closes the instance and resources it opens.
                with dg.build_sensor_context(
                    instance=instance,
                    cursor=json.dumps(cursor),
                    resources={"cache": resources.resources()["cache"]},
                ) as context:
                    result = sensor(context)
                requests = [] if isinstance(result, dg.SkipReason) else result.run_requests
                validation, automation_cursor = _validation_requests(
                    defs, instance, automation_cursor
                )
                clock.add("sensor ticks", time.perf_counter() - started)
                if not requests and not validation:
                    break
                if requests:
                    cursor = json.loads(result.cursor)
                    progress(f"research sensor tick {tick}: {len(requests)} run requests")
                # One batch per job, in the order requested: a tick's runs of one job are
                # independent of each other (one per ticker), so the workers share them out.
                for job_name in dict.fromkeys(request.job_name for request in requests):
                    if job_name != STAGE_WINDOW_JOB:
                        wait_for_compile()
                    batch = [r for r in requests if r.job_name == job_name]
                    launches = [
                        Launch(r, sensor_name=sensor.name, log_level="WARNING") for r in batch
                    ]
                    _launch_batch(launcher, launches, clock, progress)
                wait_for_compile()
                if validation:
                    progress(f"validation_automation tick {tick}: {len(validation)} run requests")
                    launches = [
                        Launch(
                            request,
                            sensor_name=VALIDATION_AUTOMATION,
                            automation=True,
                            log_level="WARNING",
                        )
                        for request in validation
                    ]
                    _launch_batch(launcher, launches, clock, progress)
            # The universe view ranks parameter sets across every ticker's verdicts.
            universe = dg.RunRequest(
                job_name=UNIVERSE_JOB,
                run_config={
                    "ops": {
                        "universe_ranking": {
                            "config": {
                                "window_start": str(scope.first_session),
                                "window_end": str(scope.last_session),
                            }
                        }
                    }
                },
            )
            _launch_batch(
                launcher, [_demo_launch(universe, job_name=UNIVERSE_JOB)], clock, progress
            )

        started = time.perf_counter()
        write("")
        results = resources.resources()["results"].process_config_and_initialize()
        try:
            for ticker in scope.tickers:
                first, last = scope.first_session, scope.last_session
                write(ticker_report(instance, results, ticker, first, last))
                write("")
            write(universe_text(results, scope.first_session, scope.last_session))
            write("")
        finally:
            results.dispose()
        clock.add("report", time.perf_counter() - started)
    except LaunchError as error:
        raise DemoError(str(error)) from error
    finally:
        instance.dispose()
    sessions = session_table(scope.first_session, scope.last_session).height
    ticker_years = len(scope.tickers) * sessions / SESSIONS_PER_YEAR
    write(clock.table(ticker_years, wall_seconds=time.perf_counter() - wall_started))
    write("")
    artifacts = cache_from_environment(data).location(ARTIFACTS_PREFIX)
    write(
        f"Pictures, ledgers, reports: {artifacts}. Every run above is in the Dagster UI; in any shell:"
    )
    write(f"  {dagster_ui_command(home, environment)}")
    write("  then open http://127.0.0.1:3000 (Overview, Runs, Jobs, Assets)")
    return 0


def _validation_requests(defs, instance, cursor):
    """Run requests of the validation assets' automation condition (one run per ticker, all
    validation assets in it, with the automation sensor's run tags), and the next cursor."""
    import dagster as dg

    from orb_pipeline.core.lineage import VALIDATION_ASSETS
    from orb_pipeline.orchestration.jobs import VALIDATION_AUTOMATION, VALIDATION_JOB

    result = dg.evaluate_automation_conditions(
        defs=defs,
        instance=instance,
        asset_selection=dg.AssetSelection.assets(*VALIDATION_ASSETS),
        cursor=cursor,
    )
    tickers = set()
    for key in VALIDATION_ASSETS:
        tickers |= set(result.get_requested_partitions(key))
    run_tags = dict(defs.resolve_sensor_def(VALIDATION_AUTOMATION).run_tags)
    requests = [
        dg.RunRequest(job_name=VALIDATION_JOB, partition_key=ticker, tags=run_tags)
        for ticker in sorted(tickers)
    ]
    return requests, result.cursor


def _split_blocks(blocks: list[list[str]], parts: int) -> list[list[str]]:
    """Each contiguous block of tickers cut into at most ``parts`` contiguous pieces of nearly
    equal length (a range tag still spans each piece), so ``parts`` data runs can work at once."""
    pieces: list[list[str]] = []
    for block in blocks:
        count = min(parts, len(block))
        size, extra = divmod(len(block), count)
        start = 0
        for index in range(count):
            end = start + size + (1 if index < extra else 0)
            pieces.append(block[start:end])
            start = end
    return pieces


def _demo_launch(request, *, job_name: str):
    """A run the demo itself requests (not a sensor): tagged as launched by ``orb-pipeline demo``."""
    from orb_pipeline.orchestration.launch import Launch

    return Launch(
        request,
        job_name=job_name,
        tags={"orb/launched_by": "orb-pipeline demo"},
        log_level="WARNING",
    )


def _launch_batch(launcher, launches, clock, progress) -> None:
    """Execute ``launches`` (independent runs of one job) on the launcher's workers; the phase's
    seconds are the batch's wall time (its runs overlap), its runs and events are summed."""
    name = launches[0].request.job_name or launches[0].job_name
    phase = PHASE_OF_JOB.get(name, name)
    started = time.perf_counter()

    def done(launch, launched) -> None:
        request = launch.request
        clock.add(phase, 0.0, launched)
        what = (
            request.partition_key
            or request.tags.get("orb/sessions")
            or request.tags.get("orb/chunks", "")
        )
        progress(
            f"  {name} {request.tags.get('orb/ticker', '')} {what}: ok in "
            f"{launched.seconds:.1f} s, {launched.events} events (run {launched.run_id[:8]})"
        )

    try:
        launcher.launch_all(launches, done)
    finally:
        clock.add(phase, time.perf_counter() - started)


if __name__ == "__main__":
    sys.exit(run_demo())
