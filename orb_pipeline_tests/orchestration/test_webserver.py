"""The web server starts on the top-level workspace.yaml and dagster.yaml and serves the asset
graph, the documented jobs, the schedule and the sensors over GraphQL."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]

QUERY = """
{
  assetNodes { assetKey { path } dependencyKeys { path } }
  repositoriesOrError {
    ... on RepositoryConnection {
      nodes { name location { name } jobs { name } schedules { name } sensors { name } }
    }
  }
}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_webserver_serves_the_asset_graph(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    log = tmp_path / "webserver.log"
    env = {**os.environ, "DAGSTER_HOME": str(home), "ORB_DATA_DIR": str(tmp_path / "data")}
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-webserver")), "-h", "127.0.0.1", "-p", str(port),
         "-w", str(REPO / "workspace.yaml")],
        cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                pytest.fail(f"web server exited:\n{log.read_text()[-3000:]}")
            try:
                if requests.get(url + "/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"web server did not answer:\n{log.read_text()[-3000:]}")
            time.sleep(1)
        response = requests.post(url + "/graphql", json={"query": QUERY}, timeout=120)
        response.raise_for_status()
        payload = response.json()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    assert "errors" not in payload, payload["errors"]
    data = payload["data"]
    depends_on = {
        "/".join(node["assetKey"]["path"]): {"/".join(d["path"]) for d in node["dependencyKeys"]}
        for node in data["assetNodes"]
    }
    lineage = ["cached_bars", "opening_ranges", "compressed_series", "staged_window", "sweep_results", "leaderboard"]
    assert set(lineage) <= set(depends_on), sorted(depends_on)
    assert "compressed_series" in depends_on["staged_window"]
    assert "staged_window" in depends_on["sweep_results"]
    assert "sweep_results" in depends_on["leaderboard"]

    (repository,) = data["repositoriesOrError"]["nodes"]
    assert repository["location"]["name"] == "orb_pipeline"
    jobs = {job["name"] for job in repository["jobs"]}
    assert {"daily_data_job", "stage_window_job", "sweep_job", "leaderboard_job"} <= jobs
    assert {s["name"] for s in repository["schedules"]} >= {"daily_after_close"}
    assert {s["name"] for s in repository["sensors"]} >= {"ticker_sensor", "research_sensor"}


def test_dagster_definitions_validate_accepts_the_workspace(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "ORB_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Validation successful for code location orb_pipeline" in result.stdout + result.stderr
