"""A small staging -> sweep -> leaderboard chain on real resources, shared by the sweep tests and
the kill-mid-write subprocess (``python -m orb_pipeline_tests.sweeps.chain SPEC_JSON``)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import dagster as dg

from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.partitions import TICKERS_PARTITIONS_NAME
from orb_pipeline.results.assets import leaderboard
from orb_pipeline.results.resource import MySqlResultsStore, SqliteResultsStore
from orb_pipeline.staging.assets import staged_window
from orb_pipeline.staging.resource import LocalStagingStore, RedisStagingStore
from orb_pipeline.sweeps.assets import build_sweep_results
from orb_pipeline.sweeps.grid import SweepSettings, parse_settings

SMALL_GRID = {
    "blocks": [
        {
            "range_seconds": [30, 60],
            "stop_distance": [0.05, 0.1, 0.2],
            "stop_count_limit": [1, 2],
            "stop_cooloff_period": [0, 60],
            "limit_distance": [0.1, 0.2, 0.5],
        }
    ],
    "chunks": 3,
}
FIRST, LAST = "2025-01-02", "2025-01-31"
TICKER = "SPY"


def write_window(cache_dir, ticker: str):
    """20 sessions of January 2025 (``FIRST`` .. ``LAST``) written to a Parquet cache as
    compressed_series files; returns ``(series, sessions)``."""
    import datetime as dt

    from orb_pipeline_tests.staging.window_data import make_window, write_cached_window

    series, sessions = make_window(n_sessions=20, ticks_per_session=300, start=dt.date(2025, 1, 2))
    assert sessions["session_date"].max() == dt.date.fromisoformat(LAST)
    write_cached_window(CacheStore(url=str(cache_dir)), ticker, series, sessions)
    return series, sessions


def embedded_chain(tmp_path, ticker: str) -> Chain:
    """The chain on SQLite + local staging over the cache ``tmp_path / "cache"``."""
    return Chain(
        {
            "ticker": ticker,
            "grid": SMALL_GRID,
            "cache_dir": str(tmp_path / "cache"),
            "staging_dir": str(tmp_path / "staging"),
            "sqlite_path": str(tmp_path / "r.sqlite"),
        }
    )


def chain_for(request, tmp_path, ticker: str) -> Chain:
    """The chain of a fixture parametrized with ``embedded`` (SQLite + local staging) or
    ``servers`` (the real MySQL + Redis), over the cache ``tmp_path / "cache"``."""
    spec = {"ticker": ticker, "grid": SMALL_GRID, "cache_dir": str(tmp_path / "cache")}
    if request.param == "embedded":
        spec |= {
            "staging_dir": str(tmp_path / "staging"),
            "sqlite_path": str(tmp_path / "r.sqlite"),
        }
    else:
        mysql = request.getfixturevalue("mysql_database")
        redis_settings = request.getfixturevalue("redis_settings")
        spec |= {
            "mysql": {k: mysql[k] for k in ("host", "port", "user", "password", "database")},
            "redis": {k: redis_settings[k] for k in ("host", "port", "password", "key_prefix")},
        }
    return Chain(spec)


@dataclass
class Chain:
    """Resources + settings, serializable as a JSON spec for a subprocess."""

    spec: dict

    @property
    def settings(self) -> SweepSettings:
        return parse_settings(self.spec["grid"])

    def resources(self) -> dict:
        spec = self.spec
        if "redis" in spec:
            staging = RedisStagingStore(**spec["redis"])
        else:
            staging = LocalStagingStore(directory=spec["staging_dir"])
        if "mysql" in spec:
            results = MySqlResultsStore(**spec["mysql"])
        else:
            results = SqliteResultsStore(path=spec["sqlite_path"], **spec.get("sqlite_options", {}))
        return {
            "staging": staging,
            "results": results,
            "cache": CacheStore(url=spec["cache_dir"]),
        }

    def instance(self) -> dg.DagsterInstance:
        instance = dg.DagsterInstance.ephemeral()
        instance.add_dynamic_partitions(TICKERS_PARTITIONS_NAME, [self.spec["ticker"]])
        return instance

    def stage(self, instance: dg.DagsterInstance) -> dg.ExecuteInJobResult:
        return dg.materialize(
            [staged_window],
            instance=instance,
            resources=self.resources(),
            partition_key=self.spec["ticker"],
            run_config={
                "ops": {"staged_window": {"config": {"first_session": FIRST, "last_session": LAST}}}
            },
        )

    def sweep(self, instance: dg.DagsterInstance, chunk: str, raise_on_error: bool = True):
        key = dg.MultiPartitionKey({"ticker": self.spec["ticker"], "chunk": chunk})
        return dg.materialize(
            [build_sweep_results(self.settings)],
            instance=instance,
            resources=self.resources(),
            partition_key=str(key),
            raise_on_error=raise_on_error,
        )

    def sweep_range(self, instance: dg.DagsterInstance, first_chunk: str, last_chunk: str):
        """One run over chunks ``first_chunk..last_chunk`` (Dagster's partition-range tags)."""
        ticker = self.spec["ticker"]
        bounds = [
            str(dg.MultiPartitionKey({"ticker": ticker, "chunk": c}))
            for c in (first_chunk, last_chunk)
        ]
        return dg.materialize(
            [build_sweep_results(self.settings)],
            instance=instance,
            resources=self.resources(),
            tags={
                "dagster/asset_partition_range_start": bounds[0],
                "dagster/asset_partition_range_end": bounds[1],
            },
        )

    def leaderboard(self, instance: dg.DagsterInstance, raise_on_error: bool = True, **config):
        return dg.materialize(
            [leaderboard],
            instance=instance,
            resources=self.resources(),
            partition_key=self.spec["ticker"],
            raise_on_error=raise_on_error,
            run_config={"ops": {"leaderboard": {"config": config}}} if config else None,
        )


if __name__ == "__main__":
    chain = Chain(json.loads(sys.argv[1]))
    chain.sweep(chain.instance(), sys.argv[2])
