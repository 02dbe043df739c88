"""The README's first command, minus the package install: `orb-pipeline demo` runs the whole
lineage on embedded defaults into a fresh DAGSTER_HOME, and `dagster-webserver -w workspace.yaml`
on that instance (what `dagster dev` shows) serves the asset graph, the jobs, schedule and sensors,
and every materialization over GraphQL.

(`bash scripts/demo.sh` = create/refresh `.venv` + this command; CI runs `scripts/test.sh` in the
same way, so re-installing every package in a fresh venv here would only measure pip.)"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import requests

from orb_pipeline import engine
from orb_pipeline.results.leaderboard import report_path
from orb_pipeline_tests.services import free_port

REPO = Path(__file__).resolve().parents[2]
TICKERS = ("IWM", "QQQ", "SPY")
FIRST, LAST = dt.date(2025, 9, 2), dt.date(2025, 11, 28)


def _weekdays(first: dt.date, last: dt.date) -> list[dt.date]:
    return [
        first + dt.timedelta(n)
        for n in range((last - first).days + 1)
        if (first + dt.timedelta(n)).weekday() < 5
    ]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORB_", "DAGSTER_"))}
    # Two workers, as on a 2-core machine: the data run splits in two and the tickers' runs
    # execute two at a time in worker processes.
    env.update(DAGSTER_HOME=str(home), ORB_DATA_DIR=str(root / "data"), ORB_DEMO_WORKERS="2")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "orb_pipeline.cli", "demo"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    print(f"orb-pipeline demo took {time.monotonic() - started:.0f} s")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return home, root / "data", env, result.stdout


def test_demo_prints_progress_leaderboards_and_pictures(demo):
    _, data, _, stdout = demo
    assert "daily_data_job" in stdout and "research sensor tick" in stdout
    for ticker in TICKERS:
        assert f"== {ticker} {FIRST}..{LAST}: top backtests by deflated Sharpe ==" in stdout
        assert f"== {ticker} {FIRST}..{LAST}: does the winner hold up? ==" in stdout
        report = data / "cache" / report_path(ticker, FIRST, LAST)
        assert f"research report (HTML, opens offline): {report}" in stdout
        assert report.read_bytes().startswith(b"<!doctype html>")
        for picture in ("equity", "heatmap"):
            path = (
                data
                / "cache"
                / "artifacts"
                / ticker
                / f"{FIRST}_{LAST}"
                / f"engine-{engine.ENGINE_VERSION}"
                / "leaderboard"
                / f"{picture}.png"
            )
            assert f"{picture} picture: {path}" in stdout
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_prints_runs_events_and_total(demo):
    _, _, _, stdout = demo
    # 2 data runs (one per worker), then per ticker: stage, sweep (all 4 chunks in one run),
    # leaderboard, validation; then the universe view.
    assert "runs launched: 15" in stdout
    assert "runs of different tickers execute 2 at a time (2 worker processes)" in stdout
    phases = {
        m["phase"]: (int(m["runs"]), int(m["events"]))
        for m in re.finditer(
            r"^(?P<phase>[a-z ]+?) +\d+\.\d +(?P<runs>\d+) +(?P<events>\d+)$", stdout, re.M
        )
    }
    assert {phase: runs for phase, (runs, _) in phases.items() if runs} == {
        "data": 2,
        "stage": 3,
        "sweeps": 3,
        "leaderboards": 3,
        "validation": 3,
        "universe": 1,
    }
    # The research chain's bookkeeping per ticker does not grow with the window's sessions:
    # 4 runs of at most ~30 events each (measured: 13 + 26 + 13 + 28).
    research = sum(events for phase, (_, events) in phases.items() if phase != "data")
    assert research <= 3 * 100, phases
    total = sum(events for _, events in phases.values())
    assert f"Dagster events written: {total} " in stdout
    assert re.search(r"^total: \d+\.\d s$", stdout, re.M)


def test_demo_materialized_every_partition_of_the_lineage(demo):
    home, data, _, _ = demo
    expected = {
        # one (2025, ticker) partition per ticker, one file per weekday inside (below)
        "cached_bars": 3,
        "opening_ranges": 3,
        "compressed_series": 3,
        "staged_window": 3,
        "sweep_results": 3 * 4,  # default 4 parameter chunks
        "leaderboard": 3,
        "walk_forward": 3,
        "monte_carlo": 3,
        "research_report": 3,
    }
    # every weekday x ticker has a file (the holiday 2025-11-27 is stored empty)
    assert len(_weekdays(FIRST, LAST)) == 64
    for prefix in ("bars", "series", "ranges"):
        for ticker in TICKERS:
            names = sorted(p.name for p in (data / "cache" / prefix / ticker).glob("*.parquet"))
            assert names == [f"{day}.parquet" for day in _weekdays(FIRST, LAST)], (prefix, ticker)
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        for asset, count in expected.items():
            partitions = set()
            cursor = None
            while True:
                page = instance.fetch_materializations(dg.AssetKey(asset), limit=500, cursor=cursor)
                partitions.update(r.partition_key for r in page.records)
                if not page.has_more:
                    break
                cursor = page.cursor
            assert len(partitions) == count, asset
        runs = instance.get_runs()
        # data (one run per worker), then per ticker: stage, sweep (all chunks), rank, validate;
        # the universe
        assert len(runs) == 2 + 3 + 3 + 3 + 3 + 1
        assert {run.status for run in runs} == {dg.DagsterRunStatus.SUCCESS}
    finally:
        instance.dispose()


@pytest.fixture(scope="module")
def webserver(demo):
    """``dagster-webserver -w workspace.yaml`` on the demo's instance; yields its base URL."""
    home, _, env, _ = demo
    port = free_port()
    log = home.parent / "webserver.log"
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster-webserver")),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            str(REPO / "workspace.yaml"),
        ],
        cwd=REPO,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None:
                pytest.fail(f"web server exited:\n{log.read_text()[-3000:]}")
            try:
                if requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"web server did not answer:\n{log.read_text()[-3000:]}")
            time.sleep(1)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _graphql(url: str, query: str) -> dict:
    payload = requests.post(f"{url}/graphql", json={"query": query}, timeout=120).json()
    assert "errors" not in payload, payload.get("errors")
    return payload["data"]


