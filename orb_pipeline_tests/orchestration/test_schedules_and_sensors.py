"""Schedule and sensor evaluations on a real (temporary) instance, with materializations
recorded through the public event API, never by mocking Dagster."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo

import dagster as dg
import polars as pl
import pytest

from orb_pipeline.core.cache_store import CacheStore, partition_path
from orb_pipeline.core.lineage import VALIDATION_ASSETS
from orb_pipeline.orchestration.jobs import build_jobs
from orb_pipeline.orchestration.schedules import daily_after_close
from orb_pipeline.orchestration.sensors import build_research_sensor
from orb_pipeline.orchestration.sweep_plan import MILLION_GRID, plan_ticker, runs_per_universe
from orb_pipeline.partitions import (
    parse_sessions_tag,
    period_partitions,
    period_ticker_partitions,
)
from orb_pipeline.sweeps.grid import parse_settings
from orb_pipeline.warehouse.demo import build_demo_warehouse
from orb_pipeline.warehouse.resource import SqliteWarehouse
from orb_pipeline.warehouse.sensors import ticker_sensor, ticker_sensor_result

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture
def cache(tmp_path):
    return CacheStore(url=str(tmp_path / "cache"))


def _materialize(instance, asset: str, partition: str, metadata: dict | None = None) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=asset, partition=partition, metadata=metadata)
    )


# The window a staged_window materialization records: 2025-11 has 19 XNYS sessions.
NOVEMBER = {"window_start": "2025-11-03", "window_end": "2025-11-28"}


def _stage(instance, ticker: str) -> None:
    _materialize(instance, "staged_window", ticker, NOVEMBER)


def _store_series(instance, cache, sessions_by_ticker: dict[str, list[str]]) -> None:
    """What a data run leaves: a series file per session, a materialization per (year, ticker)."""
    for ticker, days in sessions_by_ticker.items():
        for day in days:
            cache.write_frame(partition_path("series", ticker, day), pl.DataFrame({"price": [1.0]}))
        for year in sorted({day[:4] for day in days}):
            _materialize(instance, "compressed_series", f"{year}|{ticker}")


def _tick_after(session: dt.date) -> dt.datetime:
    """The schedule's tick for ``session``: 18:00 New York that day."""
    return dt.datetime(session.year, session.month, session.day, 18, 0, tzinfo=NEW_YORK)


def _evaluate_schedule(instance, cache, session: dt.date):
    tick = _tick_after(session)
    assert daily_after_close.cron_schedule == "0 18 * * 1-5"
    # Entered: the context opens its own instance and resources, and must close them.
    with dg.build_schedule_context(
        instance=instance, scheduled_execution_time=tick, resources={"cache": cache}
    ) as context:
        result = daily_after_close(context)
    if not isinstance(result, dg.SkipReason):
        # Every requested session has closed (16:00 New York at the latest) and its period
        # partition exists at the tick (the current period exists from its first midnight).
        for request in result:
            _, last = parse_sessions_tag(request.tags["orb/sessions"])
            assert dt.datetime.combine(last, dt.time(16), NEW_YORK) <= tick
            for tag in (RANGE_START, RANGE_END):
                key = period_ticker_partitions.get_partition_key_from_str(request.tags[tag])
                period = key.keys_by_dimension["period"]
                assert period_partitions.time_window_for_partition_key(period).start <= tick
    return result


# XNYS sessions of Nov 2025 before Thanksgiving week's Wednesday (hand-listed from the calendar).
WEEK = [
    "2025-11-17",
    "2025-11-18",
    "2025-11-19",
    "2025-11-20",
    "2025-11-21",
    "2025-11-24",
    "2025-11-25",
]


def test_holiday_is_skipped_with_the_reason(instance, cache):
    instance.add_dynamic_partitions("tickers", ["SPY"])
    result = _evaluate_schedule(instance, cache, dt.date(2025, 11, 27))  # Thanksgiving
    assert isinstance(result, dg.SkipReason)
    assert "2025-11-27" in result.skip_message and "holiday" in result.skip_message


def test_no_tickers_yet_is_skipped(instance, cache):
    result = _evaluate_schedule(instance, cache, dt.date(2025, 11, 26))
    assert isinstance(result, dg.SkipReason) and "ticker sensor" in result.skip_message


