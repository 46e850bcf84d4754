"""Builds (or participant groups) compared per segment and measure: B minus A with a bootstrap interval,
Hedges' g, Welch's or the paired t-test and Benjamini-Hochberg q-values; with three or more groups, each one
against the one before it (a trend) and every group's estimates. Written as comparison.{csv,json,html}.

A contrast is paired where at least stats.MIN_PARTICIPANTS participants (matched by id, fer.insight.participants)
are in both groups of a segment; participants in only one are then left out of that test, and the row says so.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from fer.insight import stats
from fer.insight.aggregate import about, estimates, participant_values, records, segment_order
from fer.insight.measures import direction, measures
from fer.insight.summaries import WHOLE_SESSION

COMPARISON_SCHEMA = "fer-comparison/2"
ALPHA = 0.05
ROW_COLUMNS = ["a", "b", "segment", "measure", "design", "n_a", "n_b", "unmatched", "mean_a", "mean_b", "difference",
               "ci_low", "ci_high", "hedges_g", "g_low", "g_high", "p", "q", "significant", "direction", "small", "note"]
RENAMED = {"low": "ci_low", "high": "ci_high", "g": "hedges_g"}  # stats.Difference's fields -> the table's columns


def contrast_rows(values: pd.DataFrame, a: str, b: str, calibrated: bool = False) -> list[dict]:
    """Group ``b`` minus group ``a`` for every segment both have and every measure."""
    out = []
    side_a, side_b = values[values.group == a], values[values.group == b]
    for segment in [s for s in segment_order(values) if s in set(side_a.segment) and s in set(side_b.segment)]:
        here_a = side_a[side_a.segment == segment].set_index("participant")
        here_b = side_b[side_b.segment == segment].set_index("participant")
        both = here_a.index.intersection(here_b.index)
        paired = len(both) >= stats.MIN_PARTICIPANTS
        for measure in measures(calibrated):
            if paired:
                result = stats.compare_paired(here_a.loc[both, measure], here_b.loc[both, measure])
                unmatched = len(here_a) + len(here_b) - 2 * len(both)
            else:
                result = stats.compare_independent(here_a[measure], here_b[measure])
                unmatched = 0
            row = {RENAMED.get(k, k): v for k, v in asdict(result).items()}
            if unmatched:
                row["note"] = "; ".join(filter(None, [row["note"], f"{unmatched} participants in only one group:"
                                                                   " not in this test"]))
            out.append({"a": a, "b": b, "segment": segment, "measure": measure, **row, "unmatched": unmatched,
                        "small": min(result.n_a, result.n_b) < stats.SMALL_SAMPLE})
    return out


def compare(values: pd.DataFrame, groups: list[str], calibrated: bool = False, alpha: float = ALPHA) -> pd.DataFrame:
    """Each group against the one before it; q-values over each contrast's tests."""
    tables = []
    for a, b in zip(groups, groups[1:]):
        table = pd.DataFrame(contrast_rows(values, a, b, calibrated), columns=ROW_COLUMNS)
        table["q"] = stats.benjamini_hochberg(table.p.astype(float)) if len(table) else []
        table["significant"] = table.q.astype(float) < alpha
        table["direction"] = [direction(m, d) for m, d in zip(table.measure, table.difference)]
        tables.append(table)
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=ROW_COLUMNS)


def _number(value: float) -> str:
    return f"{abs(value):.2f}"


def _q(q: float) -> str:
    return "q < 0.001" if q < 0.001 else f"q = {q:.3f}"


