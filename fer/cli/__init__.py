"""The `fer` command; each command's arguments and body live in a module of their own (fer/cli/<command>.py).

fer serve      the TensorFlow-Serving-compatible server (tensorflow_model_server's flags and files)
fer analyze    playtest recordings -> per-frame emotions, timelines, summary and HTML report per session
fer aggregate  many session summaries -> statistics per segment and participant group, with intervals
fer compare    builds (or participant groups) -> differences per segment with effect sizes, charts, a trend
fer report     a comparison -> one self-contained HTML file for a producer, with charts and stills
fer clips      the strongest moments of sessions -> short WebM clips
fer dashboard  a local web page over those results: video with emotion lanes, annotations, charts

TensorFlow's start-up messages are left out unless --verbose is given (before or after the command).
"""
from __future__ import annotations

import argparse
import logging
import sys

from fer.cli import aggregate, analyze, clips, compare, dashboard, report, serve
from fer.cli.common import VERBOSE_HELP, HelpFormatter
from fer.tf import quiet_tensorflow

COMMANDS = (serve, analyze, aggregate, compare, report, clips, dashboard)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fer", description=__doc__, formatter_class=HelpFormatter)
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
    except KeyboardInterrupt:  # Ctrl-C before a command's own handling starts (e.g. while TensorFlow loads)
        print(f"\nfer {args.command}: interrupted", file=sys.stderr)
        sys.exit(130)
