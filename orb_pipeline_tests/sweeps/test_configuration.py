"""Configuration is checked when definitions load: a bad grid stops everything before any run;
production resources are chosen by environment names, secrets stay dg.EnvVar."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

LOAD = "import orb_pipeline.definitions as d; print(sorted(d.defs.resources))"


def load_definitions(tmp_path, **env) -> subprocess.CompletedProcess:
    environment = {**os.environ, "ORB_DATA_DIR": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, "-c", LOAD], capture_output=True, text=True, env=environment, timeout=120
    )


def test_bad_grid_fails_when_definitions_load(tmp_path):
    # Each kind of bad grid is covered by test_grid.py; this proves the check runs at load time.
    path = tmp_path / "grid.toml"
    path.write_text(
        "chunks = 2\n[[blocks]]\nrange_seconds = [30]\nstop_distance = [-0.5]\n"
        "stop_count_limit = [1]\nstop_cooloff_period = [0]\nlimit_distance = [1.0]\n"
    )
    loaded = load_definitions(tmp_path, ORB_SWEEP_GRID=str(path))
    assert loaded.returncode != 0
    assert "GridConfigError: invalid ORB_SWEEP_GRID file " + str(path) in loaded.stderr
    assert "'stop_distance' must be finite, > 0 and <= 1,000,000, got [-0.5]" in loaded.stderr


def test_production_choice_loads_with_env_var_secrets(tmp_path):
    loaded = load_definitions(tmp_path, ORB_STAGING="redis", ORB_RESULTS="mysql")
    assert loaded.returncode == 0, loaded.stderr
    assert "'results'" in loaded.stdout and "'staging'" in loaded.stdout


def test_environment_picks_the_store_classes(monkeypatch, tmp_path):
    import dagster as dg

    from orb_pipeline.results.resource import (
        MySqlResultsStore,
        SqliteResultsStore,
        results_from_environment,
    )
    from orb_pipeline.staging.resource import (
        LocalStagingStore,
        RedisStagingStore,
        staging_from_environment,
    )

    assert isinstance(staging_from_environment(tmp_path), LocalStagingStore)
    assert isinstance(results_from_environment(tmp_path), SqliteResultsStore)
    monkeypatch.setenv("ORB_STAGING", "redis")
    monkeypatch.setenv("ORB_REDIS_PASSWORD", "not-read-now")
    monkeypatch.setenv("ORB_RESULTS", "mysql")
    staging, results = staging_from_environment(tmp_path), results_from_environment(tmp_path)
    assert isinstance(staging, RedisStagingStore) and isinstance(results, MySqlResultsStore)
    assert isinstance(staging.password, dg.EnvVar) and isinstance(results.password, dg.EnvVar)
    monkeypatch.setenv("ORB_STAGING", "memcached")
    with pytest.raises(ValueError, match="ORB_STAGING must be 'local' or 'redis'"):
        staging_from_environment(tmp_path)
