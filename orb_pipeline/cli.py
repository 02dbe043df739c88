"""The ``orb-pipeline`` command. Subcommands are registered by the stages that own them."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = (
    "Opening-range-breakout backtests on intraday data, orchestrated by Dagster. "
    "Start with `orb-pipeline demo`; `dagster dev -w workspace.yaml` shows its runs."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orb-pipeline", description=DESCRIPTION)
    subcommands = parser.add_subparsers(dest="command", required=True)
    demo = subcommands.add_parser(
        "demo",
        help="run the whole lineage on embedded defaults (3 tickers x 63 sessions, or a universe)",
        description="Warehouse -> bars -> ranges -> series -> staging -> sweeps -> leaderboard "
        "-> validation on the Dagster instance in $DAGSTER_HOME; prints seconds, runs and "
        "Dagster events per phase and ends with `total: <seconds> s`.",
    )
    demo.add_argument(
        "--universe",
        type=int,
        metavar="N",
        help="the first N tickers of a fixed list (SPY, QQQ, IWM, DIA, XLF, ...; up to 30) "
        "instead of the 3 demo tickers",
    )
    demo.add_argument("--first-session", metavar="YYYY-MM-DD", help="default 2025-09-02")
    demo.add_argument("--last-session", metavar="YYYY-MM-DD", help="default 2025-11-28")
    demo.set_defaults(handler=_demo)
    from orb_pipeline.orchestration.ledger_command import add_ledger_command
    from orb_pipeline.orchestration.sweep_plan import add_plan_command
    from orb_pipeline.warehouse.cli import add_load_warehouse_command

    add_ledger_command(subcommands)
    add_load_warehouse_command(subcommands)
    add_plan_command(subcommands)
    return parser


def _demo(args: argparse.Namespace) -> int:
    from orb_pipeline.orchestration.demo import run_demo

    return run_demo(
        universe=args.universe, first_session=args.first_session, last_session=args.last_session
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["demo"]:
        # Before the parsers: building them imports the engine, which fixes numba's cache.
        from orb_pipeline.orchestration.demo_setup import choose_numba_cache

        choose_numba_cache()
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
