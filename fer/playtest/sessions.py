"""Analysing playtest sessions to files: one folder of tables, summary and HTML report per session.

A session's folder is written whole into a hidden sibling (``.<name>.partial-<random>``) and then renamed
into place, so it is either complete or absent however the run stops. A batch skips sessions whose results
are complete for the same input and settings, so a cut-off or repeated run redoes nothing finished; a
session that fails is reported and the others go on; Ctrl-C keeps the finished sessions and lists the rest.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path, PurePosixPath

import pandas as pd

from fer.contract import ServingError, versions_on_disk
from fer.faces import FaceDetector
from fer.playtest import report
from fer.playtest.analytics import analyze_frames, calibrated_timeline, smooth, summarize
from fer.playtest.events import EventsError, load_events
from fer.playtest.files import locked, with_umask, write_json
from fer.playtest.settings import AnalysisSettings
from fer.playtest.live import start_live
from fer.playtest.orientation import oriented
from fer.playtest.video import RecordingError, ends_on_ctrl_c, open_recording

log = logging.getLogger(__name__)
EVENT_SUFFIXES = (".events.csv", ".events.jsonl")
OUTPUT_FILES = ("frames.csv", "timeline.csv", "summary.json", "report.html")
PARTIAL = ".partial-"  # in the name of a session folder being written, or of the older one being replaced
EXPECTED_ERRORS = (RecordingError, EventsError, ServingError, OSError)  # bad input: logged without a traceback


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during analyze_many; ``result`` is what it wrote to batch.json."""

    def __init__(self, result: dict):
        super().__init__("interrupted")
        self.result = result


def events_beside(source: Path) -> Path | None:
    """``<name>.events.csv`` or ``<name>.events.jsonl`` next to a recording, if there is one."""
    for suffix in EVENT_SUFFIXES:
        candidate = source.with_name(source.stem + suffix)
        try:
            if candidate.is_file():
                return candidate
        except OSError:  # a name too long for the file system: no such file can exist
            continue
    return None


