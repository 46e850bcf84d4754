"""fer compare: builds (or participant groups) compared per segment: differences with intervals and effect
sizes, significance over all tests, charts, and a trend over three or more groups."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING


from fer.cli.common import add_command
from fer.cli.selection import add_participants, add_sessions, check_models, linked_rows, load

if TYPE_CHECKING:
    import pandas as pd


def _own_build(summaries: list[dict], fallback: str) -> str:
    builds = {str(s["build"]) for s in summaries if s.get("build") is not None}
    return builds.pop() if len(builds) == 1 else fallback


def sides(args: argparse.Namespace) -> tuple[list[dict], pd.DataFrame, list[str], list[str]]:
    """The summaries, their rows with a ``group`` column, the groups in order and warnings about the input."""
    from fer.insight.participants import ParticipantsError, group_order, grouped, read_participants, where
    if args.a or args.b:
        if not (args.a and args.b) or args.sessions:
            sys.exit("fer compare: give --a and --b (a folder each), or SESSIONS with --by, not both")
        loaded = [load("compare", paths, args.strict) for paths in (args.a, args.b)]
        from fer.insight.compare import side_rows, side_warnings  # scipy: after the first line
        names = [args.name_a or _own_build(loaded[0], "A"), args.name_b or _own_build(loaded[1], "B")]
        warnings = side_warnings(list(zip(names, loaded)))
        if names[0] == names[1]:
            names = [f"{names[0]} (A)", f"{names[1]} (B)"]
        try:
            table = read_participants(args.participants) if args.participants else None
            summaries, rows = side_rows(dict(zip(names, loaded)), table, args.participant_pattern)
            rows = where(rows, args.where or [])
        except ParticipantsError as error:
            sys.exit(f"fer compare: {error}")
        check_models("compare", rows, args.strict)
        return summaries, rows, names, warnings
    if not args.sessions:
        sys.exit("fer compare: give SESSIONS (grouped by --by, default build) or --a and --b")
    summaries = load("compare", args.sessions, args.strict)
    try:
        rows = grouped(linked_rows("compare", summaries, args), args.by)
        groups = group_order(rows.group, args.order)
    except ParticipantsError as error:
        sys.exit(f"fer compare: {error}")
    if len(groups) < 2:
        sys.exit(f"fer compare: the sessions hold one {args.by} ({', '.join(groups)}): nothing to compare"
                 " (label builds with fer analyze --build, or give --by another column)")
    return summaries, rows[rows.group.isin(groups)], groups, []


def run(args: argparse.Namespace) -> None:
    summaries, rows, groups, warnings = sides(args)
    from fer.insight.compare import findings, untested_note, write_comparison  # scipy: after the first line
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    by = "build" if args.a else args.by
    table = write_comparison(summaries, rows, args.out, groups, by, args.calibrated, warnings)
    for line in findings(table, by):
        print(line)
    print(f"{int(table.significant.sum())} significant differences of {int(table.p.notna().sum())} tested,"
          f" {' -> '.join(groups)} -> {args.out}/comparison.{{csv,json,html}}")
    note = untested_note(table)
    if note:
        print(note)


def add_parser(commands) -> None:
    parser = add_command(commands, "compare", "builds or participant groups compared per segment, with a trend")
    add_sessions(parser, required=False)
    add_participants(parser)
    parser.add_argument("--by", default="build", metavar="COLUMN",
                        help="the groups compared: build, or any column of --participants (skill, platform, ...);"
                             " three or more are compared each with the one before (a trend)")
    parser.add_argument("--order", type=lambda text: text.split(","), metavar="G1,G2,...",
                        help="the groups' order (default: natural order of their names: build 9 before 10)")
    parser.add_argument("--a", nargs="+", type=Path, help="instead of SESSIONS: build A's summary.json files or"
                        " folders (default: none)")
    parser.add_argument("--b", nargs="+", type=Path, help="with --a: build B's (default: none)")
    parser.add_argument("--name-a", help="with --a: build A's name (default: the build its sessions are labelled"
                        " with, else A)")
    parser.add_argument("--name-b", help="with --b: build B's name (default: as --name-a, else B)")
    parser.add_argument("--out", type=Path, default=Path("playtest_comparison"),
                        help="folder for comparison.csv, comparison.json and comparison.html")
    parser.set_defaults(run=run)