def finding(row: dict, by: str | None) -> str:
    """A row in plain words: "Level 3 / boss: valence lower in build 42 than 41 by 0.49, 95% CI 0.31-0.66,
    8 vs 8 players, q < 0.001"."""
    where = "the whole session" if row["segment"] == WHOLE_SESSION else row["segment"]
    label = "build " if by == "build" else ""
    difference, low, high = row["difference"], row["ci_low"], row["ci_high"]
    if difference < 0:
        low, high = -high, -low
    players = (f"{row['n_a']} players in both (paired)" if row["design"] == "paired"
               else f"{row['n_a']} vs {row['n_b']} players")
    word = "higher" if difference > 0 else "lower"
    return (f"{where}: {row['measure']} {word} in {label}{row['b']} than {row['a']} by {_number(difference)},"
            f" 95% CI {low:.2f} to {high:.2f}, g = {row['hedges_g']:.2f}, {players}, {_q(row['q'])}"
            + (" (small sample)" if row["small"] else ""))


def findings(table: pd.DataFrame, by: str | None, most: int = 10) -> list[str]:
    """The significant rows in plain words, largest effect first."""
    chosen = table[table.significant].copy()
    chosen["size"] = chosen.hedges_g.abs()
    return [finding(row, by) for row in chosen.sort_values("size", ascending=False).head(most).to_dict("records")]


def side_warnings(sides: list[tuple[str, list[dict]]]) -> list[str]:
    """Where a folder given as one build holds sessions labelled with another, or both sides hold the same."""
    out = []
    for group, mine in sides:
        labels = sorted({str(s.get("build")) for s in mine if s.get("build") is not None and str(s.get("build")) != group})
        if labels:
            out.append(f"sessions given as {group} are labelled build {', '.join(labels)} in their summaries")
    names = [frozenset(s["session"] for s in mine) for _, mine in sides]
    if len(names) == 2 and names[0] & names[1]:
        out.append(f"{len(names[0] & names[1])} sessions are on both sides ({', '.join(sorted(names[0] & names[1])[:5])})")
    return out


def untested_note(table: pd.DataFrame) -> str | None:
    """What to say when a comparison could test nothing."""
    if table.p.notna().any():
        return None
    return (f"nothing could be tested: each group needs at least {stats.MIN_PARTICIPANTS} participants with faces in"
            " a segment both have, with values that vary")


def side_rows(sides: dict[str, list[dict]], table: pd.DataFrame | None = None, pattern: str | None = None
              ) -> tuple[list[dict], pd.DataFrame]:
    """Sessions given as named sides (a folder a build): every summary, and their linked rows with ``group``."""
    from fer.insight.participants import link
    from fer.insight.summaries import player_rows
    rows = [link(player_rows(mine), table, pattern).assign(group=name) for name, mine in sides.items()]
    return [s for mine in sides.values() for s in mine], pd.concat(rows, ignore_index=True)


def write_comparison(summaries: list[dict], rows: pd.DataFrame, out_dir: Path, groups: list[str],
                     by: str | None = "build", calibrated: bool = False, warnings: list[str] | None = None
                     ) -> pd.DataFrame:
    """comparison.csv, .json (schema COMPARISON_SCHEMA) and .html of ``rows`` (linked, with a ``group`` column)."""
    from fer.insight.report import comparison_page  # matplotlib, only when writing
    values = participant_values(rows, calibrated)
    table = compare(values, groups, calibrated)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "comparison.csv", index=False, float_format="%.5f")
    base = about(summaries, rows, by, groups, calibrated)
    base["warnings"] = [*(warnings or []), *base["warnings"]]
    content = {"schema": COMPARISON_SCHEMA, **base,
               "contrasts": [{"a": a, "b": b} for a, b in zip(groups, groups[1:])],
               "tested": int(table.p.notna().sum()), "significant_count": int(table.significant.sum()),
               "note": untested_note(table), "findings": findings(table, by), "alpha": ALPHA,
               "rows": records(table.replace({np.nan: None})),
               "estimates": records(estimates(values, groups, calibrated)),
               "participant_values": records(values)}
    (out_dir / "comparison.json").write_text(json.dumps(content, indent=1) + "\n")
    (out_dir / "comparison.html").write_text(comparison_page(content))
    return table
