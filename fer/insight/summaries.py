"""Reading session summaries (what `fer analyze` writes) into one row per participant and segment.

A participant is a session's player; its values over a segment are that player's means there, never frames.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from fer.contract import CLASS_NAMES
from fer.insight.measures import EVERY
from fer.playtest.annotations import AnnotationsError, annotations_path, read_annotations

log = logging.getLogger(__name__)
WHOLE_SESSION = "(whole session)"


class SummaryError(ValueError):
    """No usable summary, or (strictly read) one that is not a session summary; the message names the file."""


def summary_files(paths: list[Path]) -> list[Path]:
    """The files given, and the summary.json files at any depth of the folders given, except in hidden folders
    (such as those of sessions still being written)."""
    files = []
    for path in map(Path, paths):
        if not path.exists():
            raise SummaryError(f"{path}: no such file or folder")
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
            summaries.append(with_annotations({**read_summary(file), "summary_file": str(file.resolve())}, file))
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
                             "model": summary.get("model_id") or summary.get("model"), "source": summary.get("source"),
                             "segment": segment["segment"], "valence": segment["valence"],
                             "arousal": segment["arousal"], "face_visible_ratio": segment["face_visible_ratio"],
                             "attention": segment.get("attention"), **segment["emotion_share"],
                             "valence_calibrated": segment.get("valence_calibrated"),
                             "arousal_calibrated": segment.get("arousal_calibrated"),
                             **{f"{e}_shift": shift.get(e) for e in CLASS_NAMES}})
    columns = ["session", "build", "player", "model", "source", "segment", *EVERY]
    return pd.DataFrame(rows, columns=columns).astype({m: float for m in EVERY})


def without_faces(summaries: list[dict], rows: pd.DataFrame) -> list[str]:
    """The sessions that contribute no row: no face was seen in them."""
    return [summary["session"] for summary in summaries if summary["session"] not in set(rows.session)]
