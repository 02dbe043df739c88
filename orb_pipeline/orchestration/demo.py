"""``orb-pipeline demo``: the whole lineage for the demo universe on embedded defaults.

Runs through Dagster, on the instance in ``$DAGSTER_HOME`` (``scripts/demo.sh`` sets it to the
repository root, so ``dagster dev`` shows every run afterwards), with the production definitions
(``orb_pipeline.definitions``) and the production orchestration logic:

1. the demo warehouse (SQLite) is generated once under ``ORB_DATA_DIR``;
2. the warehouse's tickers become ``tickers`` partitions;
3. one ``daily_data_job`` run covers every demo session x every ticker (a partition rectangle);
4. the research sensor is ticked until it has nothing left to request, and each request is
   executed in this process: ``stage_window_job`` per ticker, ``sweep_job`` per ticker x chunk,
   ``leaderboard_job`` and ``validation_job`` per ticker;
5. the leaderboards and the paths of the pictures are printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from orb_pipeline.warehouse.demo import DEMO_FIRST_SESSION, DEMO_LAST_SESSION

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


class DemoError(RuntimeError):
    """A step of the demo failed; the message names the step and the run."""


class Progress:
    def __init__(self, write: Callable[[str], None]):
        self.write = write
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        self.write(f"[{time.perf_counter() - self.started:6.1f}s] {message}")


def _prepare_environment(progress: Progress) -> Path:
    if not os.environ.get("DAGSTER_HOME"):
        os.environ["DAGSTER_HOME"] = str(Path.cwd())
        progress(f"DAGSTER_HOME not set: using {os.environ['DAGSTER_HOME']}")
    home = Path(os.environ["DAGSTER_HOME"]).resolve()
    home.mkdir(parents=True, exist_ok=True)
    # The staged window defaults and the first partition date are read when definitions load.
    os.environ.setdefault("ORB_WINDOW_FIRST", DEMO_FIRST_SESSION)
    os.environ.setdefault("ORB_WINDOW_LAST", DEMO_LAST_SESSION)
    return home


def _start_numba_warm_up(data: Path, progress: Progress) -> subprocess.Popen | None:
    """Compile the engine's kernels in a second process while the data job runs (numba's cache
    is shared through NUMBA_CACHE_DIR), so the first sweep does not pay the compile time."""
    os.environ.setdefault("NUMBA_CACHE_DIR", str(data / ".numba_cache"))
    progress(
        f"compiling the engine in the background (numba cache {os.environ['NUMBA_CACHE_DIR']})"
    )
    return subprocess.Popen(
        [sys.executable, "-m", "orb_pipeline.orchestration.warmup"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish_numba_warm_up(warm_up: subprocess.Popen | None, progress: Progress) -> None:
    if warm_up is None:
        return
    if warm_up.poll() is None:
        progress("waiting for the engine compile to finish")
    output, _ = warm_up.communicate()
    lines = [line for line in output.splitlines() if line.startswith("numba warm-up")]
    if warm_up.returncode == 0 and lines:
        progress(lines[-1])
    else:
        progress(f"numba warm-up failed (exit {warm_up.returncode}); the sweeps compile instead")


def _latest_storage_ids(instance, asset_keys) -> dict[str, int]:
    import dagster as dg

    cursor = {}
    for key in asset_keys:
        result = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=1)
        if result.records:
            cursor[key.to_user_string()] = result.records[0].storage_id
    return cursor


class MaterializationWatcher:
    """Prints, every few seconds while a long run works, how many partitions of each asset it
    has materialized so far (read from the instance's event log, like the UI does)."""

    def __init__(self, instance, asset_keys, total: int, progress: Progress, every: float = 10.0):
        self.instance, self.asset_keys, self.total = instance, list(asset_keys), total
        self.progress, self.every = progress, every
        self.start = {
            key: _latest_storage_ids(instance, [key]).get(key.to_user_string())
            for key in self.asset_keys
        }
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _count(self, key) -> int:
        import dagster as dg

        count, cursor = 0, None
        while True:
            page = self.instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, after_storage_id=self.start[key]),
                limit=1000,
                cursor=cursor,
            )
            count += len(page.records)
            if not page.has_more:
                return count
            cursor = page.cursor

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            try:
                counts = ", ".join(
                    f"{key.to_user_string()} {self._count(key)}/{self.total}"
                    for key in self.asset_keys
                )
            except Exception:  # progress is best effort; the run itself reports real errors
                continue
            self.progress(f"  ... materialized so far: {counts}")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def _execute(defs, instance, job_name: str, progress: Progress, label: str, **kwargs):
    import dagster as dg

    job = defs.resolve_job_def(job_name)
    run_config = {**kwargs.pop("run_config", {}), **QUIET_LOGS}
    started = time.perf_counter()
    try:
        result = job.execute_in_process(
            instance=instance, run_config=run_config, raise_on_error=False, **kwargs
        )
    except dg.DagsterError as error:
        raise DemoError(f"{label}: {error}") from error
    seconds = time.perf_counter() - started
    if not result.success:
        failures = [
            event.message or ""
            for event in result.all_events
            if event.event_type_value in {"STEP_FAILURE", "RUN_FAILURE"}
        ]
        raise DemoError(f"{label} failed (run {result.run_id}): {' | '.join(failures)[:2000]}")
    progress(f"{label}: ok in {seconds:.1f} s (run {result.run_id[:8]})")
    return result


