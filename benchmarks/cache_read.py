"""Benchmark: what verifying every cache file's recorded SHA-256 costs when a window is read.

Run from the repository root: ``.venv/bin/python -m benchmarks.cache_read [--sessions 252]
[--ticks 12000] [--repeat 5]``

Writes a ticker-year of compressed-series files through ``CacheStore`` (local directory, each with
its recorded digest) and reads the window back side by side in one process, best of ``--repeat``:
- ``read_window`` as the sweeps use it (every file checked against its recorded digest);
- the same ``read_window`` on a store whose ``read_bytes`` returns the file's bytes unchecked (the
  read path before digests were recorded).
Nothing is asserted: figures are printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from orb_pipeline.core.cache_store import SERIES_PREFIX, CacheStore, partition_path
from orb_pipeline.series import read_window
from orb_pipeline_tests.staging.window_data import make_window, write_cached_window


class UncheckedStore(CacheStore):
    """The read path before digests were recorded: the file's bytes, nothing compared."""

    def read_bytes(self, path: str) -> bytes:
        return (Path(self.url) / path).read_bytes()


def best(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=252)
    parser.add_argument("--ticks", type=int, default=12_000, help="ticks per session (<= 12,601)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    series, sessions = make_window(args.sessions, args.ticks, start=dt.date(2024, 1, 2))
    first, last = sessions["session_date"].min(), sessions["session_date"].max()
    with tempfile.TemporaryDirectory() as directory:
        store = CacheStore(url=directory)
        write_cached_window(store, "BENCH", series, sessions)
        paths = [
            partition_path(SERIES_PREFIX, "BENCH", day.isoformat())
            for day in sessions["session_date"]
        ]
        megabytes = sum((Path(directory) / p).stat().st_size for p in paths) / 1e6
        unchecked = UncheckedStore(url=directory)
        verified = best(lambda: read_window(store, "BENCH", first, last), args.repeat)
        plain = best(lambda: read_window(unchecked, "BENCH", first, last), args.repeat)
    print(
        f"window of {args.sessions} sessions x {args.ticks:,} ticks ({series.height:,} rows, "
        f"{megabytes:.1f} MB of Parquet), best of {args.repeat}:"
    )
    print(f"  read_window, digests verified:  {verified:.3f} s")
    print(f"  read_window, no digest check:   {plain:.3f} s")
    print(f"  verification cost: {verified - plain:+.3f} s ({verified / plain:.2f}x)")


if __name__ == "__main__":
    main()