def test_up_to_date_day_is_one_run_for_every_ticker(instance, cache):
    instance.add_dynamic_partitions("tickers", ["SPY", "QQQ", "IWM"])
    _store_series(instance, cache, {t: [*WEEK, "2025-11-26"] for t in ("SPY", "QQQ", "IWM")})
    # Friday after Thanksgiving (early close): the holiday before it is not a missed session.
    result = _evaluate_schedule(instance, cache, dt.date(2025, 11, 28))
    (request,) = result
    assert request.run_key == "daily-2025-11-28"
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("2025|SPY", "2025|IWM")
    assert request.tags["orb/sessions"] == "2025-11-28"  # the run builds (and pulls) that day only


def test_missed_sessions_are_caught_up_in_one_more_run(instance, cache):
    instance.add_dynamic_partitions("tickers", ["SPY", "QQQ"])
    _store_series(
        instance,
        cache,
        {
            "SPY": [day for day in WEEK if day != "2025-11-21"],
            "QQQ": [day for day in WEEK if day != "2025-11-19"],
        },
    )
    today, catch_up = _evaluate_schedule(instance, cache, dt.date(2025, 11, 26))
    assert today.run_key == "daily-2025-11-26"
    assert (today.tags[RANGE_START], today.tags[RANGE_END]) == ("2025|SPY", "2025|QQQ")
    assert today.tags["orb/sessions"] == "2025-11-26"
    # Both gaps in one rectangle: first missed session .. last missed session x every ticker.
    assert catch_up.run_key == "catch-up-2025-11-19-2025-11-21"
    assert (catch_up.tags[RANGE_START], catch_up.tags[RANGE_END]) == ("2025|SPY", "2025|QQQ")
    assert catch_up.tags["orb/sessions"] == "2025-11-19..2025-11-21"


def test_catch_up_looks_back_only_the_configured_days(instance, cache, monkeypatch):
    instance.add_dynamic_partitions("tickers", ["SPY"])
    monkeypatch.setenv("ORB_CATCH_UP_DAYS", "2")  # 2025-11-24 .. 2025-11-26, nothing materialized
    today, catch_up = _evaluate_schedule(instance, cache, dt.date(2025, 11, 26))
    assert catch_up.run_key == "catch-up-2025-11-24-2025-11-25"


def test_schedule_and_sensors_are_registered_with_their_jobs():
    from orb_pipeline.definitions import defs

    schedule = defs.resolve_schedule_def("daily_after_close")
    assert schedule.job_name == "daily_data_job"
    assert schedule.execution_timezone == "America/New_York"
    # Both sensors are registered in the code location (by the warehouse stage and orchestration).
    assert defs.resolve_sensor_def("ticker_sensor").job_name == "daily_data_job"
    assert {job.name for job in defs.resolve_sensor_def("research_sensor").jobs} == {
        "stage_window_job",
        "sweep_job",
        "leaderboard_job",
    }
    automation = defs.resolve_sensor_def("validation_automation")
    assert automation.asset_selection.resolve(defs.resolve_asset_graph()) == {
        dg.AssetKey("walk_forward"),
        dg.AssetKey("monte_carlo"),
        dg.AssetKey("verdict"),
        dg.AssetKey("research_report"),
    }
    assert automation.run_tags["orb/kind"] == "validation" and "ecs/memory" in automation.run_tags


# ------------------------------------------------------------------ research sensor

SETTINGS = parse_settings({"chunks": 3})


def _research_tick(instance, sensor, cursor, cache=None):
    resources = {"cache": cache or CacheStore(url="/nonexistent/cache")}
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        return sensor(context)


def test_several_partitions_in_one_tick_stage_each_ticker_once(instance, cache, monkeypatch):
    monkeypatch.setenv("ORB_WINDOW_FIRST", "2025-11-20")
    sensor = build_research_sensor(build_jobs(SETTINGS), SETTINGS)
    instance.add_dynamic_partitions("tickers", ["SPY", "QQQ"])
    # Two (year, ticker) partitions land between two ticks; QQQ misses 2025-11-21.
    _store_series(
        instance,
        cache,
        {"SPY": ["2025-11-20", "2025-11-21", "2025-11-24"], "QQQ": ["2025-11-20", "2025-11-24"]},
    )
    result = _research_tick(instance, sensor, "{}", cache)  # a cursor at the start of the log
    stage = {r.partition_key: r for r in result.run_requests}
    assert set(stage) == {"SPY", "QQQ"}
    assert all(r.job_name == "stage_window_job" for r in stage.values())
    window = {t: r.run_config["ops"]["staged_window"]["config"] for t, r in stage.items()}
    assert window["SPY"] == {"first_session": "2025-11-20", "last_session": "2025-11-24"}
    assert window["QQQ"] == {"first_session": "2025-11-24", "last_session": "2025-11-24"}

    # Nothing new: a skip, and the cursor has moved past both events.
    again = _research_tick(instance, sensor, result.cursor, cache)
    assert isinstance(again, dg.SkipReason)
    # One more session for SPY only: only SPY is restaged, with a new run key.
    _store_series(instance, cache, {"SPY": ["2025-11-25"]})
    later = _research_tick(instance, sensor, result.cursor, cache)
    (restage,) = later.run_requests
    assert restage.partition_key == "SPY" and restage.run_key != stage["SPY"].run_key
    assert restage.run_config["ops"]["staged_window"]["config"]["last_session"] == "2025-11-25"


