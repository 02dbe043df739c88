"""Progress lines of long commands: elapsed seconds, and partitions materialized while a run works."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import dagster as dg

from orb_pipeline.core.event_log import latest_storage_ids, materializations


class Progress:
    """Writes ``[  12.3s] message`` lines, seconds since the command started."""

    def __init__(self, write: Callable[[str], None]):
        self.write = write
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        self.write(f"[{time.perf_counter() - self.started:6.1f}s] {message}")


class MaterializationWatcher:
    """Prints, every ``every`` seconds while a long run works, how many partitions of each asset
    it has materialized so far (read from the instance's event log, like the UI does)."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        asset_keys: Sequence[dg.AssetKey],
        total: int,
        progress: Progress,
        every: float = 10.0,
    ):
        self.instance, self.asset_keys, self.total = instance, list(asset_keys), total
        self.progress, self.every = progress, every
        self.start = latest_storage_ids(instance, self.asset_keys)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _count(self, key: dg.AssetKey) -> int:
        records = materializations(
            self.instance, key, after_storage_id=self.start.get(key.to_user_string())
        )
        return len({record.partition_key for record in records})

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            try:
                counts = ", ".join(
                    f"{key.to_user_string()} {self._count(key)}/{self.total}"
                    for key in self.asset_keys
                )
            except Exception:  # progress is best effort; the run itself reports real errors
                continue
            self.progress(f"  ... materialized so far: {counts}")

    def __enter__(self) -> MaterializationWatcher:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
