"""Across sessions: statistics per segment with confidence intervals, and A/B comparison of two builds.

The unit is a player in a session (one row per player and segment). Means come with 95% Student-t
confidence intervals; builds are compared with Welch's t-test per segment and measure, and the
Benjamini-Hochberg procedure controls the false discovery rate over all of those tests, so a flagged
difference is unlikely to be one of the many chance differences that so many comparisons produce.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from fer.contract import CLASS_NAMES
from fer.playtest import report
from fer.playtest.annotations import AnnotationsError, annotations_path, read_annotations

log = logging.getLogger(__name__)
# Raw measures: valence, arousal, face visible, attention and each emotion's share of time. Calibrated ones
# (fer.playtest.calibration): valence and arousal minus the player's baseline, and each emotion's shift
# (its mean probability minus the baseline's); face visible and attention have no baseline.
MEASURES = ["valence", "arousal", "face_visible_ratio", "attention", *CLASS_NAMES]
CALIBRATED_MEASURES = ["valence_calibrated", "arousal_calibrated", "face_visible_ratio", "attention",
                       *(f"{e}_shift" for e in CLASS_NAMES)]


def measures(calibrated: bool) -> list[str]:
    return CALIBRATED_MEASURES if calibrated else MEASURES
WHOLE_SESSION = "(whole session)"
MIN_PLAYERS = 2  # per build and segment: Welch's t-test needs two values on each side
UNTESTED = (f"nothing could be tested: each build needs at least {MIN_PLAYERS} players with faces in a segment that"
            " both builds have, with values that vary")


class SummaryError(ValueError):
    """No usable summary, or (strictly read) one that is not a session summary; the message names the file."""


def summary_files(paths: list[Path]) -> list[Path]:
    """The files given, and the summary.json files at any depth of the folders given, except in hidden folders
    (such as those of sessions still being written)."""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(f for f in path.rglob("summary.json")
                            if not any(part.startswith(".") for part in f.relative_to(path).parts))
        else:
            files.append(path)
    return files


def read_summary(file: Path) -> dict:
    """A session summary; SummaryError naming the file if it is not JSON or lacks what player_rows uses."""
    try:
        summary = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SummaryError(f"{file}: not a readable JSON file: {error}") from None
    try:
        summary["session"], player_rows([summary])
    except (KeyError, TypeError, AttributeError) as error:
        what = f"no {error}" if isinstance(error, KeyError) else str(error)
        raise SummaryError(f"{file}: not a session summary ({what})") from None
    return summary


def load_summaries(paths: list[Path], strict: bool = False) -> list[dict]:
    """summary.json files, or folders holding them at any depth. One that is not a session summary is
    skipped with a warning naming it, or, if ``strict``, raises SummaryError; so does finding none usable."""
    files, summaries = summary_files(paths), []
    for file in files:
        try:
            summaries.append(with_annotations(read_summary(file), file))
        except SummaryError as error:
            if strict:
                raise
            log.warning("%s; skipped", error)
    if not summaries:
        skipped = f" ({len(files)} found, none usable: see the warnings)" if files else ""
        raise SummaryError(f"no session summary.json under {', '.join(map(str, paths))}{skipped}")
    return summaries


def with_annotations(summary: dict, file: Path) -> dict:
    """The summary with its session's researchers' annotations (fer.playtest.annotations) as ``annotations``."""
    try:
        summary["annotations"] = read_annotations(annotations_path(file.parent))
    except AnnotationsError as error:
        log.warning("%s; its annotations are left out", error)
        summary["annotations"] = []
    return summary


def annotation_rows(summaries: list[dict]) -> list[dict]:
    """Every annotation of the sessions, with its session and the segments its time falls in."""
    rows = []
    for summary in summaries:
        for note in summary.get("annotations", []):
            inside = [s["segment"] for s in summary.get("segments", []) if s["start_s"] <= note["time_s"] < s["end_s"]]
            rows.append({"session": summary["session"], "time_s": note["time_s"], "kind": note["kind"],
                         "text": note["text"], "segments": ", ".join(inside)})
    return rows


def player_rows(summaries: list[dict]) -> pd.DataFrame:
    """One row per session, player and segment (including the whole session), with every measure, raw and
    calibrated (a summary written before calibration has none: those are empty)."""
    rows = []
    for summary in summaries:
        for player, player_stats in summary["per_player"].items():
            for segment in [{"segment": WHOLE_SESSION, **player_stats}, *player_stats["segments"]]:
                if segment["face_frames"] == 0:
                    continue
                shift = segment.get("emotion_shift") or {}
                rows.append({"session": summary["session"], "build": summary.get("build"), "player": player,
                             "segment": segment["segment"], "valence": segment["valence"],
                             "arousal": segment["arousal"], "face_visible_ratio": segment["face_visible_ratio"],
                             "attention": segment.get("attention"), **segment["emotion_share"],
                             "valence_calibrated": segment.get("valence_calibrated"),
                             "arousal_calibrated": segment.get("arousal_calibrated"),
                             **{f"{e}_shift": shift.get(e) for e in CLASS_NAMES}})
    columns = ["session", "build", "player", "segment", *dict.fromkeys(MEASURES + CALIBRATED_MEASURES)]
    return pd.DataFrame(rows, columns=columns).astype({m: float for m in dict.fromkeys(MEASURES + CALIBRATED_MEASURES)})


def _mean_ci(values: pd.Series) -> tuple[float, float, float]:
    values = values.dropna()
    mean = float(values.mean()) if len(values) else np.nan
    if len(values) < 2:
        return mean, np.nan, np.nan
    half = float(stats.sem(values) * stats.t.ppf(0.975, len(values) - 1))
    return mean, mean - half, mean + half


def aggregate(rows: pd.DataFrame, calibrated: bool = False) -> pd.DataFrame:
    """Per segment and measure (raw, or calibrated): number of players, mean and its 95% confidence interval."""
    out = []
    for segment, group in rows.groupby("segment", sort=False):
        for measure in measures(calibrated):
            mean, low, high = _mean_ci(group[measure])
            out.append({"segment": segment, "measure": measure, "n": int(group[measure].notna().sum()),
                        "mean": mean, "ci_low": low, "ci_high": high})
    return pd.DataFrame(out, columns=["segment", "measure", "n", "mean", "ci_low", "ci_high"])


def compare(rows_a: pd.DataFrame, rows_b: pd.DataFrame, alpha: float = 0.05, calibrated: bool = False
            ) -> pd.DataFrame:
    """Build B minus build A per segment and measure (raw, or calibrated), Welch's t-test, Benjamini-Hochberg
    q-values."""
    out = []
    for segment in [s for s in rows_a.segment.unique() if s in set(rows_b.segment)]:
        a, b = rows_a[rows_a.segment == segment], rows_b[rows_b.segment == segment]
        for measure in measures(calibrated):
            x, y = a[measure].dropna(), b[measure].dropna()
            p = np.nan
            if len(x) >= MIN_PLAYERS and len(y) >= MIN_PLAYERS and (x.var() > 0 or y.var() > 0):
                p = float(stats.ttest_ind(y, x, equal_var=False).pvalue)
            out.append({"segment": segment, "measure": measure, "n_a": len(x), "n_b": len(y),
                        "mean_a": float(x.mean()), "mean_b": float(y.mean()),
                        "difference": float(y.mean() - x.mean()), "p": p})
    table = pd.DataFrame(out, columns=["segment", "measure", "n_a", "n_b", "mean_a", "mean_b", "difference", "p"])
    tested = table.p.notna()
    table["q"] = np.nan
    if tested.any():
        table.loc[tested, "q"] = stats.false_discovery_control(table.loc[tested, "p"])
    table["significant"] = table.q < alpha
    return table


def without_faces(summaries: list[dict], rows: pd.DataFrame) -> list[str]:
    """The sessions that contribute no row: no face was seen in them."""
    return [summary["session"] for summary in summaries if summary["session"] not in set(rows.session)]


def write_aggregate(summaries: list[dict], out_dir: Path, calibrated: bool = False) -> pd.DataFrame:
    rows = player_rows(summaries)
    table = aggregate(rows, calibrated)
    faceless = without_faces(summaries, rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "aggregate.csv", index=False, float_format="%.5f")
    (out_dir / "aggregate.json").write_text(json.dumps({
        "sessions": len(summaries), "players": int(rows[["session", "player"]].drop_duplicates().shape[0]),
        "calibrated": calibrated, "sessions_without_faces": faceless,
        "segments": json.loads(table.to_json(orient="records")),
        "annotations": annotation_rows(summaries), "session_names": [s["session"] for s in summaries]},
        indent=2) + "\n")
    sections = []
    if faceless:
        sections.append(("Sessions without any face", f"<p>{len(faceless)} of {len(summaries)} sessions had no face"
                         f" in any sampled frame and add nothing here: {', '.join(faceless)}</p>"))
    valence_arousal = measures(calibrated)[:2]
    if table.empty:
        sections.append(("Emotions per segment", "<p>no face was seen in any session: nothing to aggregate</p>"))
    elif calibrated:
        sections += [
            ("Calibrated valence and arousal (mean, 95% CI; 0: as the player at rest)",
             report.table_html(table[table.measure.isin(valence_arousal)])),
            ("Every calibrated measure (an emotion's shift: its mean probability minus the player's baseline)",
             report.table_html(table)),
        ]
    else:
        shares = table[table.measure.isin(CLASS_NAMES)].pivot(index="segment", columns="measure", values="mean")
        shares = shares.reindex(index=list(dict.fromkeys(table.segment)), columns=list(CLASS_NAMES))
        sections += [
            ("Emotions per segment", report.figure_html(report.share_bars_figure(
                shares, f"mean share of time over {len(summaries)} sessions"), "emotions per segment")),
            ("Valence and arousal (mean, 95% CI)",
             report.table_html(table[table.measure.isin(["valence", "arousal"])])),
            ("Every measure", report.table_html(table)),
        ]
    if annotation_rows(summaries):
        sections.append(("Researchers' annotations", report.table_html(pd.DataFrame(annotation_rows(summaries)))))
    (out_dir / "aggregate.html").write_text(report.page("Playtest sessions: aggregate", sections))
    return table


def untested_note(table: pd.DataFrame) -> str | None:
    """What to say when a comparison could test nothing."""
    return None if table.p.notna().any() else UNTESTED


def write_comparison(summaries_a: list[dict], summaries_b: list[dict], out_dir: Path,
                     names: tuple[str, str] = ("A", "B"), calibrated: bool = False) -> pd.DataFrame:
    table = compare(player_rows(summaries_a), player_rows(summaries_b), calibrated=calibrated)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "comparison.csv", index=False, float_format="%.5f")
    (out_dir / "comparison.json").write_text(json.dumps({
        "builds": {"a": names[0], "b": names[1]}, "sessions": {"a": len(summaries_a), "b": len(summaries_b)},
        "calibrated": calibrated,
        "session_names": {"a": [s["session"] for s in summaries_a], "b": [s["session"] for s in summaries_b]},
        "tested": int(table.p.notna().sum()), "note": untested_note(table),
        "significant": json.loads(table[table.significant].to_json(orient="records")),
        "all": json.loads(table.to_json(orient="records"))}, indent=2) + "\n")
    sections = [("Significant differences (Benjamini-Hochberg q < 0.05)",
                 report.table_html(table[table.significant]) if table.significant.any()
                 else f"<p>{untested_note(table) or 'none'}</p>"),
                (f"Every segment and measure: {names[1]} minus {names[0]}",
                 report.table_html(table, highlight=table.significant))]
    valence = measures(calibrated)[0]
    figure_rows = table[table.measure == valence]
    if not figure_rows.empty:
        figure, axis = report.plt.subplots(figsize=(9, 0.45 * len(figure_rows) + 1.2))
        axis.barh(figure_rows.segment, figure_rows.difference,
                  color=["#d9a400" if s else "#9bb" for s in figure_rows.significant])
        axis.axvline(0, color="k", lw=0.8)
        axis.invert_yaxis()
        axis.set_xlabel(f"{valence}: {names[1]} minus {names[0]} (yellow: significant)")
        sections.insert(0, ("Valence difference per segment", report.figure_html(figure, "valence difference")))
    (out_dir / "comparison.html").write_text(report.page(f"Playtest builds: {names[0]} vs {names[1]}", sections))
    return table
