"""Recordings stored sideways or upside down without rotation metadata (a phone held sideways, a webcam mounted
upside down): the orientation in which the face detector is surest of its faces, found from a few frames, and
every frame turned to it. Upright faces score higher with YuNet than turned ones (on the real clips of
../shared/videos, a mean best score of 0.92-0.95 upright against 0.58-0.77 turned sideways and 0.77-0.86 upside
down), so a turn is taken only where it beats the frames as stored by a margin."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from fer.faces import FaceDetector
from fer.playtest.video import Recording

TURNS = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
PROBES = 5  # frames looked at, spread over the recording
MARGIN = 0.05  # a turn must raise the mean best face score by this much over the frames as stored


def turned(frame: np.ndarray, degrees: int) -> np.ndarray:
    """``frame`` turned clockwise by 0, 90, 180 or 270 degrees."""
    return frame if degrees == 0 else cv2.rotate(frame, TURNS[degrees])


def probe_frames(video: Path, count: int = PROBES) -> list[np.ndarray]:
    """``count`` frames spread over a video file (fewer where it has fewer)."""
    capture = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    frames = []
    try:
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        for k in range(min(count, max(total, 0))):
            capture.set(cv2.CAP_PROP_POS_FRAMES, int(total * (k + 0.5) / count))
            ok, frame = capture.read()
            if ok:
                frames.append(frame)
    finally:
        capture.release()
    return frames


def upright_turn(frames: list[np.ndarray], detector: FaceDetector) -> int:
    """The clockwise turn (0, 90, 180, 270) that makes the faces in ``frames`` upright: the one with the highest
    mean best face score, where it beats the frames as stored by MARGIN; 0 where no face is found at all."""
    def score(degrees: int) -> float:
        return float(np.mean([max((f.score for f in detector.detect(turned(frame, degrees))), default=0.0)
                              for frame in frames])) if frames else 0.0
    scores = {degrees: score(degrees) for degrees in (0, *TURNS)}
    best = max(scores, key=scores.get)
    return best if scores[best] >= scores[0] + MARGIN else 0


def oriented(recording: Recording, video: Path, detector: FaceDetector) -> Recording:
    """``recording`` with every frame turned upright where the video was stored turned, saying so in its notes."""
    degrees = upright_turn(probe_frames(video), detector)
    if degrees == 0:
        return recording
    frames: Iterator = recording.frames

    def upright() -> Iterator[tuple[float, np.ndarray]]:
        for time_s, frame in frames:
            yield time_s, turned(frame, degrees)

    recording.frames = upright()
    if degrees in (90, 270):
        recording.frame_size = recording.frame_size[::-1]
    recording.notes.append(f"{video.name}: stored turned, with no rotation metadata: its frames were turned"
                           f" {degrees} degrees clockwise to make the faces upright")
    return recording
