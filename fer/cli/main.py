"""`fer`: builds the parser from each command module's add_parser() and runs the command chosen."""
from __future__ import annotations

import argparse
import logging
import sys

import fer.cli
from fer.cli import aggregate, analyze, clips, compare, dashboard, report, serve
from fer.cli.common import VERBOSE_HELP, HelpFormatter
from fer.tf import quiet_tensorflow

COMMANDS = (serve, analyze, aggregate, compare, report, clips, dashboard)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fer", description=fer.cli.__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--verbose", action="store_true", default=False, help=VERBOSE_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    quiet_tensorflow(args.verbose)  # before anything imports TensorFlow
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        args.run(args)
    except KeyboardInterrupt:  # Ctrl-C before a command's own handling starts (e.g. while the model loads)
        _interrupted(args.command)
    except ImportError as error:
        if not isinstance(error.__cause__, KeyboardInterrupt):
            raise
        _interrupted(args.command)  # Ctrl-C inside a C extension's initialisation: pybind11 reports ImportError


def _interrupted(command: str) -> None:
    print(f"\nfer {command}: interrupted", file=sys.stderr)
    sys.exit(130)
