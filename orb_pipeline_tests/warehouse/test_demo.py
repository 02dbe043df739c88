"""The embedded demo warehouse: deterministic, realistic, same schema and SQL path."""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

from orb_pipeline.calendar import session_table
from orb_pipeline.core.cache_store import cache_from_environment
from orb_pipeline.warehouse import MySqlWarehouse, SqliteWarehouse
from orb_pipeline.warehouse.demo import HALT, build_demo_warehouse, generate_session
from orb_pipeline.warehouse.resource import warehouse_from_environment


def test_build_is_deterministic_and_served_by_the_same_sql_path(tmp_path):
    paths = [tmp_path / "a.sqlite", tmp_path / "b.sqlite"]
    counts = [
        build_demo_warehouse(
            p, tickers=("SPY", "IWM"), first_session="2025-10-14", last_session="2025-10-15"
        )
        for p in paths
    ]
    assert counts[0] == counts[1] > 15_000
    warehouses = [SqliteWarehouse(path=str(p), build_demo_if_missing=False) for p in paths]
    sessions = session_table("2025-10-14", "2025-10-15")
    pulled = [w.pull_sessions("IWM", sessions) for w in warehouses]
    assert pulled[0].equals(pulled[1])
    assert warehouses[0].list_tickers() == ["IWM", "SPY"]
    digest = hashlib.sha256(pulled[0].write_ipc(None).getvalue()).hexdigest()
    other = build_demo_warehouse(
        tmp_path / "c.sqlite",
        tickers=("IWM",),
        first_session="2025-10-14",
        last_session="2025-10-15",
        seed=1,
    )
    assert other > 0
    changed = SqliteWarehouse(path=str(tmp_path / "c.sqlite")).pull_sessions("IWM", sessions)
    assert (
        hashlib.sha256(changed.write_ipc(None).getvalue()).hexdigest() != digest
    )  # the seed matters

    # The halt: no IWM print for 10 minutes on 2025-10-15.
    halt_day = pulled[0].filter(pl.col("session_date") == sessions["session_date"][1])
    open_utc = sessions["open_utc"][1]
    halted = halt_day.filter(
        pl.col("timestamp_utc").is_between(open_utc + HALT[2], open_utc + HALT[3] - 1)
    )
    assert halted.is_empty() and halt_day.height > 3000


def test_generated_session_is_realistic():
    bounds = session_table("2025-11-03", "2025-11-03").row(0, named=True)
    data, close = generate_session(
        "SPY", "2025-11-03", bounds["open_utc"], bounds["close_utc"], 640.0, 3
    )
    times = data["timestamp_utc"]
    assert times[0] == bounds["open_utc"] and np.all(np.diff(times) >= 0)
    assert times[-1] <= bounds["close_utc"]
    first_minute = np.unique(times[times < bounds["open_utc"] + 60]).size
    midday = np.unique(
        times[(times >= bounds["open_utc"] + 10_000) & (times < bounds["open_utc"] + 10_060)]
    ).size
    assert first_minute >= 50 and midday < first_minute  # dense at the open, sparser at midday
    cents = data["underlying"] * 100
    assert np.all(data["underlying"] > 0) and np.allclose(cents, np.round(cents), atol=1e-6)
    delta = np.abs(data["delta"])
    assert 0.1 < np.mean((delta > 0.4) & (delta < 0.6)) < 0.9  # enough ATM rows for the range IV
    moneyness = np.abs(np.log(data["strike"] / data["underlying"]))
    iv = data["implied_volatility"]
    assert iv[moneyness > 0.04].mean() > iv[moneyness < 0.005].mean()  # a smile: wings above ATM
    assert 500 < close < 800


def test_environment_picks_the_implementation(monkeypatch, tmp_path):
    for name in ("ORB_WAREHOUSE", "ORB_WAREHOUSE_PATH", "ORB_CACHE_URL"):
        monkeypatch.delenv(name, raising=False)
    embedded = warehouse_from_environment(tmp_path)
    assert isinstance(embedded, SqliteWarehouse) and embedded.path == str(
        tmp_path / "warehouse.sqlite"
    )
    assert cache_from_environment(tmp_path).url == str(tmp_path / "cache")
    monkeypatch.setenv("ORB_WAREHOUSE", "mysql")
    monkeypatch.setenv("ORB_WAREHOUSE_DATABASE", "options")
    monkeypatch.setenv("ORB_CACHE_URL", "s3://bucket/orb")
    assert isinstance(warehouse_from_environment(tmp_path), MySqlWarehouse)
    assert cache_from_environment(tmp_path).is_s3
