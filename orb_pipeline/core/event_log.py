"""Reading materializations from a Dagster instance's event log, through its public API only.

Every reader pages through ``fetch_materializations`` until it has everything, so a busy asset
never truncates a result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import dagster as dg

PAGE = 1_000
_PARTITION_BATCH = 500


def materializations(
    instance: dg.DagsterInstance,
    asset_key: dg.AssetKey,
    *,
    after_storage_id: int | None = None,
    partitions: Sequence[str] | None = None,
) -> list[dg.EventLogRecord]:
    """Every materialization of ``asset_key`` (of ``partitions`` when given) after
    ``after_storage_id`` (exclusive; None: from the start), oldest first."""
    records: list[dg.EventLogRecord] = []
    cursor = None
    while True:
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=asset_key,
                asset_partitions=list(partitions) if partitions is not None else None,
                after_storage_id=after_storage_id,
            ),
            limit=PAGE,
            cursor=cursor,
            ascending=True,
        )
        records.extend(page.records)
        if not page.has_more:
            return records
        cursor = page.cursor


def latest_materialization(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition: str | None = None
) -> dg.EventLogRecord | None:
    """The newest materialization of ``asset_key`` (of ``partition`` when given), or None."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=asset_key, asset_partitions=[partition] if partition is not None else None
        ),
        limit=1,
    ).records
    return records[0] if records else None


def latest_storage_ids(
    instance: dg.DagsterInstance, asset_keys: Iterable[dg.AssetKey]
) -> dict[str, int]:
    """Asset key (user string) -> storage id of its newest materialization, for the keys that
    have one: a cursor that starts after everything already in the event log."""
    found = {}
    for key in asset_keys:
        record = latest_materialization(instance, key)
        if record is not None:
            found[key.to_user_string()] = record.storage_id
    return found


def materialized_partitions(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition_keys: Iterable[str]
) -> set[str]:
    """The subset of ``partition_keys`` with at least one materialization of ``asset_key``."""
    wanted = list(dict.fromkeys(str(key) for key in partition_keys))
    found: set[str] = set()
    for start in range(0, len(wanted), _PARTITION_BATCH):
        batch = wanted[start : start + _PARTITION_BATCH]
        found.update(
            record.partition_key
            for record in materializations(instance, asset_key, partitions=batch)
            if record.partition_key
        )
    return found
