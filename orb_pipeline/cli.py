"""The ``orb-pipeline`` command. Subcommands are registered by the stages that own them."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orb-pipeline", description=__doc__)
    subcommands = parser.add_subparsers(dest="command", required=True)
    demo = subcommands.add_parser("demo", help="run the whole lineage on embedded defaults")
    demo.set_defaults(handler=_demo)
    from orb_pipeline.orchestration.sweep_plan import add_plan_command
    from orb_pipeline.results.cli import add_ledger_command

    add_ledger_command(subcommands)
    add_plan_command(subcommands)
    return parser


def _demo(args: argparse.Namespace) -> int:
    from orb_pipeline.orchestration.demo import run_demo

    return run_demo()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
