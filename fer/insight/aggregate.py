"""Across sessions: each participant group's mean per segment and measure, with a bootstrap interval over
participants that stays inside the measure's range (fer.insight.stats), written as aggregate.{csv,json,html}."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from fer.insight import stats
from fer.insight.measures import EMOTIONS, RANGES, measures
from fer.insight.participants import link
from fer.insight.summaries import annotation_rows, player_rows, without_faces
from fer.playtest import report

AGGREGATE_SCHEMA = "fer-aggregate/2"
ALL = "all"  # the one group when none is asked for
INTERVAL = {"method": "percentile bootstrap over participants", "level": stats.LEVEL, "resamples": stats.RESAMPLES,
            "seed": stats.SEED, "min_participants": stats.MIN_PARTICIPANTS, "small_sample": stats.SMALL_SAMPLE}


def participant_values(rows: pd.DataFrame, calibrated: bool = False) -> pd.DataFrame:
    """One row per group, participant and segment: the participant's mean of each measure there (over their
    sessions in that group, where they played more than one), with the sessions behind it."""
    if "group" not in rows.columns:
        rows = rows.assign(group=ALL)
    keys = ["group", "participant", "segment"]
    values = rows.groupby(keys, sort=False)[measures(calibrated)].mean().reset_index()
    sessions = rows.groupby(keys, sort=False).session.agg(lambda s: sorted(set(s))).reset_index()
    return values.merge(sessions, on=keys)


def segment_order(rows: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(rows.segment))


def estimates(values: pd.DataFrame, groups: list[str], calibrated: bool = False) -> pd.DataFrame:
    """Per group, segment and measure: participants, mean, bootstrap interval and a note where it has none."""
    out = []
    for group in groups:
        mine = values[values.group == group]
        for segment in segment_order(values):
            here = mine[mine.segment == segment]
            for measure in measures(calibrated):
                estimate = stats.bootstrap_mean(here[measure])
                out.append({"group": group, "segment": segment, "measure": measure, "n": estimate.n,
                            "mean": estimate.mean, "ci_low": estimate.low, "ci_high": estimate.high,
                            "small": 0 < estimate.n < stats.SMALL_SAMPLE, "note": estimate.note})
    return pd.DataFrame(out, columns=["group", "segment", "measure", "n", "mean", "ci_low", "ci_high", "small", "note"])


def records(table: pd.DataFrame) -> list[dict]:
    """A table as JSON records, NaN as null."""
    return json.loads(table.to_json(orient="records"))


def models_note(rows: pd.DataFrame) -> tuple[list[str], str | None]:
    """The models the sessions were analysed with, and a warning when there is more than one."""
    models = sorted({str(m) for m in rows.model.dropna()}) if "model" in rows.columns else []
    if len(models) > 1:
        return models, (f"the sessions were analysed by {len(models)} different models ({', '.join(models)}):"
                        " a difference between groups may be the models'")
    return models, None


def session_names(rows: pd.DataFrame, groups: list[str]) -> dict[str, list[str]]:
    """Each group's sessions (those with a face: the others add no row)."""
    group = rows.group if "group" in rows.columns else pd.Series(ALL, index=rows.index)
    return {g: sorted(set(rows.session[group == g])) for g in groups}


def about(summaries: list[dict], rows: pd.DataFrame, by: str | None, groups: list[str], calibrated: bool) -> dict:
    """What every aggregate and comparison file says of its input."""
    models, mixed = models_note(rows)
    return {"by": by, "groups": groups, "calibrated": calibrated, "sessions": len(summaries),
            "participants": int(rows.participant.nunique()) if len(rows) else 0,
            "models": models, "warnings": [mixed] if mixed else [],
            "interval": INTERVAL, "ranges": {m: list(RANGES[m]) for m in measures(calibrated)},
            "sessions_without_faces": without_faces(summaries, rows),
            "session_names": session_names(rows, groups), "annotations": annotation_rows(summaries),
            "summary_files": {s["session"]: s.get("summary_file") for s in summaries}}


def write_aggregate(summaries: list[dict], out_dir: Path, rows: pd.DataFrame | None = None, by: str | None = None,
                    groups: list[str] | None = None, calibrated: bool = False) -> pd.DataFrame:
    """aggregate.csv, .json (schema AGGREGATE_SCHEMA) and .html of ``rows`` (linked and, with ``by``, grouped;
    default: the summaries' rows, each session's player a participant of its own)."""
    if rows is None:
        rows = link(player_rows(summaries))
    groups = groups or [ALL]
    values = participant_values(rows, calibrated)
    table = estimates(values, groups, calibrated)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "aggregate.csv", index=False, float_format="%.5f")
    content = {"schema": AGGREGATE_SCHEMA, **about(summaries, rows, by, groups, calibrated),
               "segments": records(table), "participant_values": records(values)}
    (out_dir / "aggregate.json").write_text(json.dumps(content, indent=1) + "\n")
    (out_dir / "aggregate.html").write_text(aggregate_page(content, table, calibrated))
    return table


def aggregate_page(content: dict, table: pd.DataFrame, calibrated: bool) -> str:
    sections = [("Warning", f"<p>{w}</p>") for w in content["warnings"]]
    faceless = content["sessions_without_faces"]
    if faceless:
        sections.append(("Sessions without any face", f"<p>{len(faceless)} of {content['sessions']} sessions had no"
                         f" face in any sampled frame and add nothing here: {', '.join(faceless)}</p>"))
    if table.empty or table.n.sum() == 0:
        sections.append(("Emotions per segment", "<p>no face was seen in any session: nothing to aggregate</p>"))
    else:
        if not calibrated:
            for group in content["groups"]:
                mine = table[(table.group == group) & table.measure.isin(EMOTIONS)]
                shares = mine.pivot(index="segment", columns="measure", values="mean")
                shares = shares.reindex(index=list(dict.fromkeys(mine.segment)), columns=EMOTIONS)
                sections.append((f"Emotions per segment: {group}", report.figure_html(report.share_bars_figure(
                    shares, f"mean share of time, {group}"), f"emotions per segment, {group}")))
        shown = table.replace({np.nan: None})
        sections.append((f"Every measure (mean, {content['interval']['method']}, 95%)", report.table_html(shown)))
    if content["annotations"]:
        sections.append(("Researchers' annotations", report.table_html(pd.DataFrame(content["annotations"]))))
    return report.page("Playtest sessions: aggregate", sections)
