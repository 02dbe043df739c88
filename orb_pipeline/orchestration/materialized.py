"""Which partitions of an asset the instance has materialized, through the public event-log API."""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

_BATCH = 500


def materialized_partitions(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition_keys: Iterable[str]
) -> set[str]:
    """The subset of ``partition_keys`` with at least one materialization of ``asset_key``."""
    wanted = list(dict.fromkeys(str(key) for key in partition_keys))
    found: set[str] = set()
    for start in range(0, len(wanted), _BATCH):
        batch = wanted[start : start + _BATCH]
        cursor = None
        while True:
            result = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=batch),
                limit=1_000,
                cursor=cursor,
            )
            found.update(record.partition_key for record in result.records if record.partition_key)
            if not result.has_more:
                break
            cursor = result.cursor
    return found
