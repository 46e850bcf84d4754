"""Key moments made visible: the strongest moments of sessions, a still of each (face-cam, and gameplay where the
session has a capture attached), and short WebM clips around them."""
from __future__ import annotations

import logging
import os
import re
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from fer.playtest.gameplay import GameplayError, read_gameplay

log = logging.getLogger(__name__)
STILL_WIDTH = 480
CLIP_WIDTH = 640


def find_recording(source: str | None, folder: Path) -> Path | None:
    """A summary's recording: as named where absolute, else relative to the current folder or any folder above
    the session's (fer analyze writes it as it was given)."""
    if not source or str(source).isdigit():
        return None
    path = Path(source)
    candidates = [path] if path.is_absolute() else [Path.cwd() / path, *(parent / path for parent in folder.parents)]
    return next((c.resolve() for c in candidates if c.is_file()), None)


def gameplay_of(summary: dict) -> tuple[Path | None, float]:
    """The gameplay capture attached to the session (fer.playtest.gameplay) and its offset in seconds."""
    try:
        attached = read_gameplay(Path(summary.get("summary_file", "summary.json")).parent)
    except GameplayError as error:
        log.warning("%s; its gameplay is left out", error)
        return None, 0.0
    if attached is None or not Path(attached["source"]).is_file():
        return None, 0.0
    return Path(attached["source"]), attached["offset_s"]


def frame_at(recording: Path, time_s: float) -> np.ndarray | None:
    capture = cv2.VideoCapture(str(recording), cv2.CAP_FFMPEG)
    try:
        capture.set(cv2.CAP_PROP_POS_MSEC, max(0.0, time_s) * 1000)
        ok, frame = capture.read()
    finally:
        capture.release()
    return frame if ok else None


def _scaled(frame: np.ndarray, width: int) -> np.ndarray:
    if frame.shape[1] <= width:
        return frame
    return cv2.resize(frame, (width, round(frame.shape[0] * width / frame.shape[1])), interpolation=cv2.INTER_AREA)


def still_jpeg(recording: Path, time_s: float, width: int = STILL_WIDTH) -> bytes | None:
    """The recording's frame at ``time_s`` as a JPEG at most ``width`` wide; None where there is none."""
    frame = frame_at(recording, time_s)
    if frame is None:
        return None
    return cv2.imencode(".jpg", _scaled(frame, width), [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()


def strongest_moments(summaries: list[dict], count: int) -> list[dict]:
    """The ``count`` strongest moments over all the sessions (highest smoothed non-neutral probability), each
    with its session, recording, gameplay capture and the segment it falls in."""
    moments = []
    for summary in summaries:
        folder = Path(summary.get("summary_file", ".")).parent
        recording = find_recording(summary.get("source"), folder)
        gameplay, offset = gameplay_of(summary)
        for moment in summary.get("strongest_moments", []):
            inside = [s["segment"] for s in summary.get("segments", []) if s["start_s"] <= moment["time_s"] < s["end_s"]]
            moments.append({**moment, "session": summary["session"], "build": summary.get("build"),
                            "recording": recording, "gameplay_recording": gameplay, "gameplay_offset_s": offset,
                            "segment": ", ".join(inside) or None})
    return sorted(moments, key=lambda m: -m["probability"])[:count]


def with_stills(moments: list[dict]) -> list[dict]:
    """Each moment with ``face`` (a JPEG of the recording then) and, where a capture is attached, ``gameplay``."""
    out = []
    for moment in moments:
        still = dict(moment, face=still_jpeg(moment["recording"], moment["time_s"]) if moment["recording"] else None)
        if moment["gameplay_recording"]:
            still["gameplay"] = still_jpeg(moment["gameplay_recording"], moment["time_s"] + moment["gameplay_offset_s"])
        out.append(still)
    return out


@contextmanager
def _quiet_stderr():
    """OpenCV's FFmpeg writer prints a tag notice for WebM on stderr from C; it is not an error."""
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def write_clip(recording: Path, start_s: float, end_s: float, out: Path, width: int = CLIP_WIDTH) -> int:
    """The recording from ``start_s`` to ``end_s`` as a VP8 WebM at its own frame rate; the frames written."""
    capture = cv2.VideoCapture(str(recording), cv2.CAP_FFMPEG)
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    capture.set(cv2.CAP_PROP_POS_MSEC, max(0.0, start_s) * 1000)
    writer, written = None, 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok or capture.get(cv2.CAP_PROP_POS_MSEC) / 1000 > end_s + 0.5 / fps:
                break
            frame = _scaled(frame, width)
            if writer is None:
                out.parent.mkdir(parents=True, exist_ok=True)
                with _quiet_stderr():
                    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"VP80"), fps, frame.shape[1::-1])
                if not writer.isOpened():
                    raise OSError(f"{out}: OpenCV cannot write WebM (VP8) here")
            writer.write(frame)
            written += 1
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    return written


def clip_name(moment: dict, which: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", moment["session"]).strip("_")
    return f"{safe}_{moment['time_s']:07.2f}s_{moment['emotion']}_{which}.webm"


def export_clips(moments: list[dict], out_dir: Path, seconds: float) -> list[Path]:
    """A face-cam clip (and a gameplay clip where one is attached) of ``seconds`` around each moment."""
    written = []
    for moment in moments:
        start, end = moment["time_s"] - seconds / 2, moment["time_s"] + seconds / 2
        sources = [("face", moment["recording"], 0.0), ("gameplay", moment["gameplay_recording"],
                                                        moment["gameplay_offset_s"])]
        for which, recording, offset in sources:
            if recording is None:
                if which == "face":
                    log.warning("%s: its recording is not found: no clip at %.1f s", moment["session"], moment["time_s"])
                continue
            path = out_dir / clip_name(moment, which)
            if write_clip(recording, start + offset, end + offset, path):
                written.append(path)
    return written
