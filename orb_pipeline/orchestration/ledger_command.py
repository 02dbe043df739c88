"""``orb-pipeline ledger BACKTEST_ID``: regenerate a stored backtest's trade ledger and its plot."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_ledger_command(subcommands) -> None:
    ledger = subcommands.add_parser(
        "ledger",
        help="regenerate the trade ledger of a backtest_id from cached data and plot it",
        description=(
            "Looks BACKTEST_ID up in the results store (ORB_RESULTS...), recomputes its trades "
            "from the Parquet cache (ORB_CACHE_URL) over the backtest's window, checks they add up "
            "to the stored profit, and writes the ledger <id>.csv and its picture <id>.png (equity "
            "curve against the underlying's move) through the cache store under "
            "artifacts/<ticker>/<window>/engine-<version>/ledgers/ (S3 in production), printing "
            "where they are and a link to open them."
        ),
    )
    ledger.add_argument("backtest_id")
    ledger.add_argument(
        "--output",
        type=Path,
        default=None,
        help="also copy the CSV and PNG into this local directory",
    )
    ledger.set_defaults(handler=run_ledger)


def run_ledger(args: argparse.Namespace) -> int:
    from orb_pipeline.resources import resources
    from orb_pipeline.results import display
    from orb_pipeline.results.ledgers import LedgerError, regenerate_ledger, write_ledger_outputs
    from orb_pipeline.results.resource import ResultsStoreError

    chosen = resources()
    results = chosen["results"].process_config_and_initialize()
    cache = chosen["cache"].process_config_and_initialize()
    try:
        regenerated = regenerate_ledger(results, cache, args.backtest_id)
    except (LedgerError, LookupError, ValueError, ResultsStoreError) as error:
        print(f"orb-pipeline ledger: {error}", file=sys.stderr)
        return 1
    finally:
        results.dispose()
    ledger_file, picture_file = write_ledger_outputs(regenerated, cache, args.output)
    row = regenerated.row
    print(
        f"backtest {row['backtest_id']}: {row['ticker']} {row['window_start']}.."
        f"{row['window_end']}, {display.parameters_text(row)}"
    )
    if regenerated.data_version != row["data_version"]:
        print(
            f"note: the cached data changed since the sweep (data version {row['data_version']} "
            f"-> {regenerated.data_version}); this ledger is on the current data"
        )
    print(display.trade_stats_text(regenerated.stats))
    print(f"ledger: {ledger_file.location}\nplot:   {picture_file.location}")
    if ledger_file.link != ledger_file.location:
        print(f"open:   {ledger_file.link}\n        {picture_file.link}")
    if args.output:
        print(f"copies: {args.output}")
    return 0
