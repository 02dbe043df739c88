"""Benchmark: Dagster events and seconds of the data stages per ticker-year.

Run from the repository root::

    .venv/bin/python -m benchmarks.data_partitions [--tickers 1] [--first 2025-01-02] [--last 2025-12-31]
    ORB_DATA_PERIOD=month .venv/bin/python -m benchmarks.data_partitions   # the month alternative

Generates (once, reused from ``--warehouse-dir``) the embedded demo warehouse for the first
``--tickers`` of the demo universe over the window, then materializes ``cached_bars``,
``compressed_series`` and ``opening_ranges`` for every ticker and session of the window in one
rectangle run on a temporary instance with SQLite storage (the embedded default). Prints the run's
events by type (counted through ``instance.get_records_for_run``), the events and seconds per
ticker-year, and the partitions per asset a universe of 500 tickers x 10 years needs.

Only ``rectangle_run_request`` / ``materialize_requests`` and the three assets are used, so the
same file measures an older checkout too (``PYTHONPATH=<checkout>``), e.g. the session x ticker
design this one replaced.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

UNIVERSE = ("SPY", "QQQ", "IWM", "DIA", "XLF", "XLK", "XLE", "TLT", "GLD", "EEM")


def event_counts(instance, run_id: str) -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    cursor = None
    while True:
        page = instance.get_records_for_run(run_id, cursor=cursor, limit=5000)
        counts.update(str(r.event_log_entry.dagster_event_type or "LOG") for r in page.records)
        if not page.has_more:
            return counts
        cursor = page.cursor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", type=int, default=1, help=f"1..{len(UNIVERSE)}")
    parser.add_argument("--first", default="2025-01-02")
    parser.add_argument("--last", default="2025-12-31")
    parser.add_argument("--warehouse-dir", default=os.path.join(tempfile.gettempdir(), "orb_bench"))
    args = parser.parse_args(argv)
    tickers = UNIVERSE[: max(1, min(len(UNIVERSE), args.tickers))]

    os.environ.setdefault("ORB_FIRST_SESSION", args.first)
    import dagster as dg

    from orb_pipeline import partitions
    from orb_pipeline.bars.assets import cached_bars
    from orb_pipeline.calendar import session_table
    from orb_pipeline.ranges.assets import opening_ranges
    from orb_pipeline.series.assets import compressed_series
    from orb_pipeline.warehouse.demo import build_demo_warehouse

    try:
        from orb_pipeline.core.cache_store import CacheStore
        from orb_pipeline.warehouse.resource import SqliteWarehouse
    except ImportError:  # an older checkout, before the renames
        from orb_pipeline.storage import ParquetStore as CacheStore

        from orb_pipeline.warehouse.resource import SQLiteWarehouse as SqliteWarehouse

    sessions = session_table(args.first, args.last).height
    ticker_years = len(tickers) * sessions / 252
    path = Path(args.warehouse_dir) / f"warehouse-{len(tickers)}-{args.first}-{args.last}.sqlite"
    if not path.exists():
        start = time.perf_counter()
        rows = build_demo_warehouse(
            path, tickers=tickers, first_session=args.first, last_session=args.last
        )
        print(f"built {path} ({rows:,} rows) in {time.perf_counter() - start:.1f} s")
    warehouse = SqliteWarehouse(path=str(path), build_demo_if_missing=False)
    design = (
        f"(period={partitions.DATA_PERIOD}, ticker)"
        if hasattr(partitions, "DATA_PERIOD")
        else "(session, ticker)"
    )
    print(
        f"data stages, partitions {design}: {len(tickers)} ticker(s) x {sessions} sessions "
        f"({args.first}..{args.last}) = {ticker_years:.2f} ticker-years, one rectangle run"
    )
    with tempfile.TemporaryDirectory() as scratch, dg.instance_for_test(temp_dir=scratch) as inst:
        inst.add_dynamic_partitions("tickers", list(tickers))
        request = partitions.rectangle_run_request(args.first, args.last, list(tickers))
        start, cpu_start = time.perf_counter(), time.process_time()
        [result] = partitions.materialize_requests(
            [request],
            assets=[cached_bars, compressed_series, opening_ranges],
            resources={"warehouse": warehouse, "cache": CacheStore(url=f"{scratch}/cache")},
            instance=inst,
        )
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        if not result.success:
            raise SystemExit("the data run failed")
        counts = event_counts(inst, result.run_id)
    total = sum(counts.values())
    for name, count in counts.most_common():
        print(f"  {name:36s} {count:7,d}")
    print(f"  {'all events':36s} {total:7,d}")
    print(
        f"events per ticker-year: {total / ticker_years:,.0f}; wall {seconds:.1f} s "
        f"({seconds / ticker_years:.1f} s per ticker-year), CPU of this process {cpu:.1f} s "
        f"({cpu / ticker_years:.1f} s per ticker-year; wall exceeds CPU when other work shares "
        "the cores)"
    )
    if hasattr(partitions, "DATA_PERIOD"):
        per_ten_years = 10 if partitions.DATA_PERIOD == "year" else 120
    else:
        per_ten_years = len(partitions.weekdays(dt.date(2015, 1, 1), dt.date(2024, 12, 31)))
    print(f"partitions per asset for 500 tickers x 10 years: {500 * per_ten_years:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
