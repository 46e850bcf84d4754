"""Playtest emotion analytics for one session: per-frame emotions, smoothed timelines and a summary.

Valence and arousal are derived from the seven probabilities as expectations over the emotions'
places on Russell's circumplex of affect: ``valence = sum_e p(e) * VALENCE[e]`` and
``arousal = sum_e p(e) * AROUSAL[e]``, both in -1..1 (coordinates in ``CIRCUMPLEX``, neutral at 0, 0).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from fer.contract import CLASS_NAMES, as_pixels
from fer.faces import Box, FaceDetector, crop_face
from fer.playtest.events import Event
from fer.playtest.tracking import FaceTracker
from fer.playtest.video import Recording

# (valence, arousal) per emotion: approximate positions on Russell's (1980) circumplex
CIRCUMPLEX = {"angry": (-0.6, 0.7), "disgust": (-0.7, 0.3), "fear": (-0.6, 0.8), "happy": (0.8, 0.5),
              "sad": (-0.7, -0.4), "surprise": (0.3, 0.8), "neutral": (0.0, 0.0)}
PROBABILITY_COLUMNS = [f"p_{name}" for name in CLASS_NAMES]


@dataclass
class AnalysisSettings:
    sample_fps: float = 2.0  # frames analysed per second of recording
    smoothing_s: float = 2.0  # width of the centred moving average of the timelines
    face_margin: float = 0.0  # Haar boxes already frame a face about as FER-2013 does (see README)
    detect_width: int = 480
    yunet_model: str | None = None
    reaction_window_s: float = 5.0  # segment after an event that has no end
    clock_offset_s: float = 0.0  # video time = event time + offset
    strongest_moments: int = 5
    batch_size: int = 64
    save_faces: bool = False  # privacy by default: face crops are written only when asked for


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


def detect_and_track(frames: Iterable[tuple[float, np.ndarray]], detector: FaceDetector, tracker: FaceTracker,
                     timing: Timing) -> Iterator[tuple[float, np.ndarray, list[tuple[Box, int]]]]:
    """Per sampled frame: its time, the frame and its faces, each with the player its track belongs to."""
    for time_s, frame in frames:
        started = time.perf_counter()
        boxes = detector.detect(frame)
        timing.detect_s += time.perf_counter() - started
        yield time_s, frame, list(zip(boxes, tracker.update(time_s, boxes)))


def crop_faces(detections: Iterable, margin: float, faces_dir: Path | None = None
               ) -> Iterator[tuple[dict, np.ndarray | None]]:
    """A table row per face (time, player, box) with its 48x48 crop, and one with player 0 and no crop per
    frame without a face; the crops are also written to ``faces_dir`` as <time>_p<player>.png if given."""
    for time_s, frame, faces in detections:
        if not faces:
            yield {"time_s": round(time_s, 3), "player": 0}, None
        for box, player in faces:
            crop = crop_face(frame, box, margin)
            if faces_dir is not None:
                cv2.imwrite(str(faces_dir / f"{time_s:09.3f}_p{player}.png"), crop)
            yield {"time_s": round(time_s, 3), "player": player, "x": box.x, "y": box.y, "w": box.w, "h": box.h}, crop


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


def analyze_frames(recording: Recording, model, settings: AnalysisSettings, progress: bool = True,
                   faces_dir: Path | None = None, on_row: Callable[[dict], None] | None = None
                   ) -> tuple[pd.DataFrame, Timing]:
    """One row per face per sampled frame (time_s, player, box, 7 probabilities) and one row with
    player 0 and no probabilities per sampled frame without a face. With ``settings.save_faces``, the
    48x48 crops go to ``faces_dir`` as <time>_p<player>.png."""
    if settings.save_faces:
        faces_dir.mkdir(parents=True, exist_ok=True)
    detector = FaceDetector(Path(settings.yunet_model) if settings.yunet_model else None, settings.detect_width)
    timing = Timing()
    with tqdm(total=recording.sampled_frames, desc=recording.name, unit="frame", disable=not progress) as bar:
        frames = bar_updates(timed(recording.frames, timing, "decode_s"), bar)
        detections = detect_and_track(frames, detector, FaceTracker(), timing)
        faces = crop_faces(detections, settings.face_margin, faces_dir if settings.save_faces else None)
        rows = []
        for row in classify_in_batches(faces, model, settings.batch_size, timing):
            rows.append(row)
            if on_row is not None:  # fer analyze --live: each row once its batch is classified
                on_row(row)
    table = pd.DataFrame(rows, columns=["time_s", "player", "x", "y", "w", "h", *PROBABILITY_COLUMNS])
    return table.astype({"player": int}), timing


def bar_updates(items: Iterable, bar: tqdm) -> Iterator:
    for item in items:
        yield item
        bar.update()


def smooth(frames: pd.DataFrame, smoothing_s: float) -> pd.DataFrame:
    """Per player, the probabilities averaged over a centred window; valence, arousal, dominant emotion."""
    faces = frames[frames.player > 0]
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


def statistics(timeline: pd.DataFrame, sampled_frames: int) -> dict:
    """Share of time in each emotion, valence/arousal means, face-visible ratio, over some frames."""
    visible = len(timeline)
    counts = timeline.emotion.value_counts() if visible else pd.Series(dtype=int)
    return {
        "sampled_frames": int(sampled_frames),
        "face_frames": int(visible),
        "face_visible_ratio": round(visible / sampled_frames, 4) if sampled_frames else 0.0,
        "emotion_share": {e: round(float(counts.get(e, 0)) / visible, 4) if visible else None for e in CLASS_NAMES},
        "dominant_emotion": str(counts.idxmax()) if visible else None,
        "valence": round(float(timeline.valence.mean()), 4) if visible else None,
        "arousal": round(float(timeline.arousal.mean()), 4) if visible else None,
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
        spans.append({"segment": event.label, "event": event.name, "level": event.level, "start_s": round(start, 3),
                      "end_s": round(end if duration_s is None else min(end, duration_s), 3),
                      "moment": event.end_s is None})
    return spans, warnings


def summarize(frames: pd.DataFrame, timeline: pd.DataFrame, events: list[Event], duration_s: float | None,
              settings: AnalysisSettings) -> dict:
    times = np.sort(frames.time_s.unique())
    players = sorted(int(p) for p in timeline.player.unique())
    spans, warnings = segments(events, duration_s, settings)

    def over(rows: pd.DataFrame, start: float = -np.inf, end: float = np.inf) -> dict:
        sampled = int(((times >= start) & (times < end)).sum())
        return statistics(rows[(rows.time_s >= start) & (rows.time_s < end)], sampled)

    per_player = {}
    for player in players:
        rows = timeline[timeline.player == player]
        per_player[str(player)] = {
            **over(rows),
            "segments": [{**span, **over(rows, span["start_s"], span["end_s"])} for span in spans],
        }
    return {
        "duration_s": duration_s,
        "sampled_frames": int(len(times)),
        "players": len(players),
        "face_visible_ratio": round(float(frames[frames.player > 0].time_s.nunique()) / len(times), 4)
        if len(times) else 0.0,
        "per_player": per_player,
        "strongest_moments": strongest_moments(timeline, settings.strongest_moments, settings.smoothing_s * 2),
        "segments": spans,
        "warnings": warnings,
        "settings": asdict(settings),
        "circumplex": CIRCUMPLEX,
    }
