"""A small staging -> sweep -> leaderboard chain on real resources, shared by the sweep tests and
the kill-mid-write subprocess (``python -m orb_pipeline_tests.sweeps.chain SPEC_JSON``)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import dagster as dg

from orb_pipeline.partitions import TICKERS_PARTITIONS_NAME
from orb_pipeline.results.assets import leaderboard
from orb_pipeline.results.store import MySqlResultsStore, SqliteResultsStore
from orb_pipeline.staging.assets import staged_window
from orb_pipeline.staging.store import LocalStaging, RedisStaging
from orb_pipeline.storage import ParquetStore
from orb_pipeline.sweeps.assets import build_sweep_results
from orb_pipeline.sweeps.grid import SweepSettings, parse_settings

SMALL_GRID = {
    "blocks": [{
        "range_seconds": [30, 60],
        "stop_distance": [0.05, 0.1, 0.2],
        "stop_count_limit": [1, 2],
        "stop_cooloff_period": [0, 60],
        "limit_distance": [0.1, 0.2, 0.5],
    }],
    "chunks": 3,
}
FIRST, LAST = "2025-01-02", "2025-01-31"


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
            staging = RedisStaging(**spec["redis"])
        else:
            staging = LocalStaging(directory=spec["staging_dir"])
        if "mysql" in spec:
            results = MySqlResultsStore(**spec["mysql"])
        else:
            results = SqliteResultsStore(path=spec["sqlite_path"], **spec.get("sqlite_options", {}))
        return {"staging": staging, "results": results, "cache": ParquetStore(url=spec["cache_dir"])}

    def instance(self) -> dg.DagsterInstance:
        instance = dg.DagsterInstance.ephemeral()
        instance.add_dynamic_partitions(TICKERS_PARTITIONS_NAME, [self.spec["ticker"]])
        return instance

    def stage(self, instance: dg.DagsterInstance) -> dg.ExecuteInJobResult:
        return dg.materialize(
            [staged_window], instance=instance, resources=self.resources(),
            partition_key=self.spec["ticker"],
            run_config={"ops": {"staged_window": {"config": {"first_session": FIRST,
                                                             "last_session": LAST}}}})

    def sweep(self, instance: dg.DagsterInstance, chunk: str, raise_on_error: bool = True):
        key = dg.MultiPartitionKey({"ticker": self.spec["ticker"], "chunk": chunk})
        return dg.materialize(
            [build_sweep_results(self.settings)], instance=instance, resources=self.resources(),
            partition_key=str(key), raise_on_error=raise_on_error)

    def leaderboard(self, instance: dg.DagsterInstance, **config):
        return dg.materialize(
            [leaderboard], instance=instance, resources=self.resources(),
            partition_key=self.spec["ticker"],
            run_config={"ops": {"leaderboard": {"config": config}}} if config else None)


if __name__ == "__main__":
    chain = Chain(json.loads(sys.argv[1]))
    chain.sweep(chain.instance(), sys.argv[2])