def _ticker_report(instance, results, ticker: str) -> str:
    """The ticker's leaderboard, where its pictures are, and whether its winner holds up."""
    import dagster as dg

    from orb_pipeline.results.summary import leaderboard_text
    from orb_pipeline.validation.verdict import ticker_verdict_text

    first, last = _date(DEMO_FIRST_SESSION), _date(DEMO_LAST_SESSION)
    lines = [leaderboard_text(results, ticker, first, last)]
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("leaderboard"), asset_partitions=[ticker]),
        limit=1,
    ).records
    metadata = records[0].asset_materialization.metadata if records else {}
    for name in ("equity_png", "heatmap_png"):
        if name in metadata:
            lines.append(f"{name.replace('_png', '')} picture: {metadata[name].value}")
    lines.append(ticker_verdict_text(results, ticker, first, last))
    return "\n".join(lines)


def run_demo(write: Callable[[str], None] = print) -> int:
    progress = Progress(write)
    home = _prepare_environment(progress)
    progress(
        f"Dagster instance: {home} (dagster.yaml {'found' if (home / 'dagster.yaml').exists() else 'missing: defaults'})"
    )

    from orb_pipeline import resources
    from orb_pipeline.warehouse.demo import build_demo_warehouse
    from orb_pipeline.warehouse.resource import list_warehouse_tickers, warehouse_from_environment

    data = resources.data_dir()
    data.mkdir(parents=True, exist_ok=True)
    warm_up = _start_numba_warm_up(data, progress)
    warehouse = warehouse_from_environment(data)
    warehouse_path = Path(getattr(warehouse, "path", data / "warehouse.sqlite"))
    if not warehouse_path.exists():
        progress(
            f"generating the demo warehouse {warehouse_path} ({DEMO_FIRST_SESSION}..{DEMO_LAST_SESSION})"
        )
        rows = build_demo_warehouse(warehouse_path)
        progress(f"demo warehouse: {rows:,} option snapshots")
    else:
        progress(f"demo warehouse: {warehouse_path} (reused)")

    progress("loading definitions (orb_pipeline.definitions)")
    import warnings

    import dagster as dg

    # Dagster's notes about beta APIs are for developers; the demo's reader wants progress.
    for category in (dg.BetaWarning, dg.PreviewWarning):
        warnings.filterwarnings("ignore", category=category)

    from orb_pipeline.definitions import defs
    from orb_pipeline.orchestration.jobs import DAILY_DATA_JOB, DATA_ASSETS
    from orb_pipeline.orchestration.schedules import rectangle_request
    from orb_pipeline.orchestration.sensors import latest_storage_ids
    from orb_pipeline.partitions import TICKERS_PARTITIONS_NAME, weekdays

    instance = dg.DagsterInstance.get()
    try:
        tickers = list_warehouse_tickers(warehouse)
        known = set(instance.get_dynamic_partitions(TICKERS_PARTITIONS_NAME))
        new = [t for t in tickers if t not in known]
        if new:
            instance.add_dynamic_partitions(TICKERS_PARTITIONS_NAME, new)
        ordered = [
            t for t in instance.get_dynamic_partitions(TICKERS_PARTITIONS_NAME) if t in tickers
        ]
        progress(f"tickers: {', '.join(ordered)}")

        # Everything materialized from here on is this demo's: the sensor starts after it.
        cursor = latest_storage_ids(instance)
        request = rectangle_request(
            _date(DEMO_FIRST_SESSION),
            _date(DEMO_LAST_SESSION),
            ordered,
            run_key="demo",
        )
        label = (
            f"daily_data_job: bars, opening ranges, compressed series for {len(ordered)} tickers x "
            f"{DEMO_FIRST_SESSION}..{DEMO_LAST_SESSION}"
        )
        partitions = len(ordered) * len(weekdays(DEMO_FIRST_SESSION, DEMO_LAST_SESSION))
        progress(f"{label}: {partitions} partitions per asset in one run")
        data_assets = [dg.AssetKey(name) for name in DATA_ASSETS]
        with MaterializationWatcher(instance, data_assets, partitions, progress):
            _execute(defs, instance, DAILY_DATA_JOB, progress, label, tags=request.tags)

        _finish_numba_warm_up(warm_up, progress)
        warm_up = None
        sensor = defs.resolve_sensor_def("research_sensor")
        tick = 0
        while True:
            tick += 1
            result = sensor(dg.build_sensor_context(instance=instance, cursor=json.dumps(cursor)))
            if isinstance(result, dg.SkipReason) or not result.run_requests:
                break
            cursor = json.loads(result.cursor)
            progress(f"research sensor tick {tick}: {len(result.run_requests)} run requests")
            for index, run_request in enumerate(result.run_requests, 1):
                _execute(
                    defs,
                    instance,
                    run_request.job_name,
                    progress,
                    f"  {index}/{len(result.run_requests)} {run_request.job_name} {run_request.partition_key}",
                    partition_key=run_request.partition_key,
                    run_config=dict(run_request.run_config or {}),
                    tags=dict(run_request.tags),
                )

        write("")
        results = resources.resources()["results"].process_config_and_initialize()
        try:
            for ticker in ordered:
                write(_ticker_report(instance, results, ticker))
                write("")
        finally:
            results.dispose()
        progress(
            f"done. Pictures: {data / 'plots'}. Every run above is in the Dagster UI: "
            f"DAGSTER_HOME={home} dagster dev (then http://127.0.0.1:3000)"
        )
        return 0
    except DemoError as error:
        write(f"orb-pipeline demo: {error}")
        return 1
    finally:
        if warm_up is not None and warm_up.poll() is None:
            warm_up.kill()
            warm_up.wait()
        instance.dispose()


def _date(value: str):
    import datetime as dt

    return dt.date.fromisoformat(value)


if __name__ == "__main__":
    sys.exit(run_demo())
