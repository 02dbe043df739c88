"""Benchmark: how many bytes one leaderboard run adds to the Dagster event log.

Run from the repository root: ``.venv/bin/python -m benchmarks.event_log [--grid default|small]``

Stages a synthetic window (20 XNYS sessions of January 2025) on embedded resources in a temporary
directory, sweeps it (default: the original 9,747 backtests in 4 chunks), runs ``leaderboard``
(top 10, 5 curves), and prints, for the leaderboard's run only: events, the bytes of their
serialized form (what the event-log storage keeps per row: ``dg.serialize_value`` of each
``EventLogEntry``), the bytes of the materialization's metadata, and its largest entries.
Nothing is asserted: figures are printed.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import dagster as dg

from orb_pipeline_tests.sweeps.chain import SMALL_GRID, Chain, write_window


def run_bytes(instance: dg.DagsterInstance, run_id: str) -> tuple[int, int]:
    """(events, serialized bytes) of every event-log entry of ``run_id``."""
    entries = instance.all_logs(run_id)
    return len(entries), sum(len(dg.serialize_value(entry)) for entry in entries)


def metadata_sizes(instance: dg.DagsterInstance, run_id: str) -> dict[str, int]:
    """Serialized bytes of each metadata entry of the run's materializations, largest first."""
    sizes: dict[str, int] = {}
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        materialization = entry.asset_materialization
        for name, value in materialization.metadata.items():
            sizes[name] = sizes.get(name, 0) + len(dg.serialize_value(value))
    return dict(sorted(sizes.items(), key=lambda item: -item[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", choices=("default", "small"), default="default")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        write_window(root / "cache", "SPY")
        grid = SMALL_GRID if args.grid == "small" else {"chunks": 4}
        chain = Chain(
            {
                "ticker": "SPY",
                "grid": grid,
                "cache_dir": str(root / "cache"),
                "staging_dir": str(root / "staging"),
                "sqlite_path": str(root / "r.sqlite"),
            }
        )
        (root / "home").mkdir()
        with dg.instance_for_test(temp_dir=str(root / "home")) as instance:
            instance.add_dynamic_partitions("tickers", ["SPY"])
            chain.stage(instance)
            for chunk in chain.settings.chunk_keys():
                chain.sweep(instance, chunk)
            result = chain.leaderboard(instance, top=10, plotted=5)
            events, total = run_bytes(instance, result.run_id)
            sizes = metadata_sizes(instance, result.run_id)
    print(
        f"grid: {args.grid} ({chain.settings.grid().height} backtests); leaderboard top 10, 5 curves"
    )
    print(
        f"leaderboard run: {events} events, {total:,} bytes in the event log "
        f"({total / 1024:.1f} KiB)"
    )
    print(f"materialization metadata: {sum(sizes.values()):,} bytes; largest entries:")
    for name, size in list(sizes.items())[:6]:
        print(f"  {name}: {size:,} bytes")


if __name__ == "__main__":
    main()