def fingerprint(source: str | Path, events: Path | None, settings: AnalysisSettings, model: str) -> str:
    parts = [json.dumps(asdict(settings), sort_keys=True), model]
    for path in (Path(source), events):
        if path is not None and path.exists():
            stat = path.stat()
            parts.append(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def model_identity(model_name: str) -> str:
    """Which model a session was analysed with, beyond its path: ``<name>/<version>@<hash>`` of a SavedModel's
    fingerprint.pb (TensorFlow's checksums of its graph and weights; saved_model.pb where there is none), so a
    retrained model at the same path reads as another; a server URL as given."""
    path = Path(model_name)
    if not model_name or "://" in model_name or not path.is_dir():
        return model_name
    versions = versions_on_disk(path)
    folder = path / str(versions[-1]) if versions else path
    for name in ("fingerprint.pb", "saved_model.pb"):
        if (folder / name).is_file():
            digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()[:12]
            return f"{path.resolve().name}/{folder.name}@{digest}" if versions else f"{path.resolve().name}@{digest}"
    return model_name


def is_camera(source: str | Path) -> bool:
    return str(source).isdigit()


def session_names(sources: list[str | Path]) -> list[str]:
    """Each source's output folder, relative to --out: ``camera<index>`` for a camera; for a recording, its
    path relative to the deepest folder holding all the recordings given, without its extension, or with it
    where two recordings would otherwise share a name (a.mp4 and a.avi)."""
    recordings = [Path(os.path.abspath(s)) for s in sources if not is_camera(s)]
    common = Path(os.path.commonpath([path.parent for path in recordings])) if recordings else None

    def relative(source: str | Path) -> PurePosixPath:
        return PurePosixPath(Path(os.path.abspath(source)).relative_to(common).as_posix())

    stems = [f"camera{s}" if is_camera(s) else str(relative(s).with_suffix("")) for s in sources]
    return [stem if is_camera(s) or stems.count(stem) == 1 else str(relative(s)) for s, stem in zip(sources, stems)]


def analyze_session(source: str | Path, out_dir: Path, model, settings: AnalysisSettings,
                    events_path: Path | None = None, build: str | None = None, progress: bool = True,
                    model_name: str = "", max_duration_s: float | None = None, session: str | None = None,
                    live: bool = False) -> dict:
    """Writes frames.csv, timeline.csv, report.html and summary.json (and faces/ with settings.save_faces) for
    one recording into ``out_dir``, which appears, or replaces an older one, only once all are written.
    ``session`` names the session in the summary (default: the folder's name). With ``live``, the rows also
    go to fer.playtest.live's files as they are classified, for ``fer dashboard``."""
    key = fingerprint(source, events_path, settings, model_name)  # before reading: a change meanwhile redoes it
    events = load_events(events_path) if events_path else []
    recording = open_recording(source, settings.sample_fps, max_duration_s)
    if not is_camera(source) and Path(source).is_file():  # a video file: found upright if it was stored turned
        recording = oriented(recording, Path(source), FaceDetector(settings.detector, settings.detect_width,
                                                                   settings.face_score, settings.min_face_px))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = with_umask(Path(tempfile.mkdtemp(prefix=f".{out_dir.name}{PARTIAL}", dir=out_dir.parent)), directory=True)
    live_rows = start_live(out_dir, session or out_dir.name, source, build, settings.sample_fps) if live else None
    try:
        started = time.perf_counter()
        with ends_on_ctrl_c(recording):
            frames, timing = analyze_frames(recording, model, settings, partial / "rows.csv", progress,
                                            faces_dir=partial / "faces", on_row=live_rows.append if live_rows else None)
        elapsed = time.perf_counter() - started
        if frames.empty:
            raise RecordingError(f"{source}: no frame was sampled")
        duration = recording.duration_s if recording.duration_s is not None else float(frames.time_s.max())
        timeline = smooth(frames, settings.smoothing_s)
        summary = summarize(frames, timeline, events, duration, settings)
        timeline = calibrated_timeline(timeline, summary)
        summary.update(session=session or out_dir.name, source=str(source),
                       source_path=None if is_camera(source) else str(Path(source).resolve()),
                       events=str(events_path) if events_path else None, build=build, model=model_name,
                       model_id=model_identity(model_name),
                       frame_size=list(recording.frame_size), fingerprint=key,
                       frame_rate={"nominal": recording.nominal_fps, "variable": recording.variable_frame_rate},
                       timing={"seconds": round(elapsed, 3), "realtime_multiple": round(duration / elapsed, 2),
                               **{k: round(v, 3) for k, v in asdict(timing).items()}})
        summary["warnings"] += recording.notes
        if summary["players"] == 0:
            summary["warnings"].append(f"{source}: no face was found in any of the {summary['sampled_frames']}"
                                       " sampled frames")
        frames.to_csv(partial / "frames.csv", index=False, float_format="%.5f")
        (partial / "rows.csv").unlink()  # the rows as they came; frames.csv has them in time order
        timeline.to_csv(partial / "timeline.csv", index=False, float_format="%.5f")
        (partial / "report.html").write_text(session_report(summary, frames, timeline))
        (partial / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        replace_folder(partial, out_dir)
    except BaseException:  # Ctrl-C too: no half-written folder is left behind
        shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        if live_rows:
            live_rows.close()
    return summary


def replace_folder(new: Path, target: Path) -> None:
    """Renames ``new`` to ``target``; an older ``target`` is renamed aside first and deleted after, so that
    ``target`` is at every moment the old folder, absent, or the new one, never a mixture."""
    if not target.exists():
        new.rename(target)
        return
    old = target.with_name(f".{target.name}{PARTIAL}old-{new.name.rsplit(PARTIAL, 1)[1]}")
    target.rename(old)
    new.rename(target)
    shutil.rmtree(old)


def remove_leftovers(out_dir: Path) -> None:
    """Removes the partial folders that a run killed while writing ``out_dir`` left beside it."""
    for leftover in out_dir.parent.glob(f".{out_dir.name}{PARTIAL}*"):
        log.info("removing %s, left by an interrupted run", leftover)
        shutil.rmtree(leftover, ignore_errors=True)


def is_finished(out_dir: Path, key: str) -> bool:
    """Whether ``out_dir`` holds every output of an analysis whose fingerprint is ``key``."""
    if not all((out_dir / name).is_file() for name in OUTPUT_FILES):
        return False
    try:
        summary = json.loads((out_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(summary, dict) and summary.get("fingerprint") == key


def is_done(source: str | Path, out_dir: Path, events: Path | None, settings: AnalysisSettings,
            model_name: str) -> bool:
    """Whether ``out_dir`` holds the finished analysis of ``source`` with these events, settings and model (never
    for a camera, whose sessions are all new). Changes nothing."""
    return not is_camera(source) and is_finished(out_dir, fingerprint(source, events, settings, model_name))


def already_done(source: str | Path, out_dir: Path, events: Path | None, settings: AnalysisSettings,
                 model_name: str) -> bool:
    """is_done, after removing the leftovers of killed runs beside ``out_dir``: only under its session lock
    (analyze_one), where a leftover cannot be a running analysis's."""
    remove_leftovers(out_dir)
    return is_done(source, out_dir, events, settings, model_name)


def measures_of(stats: dict) -> dict:
    """The raw and calibrated measures of a player or segment, as the report's columns."""
    return {"valence": stats["valence"], "arousal": stats["arousal"],
            "valence (calibrated)": stats.get("valence_calibrated"),
            "arousal (calibrated)": stats.get("arousal_calibrated"),
            "face visible": stats["face_visible_ratio"], "attention": stats.get("attention")}


def session_report(summary: dict, frames: pd.DataFrame, timeline: pd.DataFrame) -> str:
    sections = [("Session", report.table_html(pd.DataFrame([{
        "recording": summary["source"], "duration (s)": summary["duration_s"], "players": summary["players"],
        "sampled frames": summary["sampled_frames"], "face visible": summary["face_visible_ratio"],
        "analysis speed (x real time)": summary["timing"]["realtime_multiple"]}])))]
    if summary["warnings"]:
        sections.append(("Warnings", "".join(f'<p class="warn">{w}</p>' for w in summary["warnings"])))
    for player, stats in summary["per_player"].items():
        baseline = stats.get("baseline") or {}
        overall = pd.DataFrame([{"player": player, "dominant": stats["dominant_emotion"], **measures_of(stats),
                                 "baseline": baseline.get("from"), **stats["emotion_share"]}])
        content = report.figure_html(report.timeline_figure(timeline, frames, summary["segments"], int(player)),
                                     f"emotion timeline of player {player}") + report.table_html(overall)
        if stats["segments"]:
            shares = pd.DataFrame([s["emotion_share"] for s in stats["segments"]],
                                  index=[f"{s['segment']} @ {s['start_s']:g}s" for s in stats["segments"]])
            content += report.figure_html(report.share_bars_figure(shares, f"player {player}: emotions per segment"),
                                          f"emotions per segment of player {player}")
            content += report.table_html(pd.DataFrame([{
                "segment": s["segment"], "start (s)": s["start_s"], "end (s)": s["end_s"],
                "dominant": s["dominant_emotion"], **measures_of(s)} for s in stats["segments"]]))
        sections.append((f"Player {player}", content))
    if summary["strongest_moments"]:
        sections.append(("Strongest moments", report.table_html(pd.DataFrame(summary["strongest_moments"]))))
    sections.append(("Review dashboard", report.dashboard_link(summary["session"])))
    sections.append(("How to read this", "<p>Shares count the sampled frames in which a face was classified, by"
                     " the emotion with the highest smoothed probability. Valence and arousal are the expected"
                     " circumplex coordinates of the seven probabilities: "
                     + ", ".join(f"{e} ({v:+.1f}, {a:+.1f})" for e, (v, a) in summary["circumplex"].items())
                     + ". Calibrated values are relative to the player's own baseline (the median over the"
                     " baseline segment, or over the session): 0 is as the player at rest. Attention is the share"
                     " of sampled frames in which the player's face looked at the screen.</p>"))
    return report.page(f"Playtest session {summary['session']}", sections)


def analyze_many(sources: list[str | Path], out_root: Path, model, settings: AnalysisSettings,
                 model_name: str = "", events_path: Path | None = None, build: str | None = None,
                 progress: bool = True, max_duration_s: float | None = None, live: bool = False,
                 overwrite: bool = False) -> dict:
    """Analyses every recording (or camera index) into ``out_root/<name>/`` (names from session_names; a
    folder holding another recording's session is never replaced unless ``overwrite``: analyze_one);
    returns what it writes to ``out_root/batch.json``: the sources "done", "skipped" (already done),
    "failed" (with the error), and "interrupted" (not done because of Ctrl-C, which raises BatchInterrupted)."""
    result: dict[str, list] = {"done": [], "skipped": [], "failed": [], "interrupted": []}
    pending = list(sources)
    started, analysed_s = time.monotonic(), 0.0
    try:
        for number, (source, name) in enumerate(zip(sources, session_names(sources)), start=1):
            began = time.monotonic()
            if progress:
                say(f"{number} of {len(sources)}: {source}")
            outcome, failure = analyze_one(source, out_root / name, name, model, settings, model_name, events_path,
                                           build, progress, max_duration_s, live, overwrite)
            result[outcome].append(failure or str(source))
            pending.pop(0)
            if outcome == "done":
                analysed_s += time.monotonic() - began
            if progress:
                eta = analysed_s / max(1, len(result["done"])) * len(pending)
                say(f"  {headline(outcome, failure, session_folder(out_root / name, source, overwrite))}"
                    + (f"; {len(pending)} left, about {eta:.0f} s more" if pending and result["done"] else "")
                    + ("" if pending else f"; batch done in {time.monotonic() - started:.1f} s"))
    except KeyboardInterrupt:
        result["interrupted"] = [str(source) for source in pending]
        raise BatchInterrupted(result) from None
    finally:
        write_batch(out_root, result)
    return result


def say(line: str) -> None:
    """A progress line on stderr, whole, whether or not it is a terminal."""
    print(line, file=sys.stderr, flush=True)


def headline(outcome: str, failure: dict | None, out_dir: Path) -> str:
    """One line of what a recording gave: its players, face visibility, main emotion and speed."""
    if outcome == "failed":
        return f"FAILED: {failure['type']}: {failure['error']}"
    if outcome == "skipped":
        return f"{out_dir.name}: already analysed with these settings and model"
    summary = json.loads((out_dir / "summary.json").read_text())
    dominant = [p.get("dominant_emotion") for p in summary["per_player"].values() if p.get("dominant_emotion")]
    players = f"{summary['players']} player{'' if summary['players'] == 1 else 's'}"
    return (f"{summary['session']}: {players}, face visible {summary['face_visible_ratio']:.0%}"
            + (f", mostly {dominant[0]}" if dominant else "")
            + f", {summary['timing']['realtime_multiple']:g}x real time")


OUTCOMES = ("done", "skipped", "failed", "interrupted")


def _source_of(entry) -> str:
    return entry["source"] if isinstance(entry, dict) else str(entry)


def write_batch(out_root: Path, result: dict) -> None:
    """``out_root/batch.json``: what the batches run on this folder did (local or on Ray), each source under its
    latest outcome, so that runs at once, or one after another, each keep theirs; written whole or not at all,
    under a lock shared by every run on the folder."""
    out_root.mkdir(parents=True, exist_ok=True)
    with locked(out_root / ".batch.json.lock"):
        try:
            merged = json.loads((out_root / "batch.json").read_text())
            merged = {outcome: list(merged.get(outcome, [])) for outcome in OUTCOMES}
        except (OSError, ValueError, AttributeError):
            merged = {outcome: [] for outcome in OUTCOMES}
        mine = {_source_of(entry) for outcome in OUTCOMES for entry in result.get(outcome, [])}
        for outcome in OUTCOMES:
            merged[outcome] = [e for e in merged[outcome] if _source_of(e) not in mine] + list(result.get(outcome, []))
        write_json(out_root / "batch.json", merged)


def recorded_source(folder: Path) -> str | None:
    """The recording a finished session folder was analysed from (its absolute path), None where there is none."""
    try:
        summary = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or summary.get("source") is None:
        return None
    return summary.get("source_path") or str(Path(summary["source"]).resolve())


def session_folder(out_dir: Path, source: str | Path, overwrite: bool = False) -> Path:
    """Where ``source``'s session goes: ``out_dir``, unless that holds a session of another recording (or of a
    camera, whose every session is new); then ``out_dir-2``, ``-3``, ...: the first free one or ``source``'s own.
    With ``overwrite``, ``out_dir`` whatever it holds."""
    if overwrite:
        return out_dir
    mine = None if is_camera(source) else str(Path(source).resolve())
    candidate, number = out_dir, 1
    while (holder := recorded_source(candidate)) is not None and (mine is None or holder != mine):
        number += 1
        candidate = out_dir.with_name(f"{out_dir.name}-{number}")
    return candidate


def analyze_one(source: str | Path, out_dir: Path, name: str, model, settings: AnalysisSettings,
                model_name: str = "", events_path: Path | None = None, build: str | None = None,
                progress: bool = True, max_duration_s: float | None = None, live: bool = False,
                overwrite: bool = False) -> tuple[str, dict | None]:
    """One source as a batch does it: ("skipped", None) if its folder holds its finished results, ("done",
    None) once analysed, or ("failed", {"source", "type", "error"}) whatever the cause. Its folder is ``out_dir``
    or, where that holds another recording's session, the next free name (session_folder); runs at once on the
    same folder take turns (a lock beside it), and only leftovers of runs that are gone are removed."""
    camera = is_camera(source)
    source = str(source) if camera else Path(source)
    try:
        events = events_path or (None if camera else events_beside(source))
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        with locked(out_dir.with_name(f".{out_dir.name}.lock"),
                    f"{out_dir}: another run is analysing this session; waiting for it"):
            folder = session_folder(out_dir, source, overwrite)
            if folder != out_dir:
                name = str(PurePosixPath(name).with_name(folder.name))
                log.warning("%s holds the session of another recording: %s goes to %s (--overwrite replaces it)",
                            out_dir, source, folder)
            if already_done(source, folder, events, settings, model_name):
                return "skipped", None
            analyze_session(source, folder, model, settings, events, build, progress, model_name, max_duration_s,
                            session=name, live=live)
    except Exception as error:  # one bad recording, whatever the cause, must not stop the batch
        log.error("%s: %s: %s", source, type(error).__name__, error, exc_info=not isinstance(error, EXPECTED_ERRORS))
        return "failed", {"source": str(source), "type": type(error).__name__, "error": str(error)}
    return "done", None
