"""Playtest emotion analytics for one session: per-frame emotions, smoothed timelines and a summary.

Valence and arousal are derived from the seven probabilities as expectations over the emotions'
places on Russell's circumplex of affect: ``valence = sum_e p(e) * VALENCE[e]`` and
``arousal = sum_e p(e) * AROUSAL[e]``, both in -1..1 (coordinates in ``CIRCUMPLEX``, neutral at 0, 0).
"""
from __future__ import annotations

import csv
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from fer.contract import CLASS_NAMES, as_pixels
from fer.faces import Face, FaceDetector, face_crop
from fer.playtest.calibration import calibrate, calibrated_name, player_baselines
from fer.playtest.events import Event
from fer.playtest.quality import OK, face_quality
from fer.playtest.settings import AnalysisSettings
from fer.playtest.tracking import FaceTracker, rows_of_players
from fer.playtest.video import Recording

# (valence, arousal) per emotion: approximate positions on Russell's (1980) circumplex
CIRCUMPLEX = {"angry": (-0.6, 0.7), "disgust": (-0.7, 0.3), "fear": (-0.6, 0.8), "happy": (0.8, 0.5),
              "sad": (-0.7, -0.4), "surprise": (0.3, 0.8), "neutral": (0.0, 0.0)}
PROBABILITY_COLUMNS = [f"p_{name}" for name in CLASS_NAMES]
FRAME_COLUMNS = ["time_s", "player", "x", "y", "w", "h", "score", "face_px", "sharpness", "yaw", "pitch", "roll",
                 "facing_screen", "quality", *PROBABILITY_COLUMNS]
CALIBRATED_MEASURES = [*PROBABILITY_COLUMNS, "valence", "arousal"]


@dataclass
class Timing:
    decode_s: float = 0.0
    detect_s: float = 0.0
    classify_s: float = 0.0


def timed(items: Iterable, timing: Timing, field: str) -> Iterator:
    """The items of ``items``, adding the time spent producing each to ``timing.<field>``."""
    items = iter(items)
    while True:
        started = time.perf_counter()
        item = next(items, None)
        setattr(timing, field, getattr(timing, field) + time.perf_counter() - started)
        if item is None:
            return
        yield item


_DONE = object()


START_WAIT_S = 5.0  # how long a stopped step waits for its thread to begin (it never does if start was cut short)


