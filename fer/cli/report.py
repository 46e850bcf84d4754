"""fer report: a comparison -> one self-contained HTML file for a producer (findings in plain words, charts,
the strongest moments with stills), and each chart as PNG and SVG."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fer.cli.common import add_command, number_in


def read_comparison(command: str, path: Path) -> dict:
    """comparison.json (or the folder holding it) of fer compare; exits naming the file if it is not one."""
    from fer.insight.compare import COMPARISON_SCHEMA
    file = path / "comparison.json" if path.is_dir() else path
    try:
        content = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        sys.exit(f"fer {command}: {file}: not a readable comparison.json: {error}")
    if not isinstance(content, dict) or content.get("schema") != COMPARISON_SCHEMA:
        sys.exit(f"fer {command}: {file}: not a comparison of schema {COMPARISON_SCHEMA} (run fer compare again)")
    return content


def compared_summaries(content: dict) -> list[dict]:
    """The summaries a comparison was made from, where they still are."""
    from fer.insight.summaries import SummaryError, load_summaries
    files = [Path(f) for f in content.get("summary_files", {}).values() if f and Path(f).is_file()]
    try:
        return load_summaries(files) if files else []
    except SummaryError:
        return []


def run(args: argparse.Namespace) -> None:
    from fer.insight.clips import strongest_moments, with_stills
    from fer.insight.report import write_report
    content = read_comparison("report", args.comparison)
    print(f"report of {' vs '.join(content['groups'])}: {content['sessions']} sessions, charts and"
          f" {args.moments} strongest moments", flush=True)
    summaries = compared_summaries(content)
    if len(summaries) < content["sessions"]:
        print(f"warning: {content['sessions'] - len(summaries)} of the compared sessions' summaries are no longer"
              " where they were: their moments are left out", file=sys.stderr)
    moments = with_stills(strongest_moments(summaries, args.moments))
    out = args.out
    written = write_report(content, moments, out, out.parent / f"{out.stem}_charts")
    print(f"{out} ({out.stat().st_size // 1024} KiB, opens offline) and {len(written) - 1} chart files in"
          f" {out.parent / f'{out.stem}_charts'}")


def add_parser(commands) -> None:
    parser = add_command(commands, "report", "a comparison -> one HTML file for a producer, charts as PNG/SVG")
    parser.add_argument("comparison", type=Path, help="fer compare's --out folder, or its comparison.json")
    parser.add_argument("--out", type=Path, default=Path("playtest_report.html"),
                        help="the report; its charts go to <name>_charts/ beside it")
    parser.add_argument("--moments", type=number_in(int, "non-negative"), default=6,
                        help="how many strongest moments (over all sessions) the report shows, with stills")
    parser.set_defaults(run=run)