def test_web_server_on_the_demo_instance_shows_the_materializations(webserver):
    query = """{
      assetNodes { assetKey { path } dependencyKeys { path } assetMaterializations(limit: 1) { runId } }
      repositoriesOrError { ... on RepositoryConnection {
        nodes { location { name } jobs { name } schedules { name } sensors { name } } } }
    }"""
    payload = {"data": _graphql(webserver, query)}
    assert "errors" not in payload, payload.get("errors")
    nodes = {"/".join(n["assetKey"]["path"]): n for n in payload["data"]["assetNodes"]}
    for asset in (
        "cached_bars",
        "opening_ranges",
        "compressed_series",
        "staged_window",
        "sweep_results",
        "leaderboard",
        "walk_forward",
        "monte_carlo",
        "research_report",
    ):
        assert nodes[asset]["assetMaterializations"], f"{asset} shows no materialization"
    # The asset graph's edges, as the lineage in docs/ARCHITECTURE.md draws them.
    depends_on = {
        name: {"/".join(d["path"]) for d in node["dependencyKeys"]} for name, node in nodes.items()
    }
    assert (
        "cached_bars" in depends_on["compressed_series"]
        or "cached_bars" in depends_on["opening_ranges"]
    )
    assert "compressed_series" in depends_on["staged_window"]
    assert "staged_window" in depends_on["sweep_results"]
    assert "sweep_results" in depends_on["leaderboard"]
    (repository,) = payload["data"]["repositoriesOrError"]["nodes"]
    assert repository["location"]["name"] == "orb_pipeline"
    assert {j["name"] for j in repository["jobs"]} >= {
        "daily_data_job",
        "stage_window_job",
        "sweep_job",
        "leaderboard_job",
        "validation_job",
    }
    assert {s["name"] for s in repository["schedules"]} == {
        "daily_after_close",
        "freshness_schedule",
        "prune_event_logs_schedule",
    }
    assert {s["name"] for s in repository["sensors"]} >= {"ticker_sensor", "research_sensor"}


def test_demo_runs_carry_the_code_location_origin_and_the_sensor_tags(webserver):
    query = """{ runsOrError { ... on Runs { results {
      runId pipelineName status repositoryOrigin { repositoryLocationName repositoryName }
      tags { key value } } } } }"""
    runs = _graphql(webserver, query)["runsOrError"]["results"]
    assert len(runs) == 15  # 2 data runs (one per worker) + 4 per ticker + the universe
    for run in runs:
        # What the Overview timeline, the Jobs page and re-execution look runs up by.
        assert run["repositoryOrigin"] == {
            "repositoryLocationName": "orb_pipeline",
            "repositoryName": "__repository__",
        }, run["pipelineName"]
        assert run["status"] == "SUCCESS"
    tags = {run["runId"]: {t["key"]: t["value"] for t in run["tags"]} for run in runs}
    launched_by = {
        (run["pipelineName"], tags[run["runId"]].get("dagster/sensor_name")) for run in runs
    }
    # The data run is the demo's own; the research chain's runs are the research sensor's (with
    # run keys), validation the automation condition sensor's.
    assert launched_by == {
        ("daily_data_job", None),
        ("stage_window_job", "research_sensor"),
        ("sweep_job", "research_sensor"),
        ("leaderboard_job", "research_sensor"),
        ("validation_job", "validation_automation"),
        ("universe_job", None),
    }
    for run in runs:
        run_tags = tags[run["runId"]]
        if run["pipelineName"] in ("daily_data_job", "universe_job"):
            assert run_tags["orb/launched_by"] == "orb-pipeline demo"
        elif run["pipelineName"] == "validation_job":
            assert run_tags["dagster/from_automation_condition"] == "true"
            assert run_tags["orb/kind"] == "validation" and run_tags["ecs/memory"]
        else:
            assert run_tags["dagster/run_key"]


def test_overview_timeline_and_jobs_page_list_the_demo_runs(webserver, tmp_path_factory):
    from orb_pipeline_tests.results.browser import Browser

    shots = tmp_path_factory.mktemp("screenshots")
    jobs = ("daily_data_job", "stage_window_job", "sweep_job", "leaderboard_job", "validation_job")
    with Browser(width=1600, height=1000) as browser:
        browser.open(f"{webserver}/overview/activity/timeline")
        # The location row counts the runs in the window; each job has a row with its runs.
        browser.wait_for("document.body.innerText.includes('orb_pipeline\\n15')", timeout=120)
        text = browser.evaluate("document.body.innerText")
        assert "No runs or scheduled ticks" not in text
        for job in jobs:
            assert job in text
        browser.screenshot(shots / "overview_timeline.png")

        browser.open(f"{webserver}/jobs")
        browser.wait_for("document.body.innerText.includes('validation_job')", timeout=120)
        browser.wait_for("(document.body.innerText.match(/ago/g) || []).length >= 5", timeout=60)
        text = browser.evaluate("document.body.innerText")
        for job in jobs:  # every job shows when its latest run was, none "No runs"
            assert re.search(job + r"\n[^\n]*ago", text), job
        browser.screenshot(shots / "jobs.png")
        print(f"screenshots: {shots}")
