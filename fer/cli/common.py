"""What every command's parser shares: the help formatter, checked numbers, --verbose."""
from __future__ import annotations

import argparse
import math

from fer.tf import QUIET_TF_LOG_LEVEL

# The values a numeric option may take; any other is a usage error naming the option. Every number must also be finite.
ALLOWED = {"positive": lambda value: value > 0, "non-negative": lambda value: value >= 0, "any": lambda value: True}

VERBOSE_HELP = ("show TensorFlow's start-up messages (oneDNN, CUDA, cuInit) and its warnings; without it"
                " TF_CPP_MIN_LOG_LEVEL is set to " + QUIET_TF_LOG_LEVEL + " unless already set (default: off)")


def number_in(kind: type, allowed: str):
    """An argparse ``type`` reading a finite ``kind`` (int or float) that is ``allowed`` (a key of ALLOWED)."""
    what = f"{'' if allowed == 'any' else allowed + ' '}{'whole ' if kind is int else ''}number"

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a {what}, not {text!r}") from None
        if not (math.isfinite(value) and ALLOWED[allowed](value)):
            raise argparse.ArgumentTypeError(f"must be a {what}, not {text!r}")
        return value

    return parse


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written; every option's help ends with its default, unless the help already says it
    (a default of None is spelt out in the help itself) or the option is required."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (not action.option_strings or action.required or action.default is argparse.SUPPRESS
                or "%(default)" in text or "(default:" in text):
            return text
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            return text + (" (default: on)" if action.default else " (default: off)")
        return text + " (default: %(default)s)"


def add_command(commands, name: str, summary: str) -> argparse.ArgumentParser:
    """A subcommand's parser, with --verbose."""
    parser = commands.add_parser(name, help=summary, description=summary, formatter_class=HelpFormatter)
    # SUPPRESS: the subcommand sets `verbose` only when given, so `fer --verbose analyze` keeps the main parser's
    parser.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    return parser
