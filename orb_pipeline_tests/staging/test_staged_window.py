"""``staged_window`` through Dagster: what it stages, and a clear error for a missing window."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.partitions import TICKERS_PARTITIONS_NAME
from orb_pipeline.staging.assets import staged_window
from orb_pipeline.staging.resource import LocalStagingStore
from orb_pipeline_tests.staging.window_data import make_window, write_cached_window


def _run(tmp_path, config: dict):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(TICKERS_PARTITIONS_NAME, ["SPY"])
    resources = {
        "staging": LocalStagingStore(directory=str(tmp_path / "staging")),
        "cache": CacheStore(url=str(tmp_path / "cache")),
    }
    return dg.materialize(
        [staged_window],
        instance=instance,
        resources=resources,
        partition_key="SPY",
        raise_on_error=False,
        run_config={"ops": {"staged_window": {"config": config}}},
    )


def test_stages_the_cached_window_exactly(tmp_path):
    series, sessions = make_window(n_sessions=5, start=dt.date(2025, 1, 2))
    write_cached_window(CacheStore(url=str(tmp_path / "cache")), "SPY", series, sessions)
    last = sessions["session_date"].max().isoformat()
    result = _run(tmp_path, {"first_session": "2025-01-02", "last_session": last})
    assert result.success
    metadata = result.asset_materializations_for_node("staged_window")[0].metadata
    staged = LocalStagingStore(directory=str(tmp_path / "staging")).get(
        "SPY", metadata["data_version"].value
    )
    assert staged.series.equals(series)
    assert staged.sessions.select(sessions.columns).equals(sessions)
    assert metadata["window_end"].value == last and metadata["parts"].value == 2


def test_missing_window_config_fails_naming_the_setting(tmp_path):
    result = _run(tmp_path, {"first_session": "", "last_session": "2025-01-31"})
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error.to_string()
    assert "first_session must be a date YYYY-MM-DD" in failure and "ORB_WINDOW_FIRST" in failure