def test_staged_window_fans_out_to_chunks_then_leaderboard_after_the_last_chunk(instance):
    sensor = build_research_sensor(build_jobs(SETTINGS), SETTINGS)
    instance.add_dynamic_partitions("tickers", ["SPY", "QQQ"])
    _stage(instance, "SPY")
    _stage(instance, "QQQ")
    result = _research_tick(instance, sensor, "{}")
    # The default grid is one run per ticker: a range over its three chunk partitions.
    ranges = sorted((r.tags[RANGE_START], r.tags[RANGE_END]) for r in result.run_requests)
    assert ranges == [("000|QQQ", "002|QQQ"), ("000|SPY", "002|SPY")]
    assert all(r.partition_key is None for r in result.run_requests)
    assert {r.job_name for r in result.run_requests} == {"sweep_job"}
    assert len({r.run_key for r in result.run_requests}) == 2
    assert not any("ecs/run_task_kwargs" in r.tags for r in result.run_requests)  # no Spot unasked

    cursor = result.cursor
    for chunk in ("000", "001"):
        _materialize(instance, "sweep_results", f"{chunk}|SPY")
    partial = _research_tick(instance, sensor, cursor)
    assert not partial.run_requests  # SPY has 2 of 3 chunks
    _materialize(instance, "sweep_results", "002|SPY")
    done = _research_tick(instance, sensor, partial.cursor)
    (rank,) = done.run_requests
    assert (rank.job_name, rank.partition_key) == ("leaderboard_job", "SPY")
    # Validation after the leaderboard is declarative automation, not this sensor.
    _materialize(instance, "leaderboard", "SPY")
    ranked = _research_tick(instance, sensor, done.cursor)
    assert isinstance(ranked, dg.SkipReason)

    # A chunk swept before the latest staging does not count: restage, sweep 2 of 3 -> no rank.
    _stage(instance, "SPY")
    restaged = _research_tick(instance, sensor, done.cursor)
    for chunk in ("000", "001"):
        _materialize(instance, "sweep_results", f"{chunk}|SPY")
    stale = _research_tick(instance, sensor, restaged.cursor)
    assert not stale.run_requests
    assert json.loads(stale.cursor)["sweep_results"] > json.loads(done.cursor)["sweep_results"]


