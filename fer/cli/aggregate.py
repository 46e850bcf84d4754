"""fer aggregate: session summaries -> each participant group's statistics per segment."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fer.cli.common import add_command
from fer.cli.selection import add_participants, add_sessions, linked_rows, load


def run(args: argparse.Namespace) -> None:
    summaries = load("aggregate", args.sessions, args.strict)
    from fer.insight.aggregate import write_aggregate  # scipy: after the first line
    from fer.insight.participants import ParticipantsError, group_order, grouped
    rows = linked_rows("aggregate", summaries, args)
    groups = None
    if args.by:
        try:
            rows = grouped(rows, args.by)
            groups = group_order(rows.group, args.order)
        except ParticipantsError as error:
            sys.exit(f"fer aggregate: {error}")
    table = write_aggregate(summaries, args.out, rows, args.by, groups, args.calibrated)
    print(f"{table.segment.nunique()} segments, {rows.participant.nunique()} participants of {len(summaries)} sessions"
          f"{f' in {len(groups)} groups by {args.by}' if groups else ''} -> {args.out}/aggregate.{{csv,json,html}}")
    if table.n.sum() == 0:
        print("no face was seen in any of the sessions: nothing to aggregate")


def add_parser(commands) -> None:
    parser = add_command(commands, "aggregate", "session summaries -> per-segment statistics over participants")
    add_sessions(parser)
    add_participants(parser)
    parser.add_argument("--by", metavar="COLUMN", help="one set of statistics per value of COLUMN (build, or a"
                        " participants table's column) (default: none: all participants together)")
    parser.add_argument("--order", type=lambda text: text.split(","), metavar="G1,G2,...",
                        help="the groups' order (default: natural order of their names)")
    parser.add_argument("--out", type=Path, default=Path("playtest_aggregate"),
                        help="folder for aggregate.csv, aggregate.json and aggregate.html")
    parser.set_defaults(run=run)
