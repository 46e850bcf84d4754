"""fer clips: the strongest moments of sessions -> short WebM clips (face-cam, and gameplay where attached)."""
from __future__ import annotations

import argparse
from pathlib import Path

from fer.cli.common import add_command, number_in
from fer.cli.selection import add_sessions, load


def run(args: argparse.Namespace) -> None:
    from fer.insight.clips import export_clips, strongest_moments
    summaries = load("clips", args.sessions, args.strict)
    moments = strongest_moments(summaries, args.moments)
    print(f"{len(moments)} strongest moments of {len(summaries)} sessions -> {args.out}", flush=True)
    written = []
    for number, moment in enumerate(moments, start=1):
        files = export_clips([moment], args.out, args.seconds)
        written += files
        print(f"{number} of {len(moments)}: {moment['session']} at {moment['time_s']:.1f} s ({moment['emotion']}"
              f" {moment['probability']:.2f}): {', '.join(f.name for f in files) or 'no recording found'}", flush=True)
    print(f"{len(written)} clips -> {args.out}")


def add_parser(commands) -> None:
    parser = add_command(commands, "clips", "the strongest moments of sessions -> short WebM clips")
    add_sessions(parser)
    parser.add_argument("--moments", type=number_in(int, "positive"), default=5,
                        help="how many strongest moments, over all the sessions given")
    parser.add_argument("--seconds", type=number_in(float, "positive"), default=4.0,
                        help="each clip's length, centred on its moment")
    parser.add_argument("--out", type=Path, default=Path("playtest_clips"), help="folder for the clips")
    parser.set_defaults(run=run)
