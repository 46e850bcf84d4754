"""Analysing playtest sessions to files: one folder of tables, summary and HTML report per session.

A batch skips sessions whose results are complete for the same input and settings, so a cut-off or
repeated run redoes nothing finished; a session that fails is reported and the others go on.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from fer.contract import ServingError
from fer.playtest import report
from fer.playtest.analytics import AnalysisSettings, analyze_frames, smooth, summarize
from fer.playtest.events import EventsError, load_events
from fer.playtest.video import RecordingError, open_recording

log = logging.getLogger(__name__)
EVENT_SUFFIXES = (".events.csv", ".events.jsonl")
OUTPUT_FILES = ("frames.csv", "timeline.csv", "summary.json", "report.html")


def events_beside(source: Path) -> Path | None:
    """``<name>.events.csv`` or ``<name>.events.jsonl`` next to a recording, if there is one."""
    for suffix in EVENT_SUFFIXES:
        candidate = source.with_name(source.stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def fingerprint(source: str | Path, events: Path | None, settings: AnalysisSettings, model: str) -> str:
    parts = [json.dumps(asdict(settings), sort_keys=True), model]
    for path in (Path(source), events):
        if path is not None and path.exists():
            stat = path.stat()
            parts.append(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def analyze_session(source: str | Path, out_dir: Path, model, settings: AnalysisSettings,
                    events_path: Path | None = None, build: str | None = None, progress: bool = True,
                    model_name: str = "", max_duration_s: float | None = None) -> dict:
    """Writes frames.csv, timeline.csv, summary.json and report.html for one recording."""
    events = load_events(events_path) if events_path else []
    recording = open_recording(source, settings.sample_fps, max_duration_s)
    started = time.perf_counter()
    frames, timing = analyze_frames(recording, model, settings, progress, faces_dir=out_dir / "faces")
    elapsed = time.perf_counter() - started
    if frames.empty:
        raise RecordingError(f"{source}: no frame was sampled")
    duration = recording.duration_s if recording.duration_s is not None else float(frames.time_s.max())
    timeline = smooth(frames, settings.smoothing_s)
    summary = summarize(frames, timeline, events, duration, settings)
    summary.update(session=out_dir.name, source=str(source), events=str(events_path) if events_path else None,
                   build=build, model=model_name, frame_size=list(recording.frame_size),
                   timing={"seconds": round(elapsed, 3), "realtime_multiple": round(duration / elapsed, 2),
                           **{k: round(v, 3) for k, v in asdict(timing).items()}})
    if summary["players"] == 0:
        summary["warnings"].append(f"{source}: no face was found in any of the {summary['sampled_frames']}"
                                   " sampled frames")
    out_dir.mkdir(parents=True, exist_ok=True)
    frames.to_csv(out_dir / "frames.csv", index=False, float_format="%.5f")
    timeline.to_csv(out_dir / "timeline.csv", index=False, float_format="%.5f")
    (out_dir / "report.html").write_text(session_report(summary, frames, timeline))
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")  # last: marks the session done
    return summary


def session_report(summary: dict, frames: pd.DataFrame, timeline: pd.DataFrame) -> str:
    sections = [("Session", report.table_html(pd.DataFrame([{
        "recording": summary["source"], "duration (s)": summary["duration_s"], "players": summary["players"],
        "sampled frames": summary["sampled_frames"], "face visible": summary["face_visible_ratio"],
        "analysis speed (x real time)": summary["timing"]["realtime_multiple"]}])))]
    if summary["warnings"]:
        sections.append(("Warnings", "".join(f'<p class="warn">{w}</p>' for w in summary["warnings"])))
    for player, stats in summary["per_player"].items():
        overall = pd.DataFrame([{"player": player, "dominant": stats["dominant_emotion"],
                                 "valence": stats["valence"], "arousal": stats["arousal"],
                                 "face visible": stats["face_visible_ratio"], **stats["emotion_share"]}])
        content = report.figure_html(report.timeline_figure(timeline, frames, summary["segments"], int(player)),
                                     f"emotion timeline of player {player}") + report.table_html(overall)
        if stats["segments"]:
            shares = pd.DataFrame([s["emotion_share"] for s in stats["segments"]],
                                  index=[f"{s['segment']} @ {s['start_s']:g}s" for s in stats["segments"]])
            content += report.figure_html(report.share_bars_figure(shares, f"player {player}: emotions per segment"),
                                          f"emotions per segment of player {player}")
            content += report.table_html(pd.DataFrame([{
                "segment": s["segment"], "start (s)": s["start_s"], "end (s)": s["end_s"],
                "dominant": s["dominant_emotion"], "valence": s["valence"], "arousal": s["arousal"],
                "face visible": s["face_visible_ratio"]} for s in stats["segments"]]))
        sections.append((f"Player {player}", content))
    if summary["strongest_moments"]:
        sections.append(("Strongest moments", report.table_html(pd.DataFrame(summary["strongest_moments"]))))
    sections.append(("How to read this", "<p>Shares count the sampled frames in which a face was visible, by the"
                     " emotion with the highest smoothed probability. Valence and arousal are the expected"
                     " circumplex coordinates of the seven probabilities: "
                     + ", ".join(f"{e} ({v:+.1f}, {a:+.1f})" for e, (v, a) in summary["circumplex"].items())
                     + ".</p>"))
    return report.page(f"Playtest session {summary['session']}", sections)


def analyze_many(sources: list[str | Path], out_root: Path, model, settings: AnalysisSettings,
                 model_name: str = "", events_path: Path | None = None, build: str | None = None,
                 progress: bool = True, max_duration_s: float | None = None) -> dict:
    """Analyses every recording (or camera index) into ``out_root/<name>/``; returns {"done", "skipped", "failed"}."""
    result: dict[str, list] = {"done": [], "skipped": [], "failed": []}
    for source in sources:
        camera = str(source).isdigit()
        source = str(source) if camera else Path(source)
        out_dir = out_root / (f"camera{source}" if camera else source.stem)
        events = events_path or (None if camera else events_beside(source))
        key = fingerprint(source, events, settings, model_name)
        summary_file = out_dir / "summary.json"
        if not camera and summary_file.is_file() and all((out_dir / f).is_file() for f in OUTPUT_FILES):
            try:
                if json.loads(summary_file.read_text()).get("fingerprint") == key:
                    result["skipped"].append(str(source))
                    continue
            except json.JSONDecodeError:
                pass
        try:
            summary = analyze_session(source, out_dir, model, settings, events, build, progress, model_name,
                                      max_duration_s)
        except (RecordingError, EventsError, ServingError, OSError) as error:
            log.error("%s", error)
            result["failed"].append({"source": str(source), "error": str(error)})
            continue
        summary["fingerprint"] = key
        summary_file.write_text(json.dumps(summary, indent=2) + "\n")
        result["done"].append(str(source))
    out_root.mkdir(parents=True, exist_ok=True)
    (out_root / "batch.json").write_text(json.dumps(result, indent=2) + "\n")
    return result