def in_background(items: Iterable, maxsize: int = 16) -> Iterator:
    """The items of ``items``, produced by a thread of their own up to ``maxsize`` ahead of the consumer.

    Chained, the steps of an analysis (decode, detect, classify) run at once on different cores: OpenCV
    and TensorFlow release the GIL while they work. The queue bounds the frames held in memory; an error
    in the thread is raised here, and a consumer that stops early (an error, Ctrl-C) stops the thread."""
    handoff: queue.Queue = queue.Queue(maxsize)
    stop, begun = threading.Event(), threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        begun.set()
        iterator = iter(items)
        try:
            for item in iterator:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as error:  # handed to the consumer, which raises it
            put(error)
        finally:  # closes the steps before this one (their threads too) here, not at interpreter exit
            getattr(iterator, "close", lambda: None)()

    thread = threading.Thread(target=produce, daemon=True, name="analysis-step")
    try:
        thread.start()
        while (item := handoff.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        # Ctrl-C can land inside Thread.start, after the thread exists but before it has begun: wait for it
        # so that it is joined, not left reading the steps before this one while the caller closes them
        if begun.wait(timeout=START_WAIT_S):
            thread.join()  # the step finishes the item it is on (OpenCV must not be inside a frame at exit)


def detect_and_track(frames: Iterable[tuple[float, np.ndarray]], detector: FaceDetector, tracker: FaceTracker,
                     timing: Timing) -> Iterator[tuple[float, np.ndarray, list[tuple[Face, int]]]]:
    """Per sampled frame: its time, the frame and its faces, each with the id of the track it belongs to."""
    for time_s, frame in frames:
        started = time.perf_counter()
        faces = detector.detect(frame)
        timing.detect_s += time.perf_counter() - started
        yield time_s, frame, list(zip(faces, tracker.update(time_s, [face.box for face in faces])))


def crop_faces(detections: Iterable, settings: AnalysisSettings, faces_dir: Path | None = None
               ) -> Iterator[tuple[dict, np.ndarray | None]]:
    """A table row per face (time, track, box, quality) with its 48x48 crop, or no crop where its quality
    is too low to classify; and one row with track 0 and no crop per frame without a face. The crops are
    also written to ``faces_dir`` as <time>_t<track>.png if given."""
    for time_s, frame, faces in detections:
        if not faces:
            yield {"time_s": round(time_s, 3), "track": 0}, None
        for face, track in faces:
            crop = face_crop(frame, face, margin=settings.face_margin, align=settings.align)
            quality = face_quality(face, crop, settings)
            if faces_dir is not None:
                cv2.imwrite(str(faces_dir / f"{time_s:09.3f}_t{track}.png"), crop)
            box = face.box
            row = {"time_s": round(time_s, 3), "track": track, "x": box.x, "y": box.y, "w": box.w, "h": box.h,
                   "score": round(face.score, 3), **quality}
            yield row, crop if quality["quality"] == OK else None


def classify_in_batches(faces: Iterable[tuple[dict, np.ndarray | None]], model, batch_size: int,
                        timing: Timing) -> Iterator[dict]:
    """The rows in their order, each face's row with the 7 probabilities, classified ``batch_size`` faces at a time."""
    waiting: list[tuple[dict, np.ndarray | None]] = []

    def flush() -> Iterator[dict]:
        crops = [crop for _, crop in waiting if crop is not None]
        if crops:
            started = time.perf_counter()
            probabilities = iter(model.predict(as_pixels(np.stack(crops))))
            timing.classify_s += time.perf_counter() - started
            for row, crop in waiting:
                if crop is not None:
                    row.update(zip(PROBABILITY_COLUMNS, map(float, next(probabilities))))
        yield from (row for row, _ in waiting)
        waiting.clear()

    for row, crop in faces:
        waiting.append((row, crop))
        if sum(crop is not None for _, crop in waiting) >= batch_size:
            yield from flush()
    yield from flush()


def analyze_frames(recording: Recording, model, settings: AnalysisSettings, rows_file: Path, progress: bool = True,
                   faces_dir: Path | None = None, on_row: Callable[[dict], None] | None = None
                   ) -> tuple[pd.DataFrame, Timing]:
    """One row per face per sampled frame (time_s, player, box, quality, 7 probabilities) and one row with
    player 0 and no probabilities per sampled frame without a face (or with only faces that are not
    players). Faces too poor to classify have a ``quality`` reason and no probabilities. The rows go to
    ``rows_file`` (CSV) as they are made, so memory does not grow with the recording's length; the table
    is read back from it. With ``settings.save_faces``, the 48x48 crops go to ``faces_dir`` as
    <time>_t<track>.png."""
    if settings.save_faces:
        faces_dir.mkdir(parents=True, exist_ok=True)
    detector = FaceDetector(settings.detector, settings.detect_width, settings.face_score, settings.min_face_px)
    tracker = FaceTracker(min_track_s=settings.min_track_s)
    timing = Timing()
    with tqdm(total=recording.sampled_frames, desc=recording.name, unit="frame", disable=not progress or not sys.stderr.isatty()) as bar, \
            open(rows_file, "w", newline="") as out:
        writer = csv.DictWriter(out, FRAME_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        frames = in_background(bar_updates(timed(recording.frames, timing, "decode_s"), bar))
        detections = detect_and_track(frames, detector, tracker, timing)
        faces = in_background(crop_faces(detections, settings, faces_dir if settings.save_faces else None))
        try:
            for row in rows_of_players(classify_in_batches(faces, model, settings.batch_size, timing), tracker):
                writer.writerow(row)
                if on_row is not None:  # fer analyze --live: each row once its batch is classified
                    on_row(row)
        finally:  # stops and joins the steps' threads now, whatever stopped the loop (an error, Ctrl-C)
            faces.close()
            frames.close()
    return frame_table(pd.read_csv(rows_file)), timing


def frame_table(rows: list[dict] | pd.DataFrame) -> pd.DataFrame:
    """The rows as a table in time order; rows that are not a player's carry no probabilities."""
    table = pd.DataFrame(rows, columns=FRAME_COLUMNS).astype({"player": int})
    table.loc[table.player == 0, PROBABILITY_COLUMNS] = np.nan
    return table.sort_values(["time_s", "player"], kind="stable").reset_index(drop=True)


def bar_updates(items: Iterable, bar: tqdm) -> Iterator:
    for item in items:
        yield item
        bar.update()


def smooth(frames: pd.DataFrame, smoothing_s: float) -> pd.DataFrame:
    """Per player, the probabilities of the classified faces averaged over a centred window; valence,
    arousal, dominant emotion."""
    faces = frames[(frames.player > 0) & frames.p_neutral.notna()]
    parts = []
    for player, rows in faces.groupby("player"):
        series = rows.set_index(pd.to_timedelta(rows.time_s, unit="s"))[PROBABILITY_COLUMNS]
        smoothed = series.rolling(pd.Timedelta(seconds=smoothing_s), center=True, min_periods=1).mean()
        smoothed = smoothed.reset_index(drop=True)
        smoothed.insert(0, "player", player)
        smoothed.insert(0, "time_s", rows.time_s.to_numpy())
        parts.append(smoothed)
    if not parts:
        return pd.DataFrame(columns=["time_s", "player", *PROBABILITY_COLUMNS, "valence", "arousal", "emotion"])
    timeline = pd.concat(parts, ignore_index=True)
    values = timeline[PROBABILITY_COLUMNS].to_numpy()
    timeline["valence"] = values @ np.array([CIRCUMPLEX[e][0] for e in CLASS_NAMES])
    timeline["arousal"] = values @ np.array([CIRCUMPLEX[e][1] for e in CLASS_NAMES])
    timeline["emotion"] = [CLASS_NAMES[i] for i in values.argmax(axis=1)]
    return timeline


def statistics(timeline: pd.DataFrame, faces: pd.DataFrame, sampled_frames: int) -> dict:
    """Over some sampled frames, from a player's timeline rows and detected faces: share of time in each
    emotion, valence/arousal means (raw and calibrated), face-visible ratio, attention (share of the
    sampled frames in which the face looks at the screen) and the faces not classified, by reason."""
    visible = len(timeline)
    counts = timeline.emotion.value_counts() if visible else pd.Series(dtype=int)

    def mean(column: str) -> float | None:
        return round(float(timeline[column].mean()), 4) if visible and column in timeline else None

    facing = faces.facing_screen.dropna()
    return {
        "sampled_frames": int(sampled_frames),
        "face_frames": int(visible),
        "face_visible_ratio": round(faces.time_s.nunique() / sampled_frames, 4) if sampled_frames else 0.0,
        "attention": round(float(facing.astype(bool).sum()) / sampled_frames, 4) if sampled_frames and len(facing)
        else None,
        "low_quality_frames": {reason: int(n) for reason, n in
                               faces.quality[faces.quality != OK].str.split(" [(]", regex=True).str[0]
                               .value_counts().sort_index().items()},
        "emotion_share": {e: round(float(counts.get(e, 0)) / visible, 4) if visible else None for e in CLASS_NAMES},
        "dominant_emotion": str(counts.idxmax()) if visible else None,
        "valence": mean("valence"),
        "arousal": mean("arousal"),
        "valence_calibrated": mean(calibrated_name("valence")),
        "arousal_calibrated": mean(calibrated_name("arousal")),
        "emotion_shift": {e: mean(calibrated_name(f"p_{e}")) for e in CLASS_NAMES},
    }


def strongest_moments(timeline: pd.DataFrame, count: int, separation_s: float) -> list[dict]:
    """The highest smoothed probabilities of a non-neutral emotion, at least ``separation_s`` apart."""
    emotional = [c for c in PROBABILITY_COLUMNS if c != "p_neutral"]
    if timeline.empty:
        return []
    peaks = timeline.assign(strength=timeline[emotional].max(axis=1),
                            peak=timeline[emotional].idxmax(axis=1).str.removeprefix("p_"))
    chosen: list[dict] = []
    for row in peaks.sort_values("strength", ascending=False).itertuples():
        if all(abs(row.time_s - m["time_s"]) >= separation_s or row.player != m["player"] for m in chosen):
            chosen.append({"time_s": float(row.time_s), "player": int(row.player), "emotion": row.peak,
                           "probability": round(float(row.strength), 4)})
            if len(chosen) == count:
                break
    return sorted(chosen, key=lambda m: m["time_s"])


def segments(events: list[Event], duration_s: float | None, settings: AnalysisSettings
             ) -> tuple[list[dict], list[str]]:
    """Each event's span on the video clock; events outside the recording become warnings."""
    spans, warnings = [], []
    for event in events:
        start = event.time_s + settings.clock_offset_s
        end = (event.end_s + settings.clock_offset_s) if event.end_s is not None else start + settings.reaction_window_s
        if duration_s is not None and (end <= 0 or start >= duration_s):
            warnings.append(f"event {event.label!r} at {event.time_s:g} s (video {start:g}..{end:g} s) is outside"
                            f" the recording (0..{duration_s:g} s); skipped")
            continue
        spans.append({"segment": event.label, "event": event.name, "level": event.level,
                      "start_s": round(max(0.0, start), 3),  # what began before the recording starts with it
                      "end_s": round(end if duration_s is None else min(end, duration_s), 3),
                      "moment": event.end_s is None})
    return spans, warnings


def summarize(frames: pd.DataFrame, timeline: pd.DataFrame, events: list[Event], duration_s: float | None,
              settings: AnalysisSettings) -> dict:
    """The session's summary: per player (and per segment) the statistics, with each player's calibration
    baseline (fer.playtest.calibration), strongest moments, segments, warnings and settings."""
    times = np.sort(frames.time_s.unique())
    players = sorted(int(p) for p in frames.player.unique() if p > 0)
    spans, warnings = segments(events, duration_s, settings)
    baselines, calibration_warnings = player_baselines(timeline, CALIBRATED_MEASURES, spans, settings.baseline_segment)
    calibrated = calibrate(timeline, baselines, CALIBRATED_MEASURES)

    def over(player: int, start: float = -np.inf, end: float = np.inf) -> dict:
        sampled = int(((times >= start) & (times < end)).sum())
        rows = calibrated[(calibrated.player == player) & (calibrated.time_s >= start) & (calibrated.time_s < end)]
        faces = frames[(frames.player == player) & (frames.time_s >= start) & (frames.time_s < end)]
        return statistics(rows, faces, sampled)

    per_player = {str(player): {**over(player), "baseline": baselines.get(player),
                                "segments": [{**span, **over(player, span["start_s"], span["end_s"])}
                                             for span in spans]}
                  for player in players}
    return {
        "duration_s": duration_s,
        "sampled_frames": int(len(times)),
        "players": len(players),
        "face_visible_ratio": round(float(frames[frames.player > 0].time_s.nunique()) / len(times), 4)
        if len(times) else 0.0,
        "not_players": int((frames.quality == "not a player").sum()),
        "per_player": per_player,
        "strongest_moments": strongest_moments(timeline, settings.strongest_moments, settings.smoothing_s * 2),
        "segments": spans,
        "warnings": warnings + calibration_warnings,
        "settings": asdict(settings),
        "circumplex": CIRCUMPLEX,
    }


def calibrated_timeline(timeline: pd.DataFrame, summary: dict) -> pd.DataFrame:
    """The timeline with each measure's calibrated column, from the baselines in the session's summary."""
    baselines = {int(p): stats["baseline"] for p, stats in summary["per_player"].items() if stats["baseline"]}
    timeline = timeline[timeline.player.isin(list(baselines))]
    return calibrate(timeline, baselines, CALIBRATED_MEASURES)
