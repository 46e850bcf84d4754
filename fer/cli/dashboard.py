"""fer dashboard: a local web page over analysis results: video with emotion lanes, annotations, charts."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fer.cli.common import add_command, number_in
from fer.dashboard.address import DEFAULT_HOST, DEFAULT_PORT


def run(args: argparse.Namespace) -> None:
    from fer.dashboard.server import DashboardOptions, UsageError, serve  # no TensorFlow behind it
    missing = [str(path) for path in args.results if not path.exists()]
    if missing:
        sys.exit(f"fer dashboard: no such folder or file: {', '.join(missing)}")
    try:
        serve(args.results, DashboardOptions(args.host, args.port, args.token))
    except UsageError as error:
        sys.exit(f"fer dashboard: {error}")


def add_parser(commands) -> None:
    dashboard = add_command(commands, "dashboard", "review sessions in the browser: video, emotion lanes, annotations")
    dashboard.add_argument("results", nargs="+", type=Path,
                           help="`fer analyze` --out folders (or session folders), `fer aggregate`/`fer compare`"
                                " output folders")
    dashboard.add_argument("--host", default=DEFAULT_HOST,
                           help="address to listen on; any other than loopback needs --token")
    dashboard.add_argument("--port", type=number_in(int, "non-negative"), default=DEFAULT_PORT,
                           help="port to listen on (0: any free one, printed at start)")
    dashboard.add_argument("--token", help="secret every request must carry (open the page with ?token=SECRET);"
                           " required with a --host other than loopback (default: none)")
    dashboard.set_defaults(run=run)
