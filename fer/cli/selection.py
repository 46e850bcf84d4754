"""The options fer aggregate, compare, report and clips share: which sessions, who played them, which groups."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


CALIBRATED_HELP = ("use each player's calibrated measures (valence and arousal minus their baseline, and each"
                   " emotion's shift from it) instead of the raw ones: right when the players differ between the"
                   " groups or their resting faces read as an emotion (docs/playtest.md)")
STRICT_HELP = ("stop (exit 1) at a summary.json that is not a session summary (not JSON, or missing what is"
               " aggregated) instead of skipping it with a warning naming it")


def add_sessions(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("sessions", nargs="+" if required else "*", type=Path,
                        help="summary.json files, or folders holding them at any depth (fer analyze's --out)")
    parser.add_argument("--strict", action="store_true", help=STRICT_HELP + "; and refuse sessions analysed by"
                        " different models, which are otherwise pooled with a warning")


def add_participants(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--participants", type=Path, metavar="CSV",
                        help="participants table: a participant column and any others (skill, age_band, platform,"
                             " ...), linked to sessions by its session column or by --participant-pattern"
                             " (default: none: each session's player is a participant)")
    parser.add_argument("--participant-pattern", metavar="REGEX",
                        help="finds the participant id in a session's name (its group 'participant', else the whole"
                             r" match), e.g. 'p\d+'; the same id in two builds makes their comparison paired"
                             " (default: none)")
    parser.add_argument("--where", action="append", metavar="COLUMN=VALUE",
                        help="keep only participants whose COLUMN (build, session, or the table's) is VALUE"
                             " (A,B: either; != to leave out); may be repeated (default: all)")
    parser.add_argument("--calibrated", action="store_true", help=CALIBRATED_HELP)


def load(command: str, paths: list[Path], strict: bool) -> list[dict]:
    """The session summaries under ``paths``; says how many before the work on them starts (seconds, for many)."""
    from fer.insight.summaries import SummaryError, load_summaries
    try:
        summaries = load_summaries(paths, strict=strict)
    except SummaryError as error:
        sys.exit(f"fer {command}: {error}")
    print(f"{len(summaries)} session{'' if len(summaries) == 1 else 's'} read ...", file=sys.stderr, flush=True)
    return summaries


def linked_rows(command: str, summaries: list[dict], args: argparse.Namespace) -> pd.DataFrame:
    """One row per participant and segment, with the participants table joined and --where applied."""
    from fer.insight.participants import ParticipantsError, link, read_participants, where
    from fer.insight.summaries import player_rows
    try:
        table = read_participants(args.participants) if args.participants else None
        rows = where(link(player_rows(summaries), table, args.participant_pattern), args.where or [])
    except ParticipantsError as error:
        sys.exit(f"fer {command}: {error}")
    check_models(command, rows, args.strict)
    return rows


def check_models(command: str, rows: pd.DataFrame, strict: bool) -> None:
    """Warns (or, ``strict``, stops) where the sessions were analysed by different models."""
    from fer.insight.aggregate import models_note
    _, mixed = models_note(rows)
    if mixed and strict:
        sys.exit(f"fer {command}: {mixed}; --strict refuses to pool them")
    if mixed:
        print(f"warning: {mixed}", file=sys.stderr)