def test_a_million_backtests_over_ten_years_is_one_run_and_may_ask_for_spot(instance, monkeypatch):
    large = parse_settings(MILLION_GRID)
    assert large.grid().height == 1_000_000
    monkeypatch.setenv("ORB_SWEEP_FARGATE_SPOT", "true")
    sensor = build_research_sensor(build_jobs(large), large)
    instance.add_dynamic_partitions("tickers", ["SPY"])
    # 2,516 sessions: 1 M x 2,516 / (6 M/s x 2 vCPU) = 209.7 s + 1 M / 150,000 rows/s = 6.7 s
    # of upsert: 216 s, under the 900 s a run may take.
    _materialize(
        instance, "staged_window", "SPY", {"window_start": "2015-01-02", "window_end": "2024-12-31"}
    )
    (request,) = _research_tick(instance, sensor, "{}").run_requests
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("000|SPY", "015|SPY")
    assert json.loads(request.tags["ecs/run_task_kwargs"]) == {
        "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    }


def test_more_work_than_a_run_takes_is_split_into_even_runs_of_whole_chunks():
    large = parse_settings(MILLION_GRID)
    # 216.3 s of work (as above) at most 60 s per run -> 4 runs of 4 chunks, 54.1 s each.
    runs = plan_ticker(large, "SPY", sessions=2_516, max_run_seconds=60)
    assert [run.chunks for run in runs] == [
        tuple(f"{chunk:03d}" for chunk in range(first, first + 4)) for first in (0, 4, 8, 12)
    ]
    assert [run.backtests for run in runs] == [250_000] * 4
    assert [round(run.estimated_seconds, 1) for run in runs] == [54.1] * 4
    # The default grid over a year: one run, whatever the chunk count.
    assert len(plan_ticker(parse_settings({"chunks": 7}), "SPY")) == 1
    assert runs_per_universe(parse_settings({}), 500) == 500


def _evaluate_validation(instance, cursor=None):
    from orb_pipeline.definitions import defs

    result = dg.evaluate_automation_conditions(
        defs=defs,
        instance=instance,
        asset_selection=dg.AssetSelection.assets(*VALIDATION_ASSETS),
        cursor=cursor,
    )
    requested = {
        key.to_user_string(): result.get_requested_partitions(key) for key in VALIDATION_ASSETS
    }
    # walk_forward, monte_carlo and research_report together: one run per ticker holds all three.
    assert len({frozenset(partitions) for partitions in requested.values()}) == 1
    return requested["walk_forward"], result.cursor


def test_validation_is_requested_once_per_leaderboard_update(instance):
    instance.add_dynamic_partitions("tickers", ["SPY", "QQQ"])
    requested, cursor = _evaluate_validation(instance)
    assert requested == set()  # nothing ranked yet
    _materialize(instance, "leaderboard", "SPY")
    requested, cursor = _evaluate_validation(instance, cursor)
    assert requested == {"SPY"}
    # Requested once: the next evaluations ask for nothing until the leaderboard changes again.
    for _ in range(2):
        requested, cursor = _evaluate_validation(instance, cursor)
        assert requested == set()
    _materialize(instance, "leaderboard", "SPY")
    _materialize(instance, "leaderboard", "QQQ")
    _materialize(instance, "leaderboard", "QQQ")  # two updates between evaluations: one request
    requested, cursor = _evaluate_validation(instance, cursor)
    assert requested == {"SPY", "QQQ"}
    requested, cursor = _evaluate_validation(instance, cursor)
    assert requested == set()


def test_first_tick_starts_from_now_without_replaying_history(instance):
    sensor = build_research_sensor(build_jobs(SETTINGS), SETTINGS)
    instance.add_dynamic_partitions("tickers", ["SPY"])
    _materialize(instance, "compressed_series", "2025|SPY")
    first = _research_tick(instance, sensor, None)
    assert not first.run_requests and first.skip_reason
    _stage(instance, "SPY")
    second = _research_tick(instance, sensor, first.cursor)
    assert {r.job_name for r in second.run_requests} == {"sweep_job"}  # only the new event


# ------------------------------------------------------------------ ticker sensor


def test_ticker_sensor_adds_configured_universe_and_requests_history(instance, monkeypatch):
    monkeypatch.setenv("ORB_FIRST_SESSION", "2025-09-02")
    instance.add_dynamic_partitions("tickers", ["SPY"])
    now = dt.datetime(2025, 9, 4, 12, 0, tzinfo=dt.UTC)
    result = ticker_sensor_result(instance, ["SPY", "QQQ", "iwm?", "IWM"], None, now)
    (add,) = result.dynamic_partitions_requests
    assert sorted(add.partition_keys) == ["IWM", "QQQ"]  # SPY exists, "iwm?" is not a ticker
    history = {r.tags["orb/ticker"]: r for r in result.run_requests}
    assert set(history) == {"IWM", "QQQ"}
    assert history["QQQ"].tags[RANGE_START] == "2025|QQQ"
    assert history["QQQ"].tags[RANGE_END] == "2025|QQQ"
    assert history["QQQ"].tags["orb/sessions"] == "2025-09-02..2025-09-03"  # up to yesterday

    instance.add_dynamic_partitions("tickers", add.partition_keys)
    again = ticker_sensor_result(instance, ["SPY", "QQQ", "IWM"], result.cursor, now)
    assert isinstance(again, dg.SkipReason)


def test_ticker_sensor_reads_the_warehouse(instance, tmp_path, monkeypatch):
    monkeypatch.delenv("ORB_TICKERS", raising=False)
    path = tmp_path / "warehouse.sqlite"
    build_demo_warehouse(
        path, tickers=("SPY", "QQQ"), first_session="2025-09-02", last_session="2025-09-02"
    )
    context = dg.build_sensor_context(
        instance=instance,
        resources={"warehouse": SqliteWarehouse(path=str(path), build_demo_if_missing=False)},
    )
    result = ticker_sensor(context)
    (add,) = result.dynamic_partitions_requests
    assert sorted(add.partition_keys) == ["QQQ", "SPY"]
    assert all(r.job_name == "daily_data_job" for r in result.run_requests)
