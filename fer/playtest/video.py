"""Frames of a recording, sampled at a fixed rate: a video file, a folder of images, or a camera."""
from __future__ import annotations

import logging
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
log = logging.getLogger(__name__)


class RecordingError(ValueError):
    """A recording that cannot be read; the message names it."""


@dataclass
class Recording:
    name: str
    duration_s: float | None  # None for a live camera
    frame_size: tuple[int, int]  # width, height
    frames: Iterator[tuple[float, np.ndarray]]  # (time in seconds, BGR frame)
    sampled_frames: int | None  # how many frames `frames` will yield, when known
    stop: threading.Event | None = None  # a live camera's: set, its frames end (see ends_on_ctrl_c)
    nominal_fps: float | None = None  # a video file's header frame rate
    variable_frame_rate: bool | None = None  # a video file's, once its frames are read
    notes: list[str] = field(default_factory=list)  # what reading the frames found, for the summary's warnings


def open_recording(source: str | Path | int, sample_fps: float, max_duration_s: float | None = None) -> Recording:
    """``source`` is a video file, a folder of images (one per 1/sample_fps s, in name order) or a camera index."""
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        return _camera(int(source), sample_fps, max_duration_s)
    path = Path(source)
    if path.is_dir():
        return _image_folder(path, sample_fps)
    if not path.is_file():
        raise RecordingError(f"{path}: no such video file or folder")
    return _video(path, sample_fps)


# A variable frame rate: more than VARIABLE_SHARE of the frame intervals differ from their median by more than
# VARIABLE_BY of it (a constant-rate file's differ by the rounding of their timestamps).
VARIABLE_BY, VARIABLE_SHARE = 0.2, 0.01


def _video(path: Path, sample_fps: float) -> Recording:
    """Frames timed by their presentation time (not index / nominal fps: phones, OBS and screen recorders write
    variable-frame-rate files), sampled at even steps of real time: the first frame at or after each step."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        raise RecordingError(f"{path}: not a video OpenCV can decode")
    fps = capture.get(cv2.CAP_PROP_FPS)
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    if not fps or fps <= 0 or count <= 0:
        capture.release()
        raise RecordingError(f"{path}: the video has no frames or no frame rate")
    header_s = count / fps
    slack = 0.25 / fps  # a frame this early still counts for its step (timestamps are rounded to the ms)

    def frames() -> Iterator[tuple[float, np.ndarray]]:
        index, step, times = 0, 0, []
        try:
            while capture.grab():  # grab without converting: skipped frames cost only their decoding
                time_s = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000
                if times and time_s <= times[-1]:  # no usable timestamp: the nominal rate
                    time_s = times[-1] + 1 / fps
                times.append(time_s)
                if time_s + slack >= step / sample_fps:
                    ok, frame = capture.retrieve()
                    if not ok:
                        raise RecordingError(f"{path}: frame {index} cannot be decoded")
                    yield round(time_s, 4), frame
                    step = int((time_s + slack) * sample_fps) + 1
                index += 1
        finally:
            capture.release()
        if index == 0:
            raise RecordingError(f"{path}: no frame could be decoded (corrupt file)")
        recording.duration_s = _measured(recording, path, times, header_s, count, fps)

    recording = Recording(path.name, header_s, size, frames(), max(1, round(header_s * sample_fps)), nominal_fps=fps)
    return recording


def _measured(recording: Recording, path: Path, times: list[float], header_s: float, count: int, fps: float
              ) -> float:
    """The recording's duration as its frames span it; notes a variable frame rate and a header that disagrees
    with the frames; RecordingError where frames stop well before the header says (a truncated file)."""
    intervals = np.diff(times) if len(times) > 1 else np.array([1 / fps])
    typical = float(np.median(intervals))
    measured = times[-1] + typical
    off = np.abs(intervals - typical) > VARIABLE_BY * typical
    recording.variable_frame_rate = bool(off.mean() > VARIABLE_SHARE)
    if recording.variable_frame_rate:
        recording.notes.append(f"{path.name}: variable frame rate ({int(off.sum())} of {len(intervals)} frame intervals"
                               f" from {intervals.min() * 1000:.0f} to {intervals.max() * 1000:.0f} ms; header"
                               f" {fps:.2f} fps): frames are timed by their timestamps")
    if len(times) < count - max(2, 0.02 * count) and measured < header_s - max(2 / fps, 0.02 * header_s):
        raise RecordingError(f"{path}: truncated: decoded {len(times)} of the {count} frames its header announces"
                             f" ({measured:.1f} of {header_s:.1f} s)")
    if abs(measured - header_s) > max(0.5, 0.05 * header_s):
        recording.notes.append(f"{path.name}: its header's duration ({header_s:.1f} s, {count} frames at {fps:.2f} fps)"
                               f" disagrees with its frames ({measured:.1f} s, {len(times)} frames): timed by the frames")
    return measured


def _image_folder(path: Path, sample_fps: float) -> Recording:
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise RecordingError(f"{path}: the folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    first = cv2.imread(str(files[0]))
    if first is None:
        raise RecordingError(f"{files[0]}: not an image OpenCV can decode")

    def frames() -> Iterator[tuple[float, np.ndarray]]:
        for index, file in enumerate(files):
            frame = cv2.imread(str(file))
            if frame is None:
                raise RecordingError(f"{file}: not an image OpenCV can decode")
            yield index / sample_fps, frame

    return Recording(path.name, len(files) / sample_fps, (first.shape[1], first.shape[0]), frames(), len(files))


def open_camera(index: int) -> cv2.VideoCapture:
    return cv2.VideoCapture(index)


def _camera(index: int, sample_fps: float, max_duration_s: float | None) -> Recording:
    capture = open_camera(index)
    if not capture.isOpened():
        raise RecordingError(f"camera {index}: cannot be opened")
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    stop = threading.Event()

    def frames() -> Iterator[tuple[float, np.ndarray]]:
        started, next_sample = time.monotonic(), 0.0
        try:
            while not stop.is_set() and (max_duration_s is None or time.monotonic() - started < max_duration_s):
                ok, frame = capture.read()
                if not ok:
                    raise RecordingError(f"camera {index}: stopped delivering frames")
                now = time.monotonic() - started
                if now >= next_sample:
                    next_sample += 1.0 / sample_fps
                    yield now, frame
        finally:
            capture.release()

    return Recording(f"camera{index}", None, size, frames(), None, stop)


@contextmanager
def ends_on_ctrl_c(recording: Recording):
    """While a live recording is analysed: the first Ctrl-C ends the recording, which is then analysed and
    written as any other; a second one interrupts as Ctrl-C always does. (Only where signals can be
    handled, the main thread; elsewhere, and for files, Ctrl-C interrupts at once.)"""
    if recording.stop is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:  # started in the background (`fer analyze ... &`): Ctrl-C is not for it
        yield
        return

    def end_recording(signum, frame):
        if recording.stop.is_set():
            raise KeyboardInterrupt
        recording.stop.set()
        log.warning("%s: Ctrl-C: recording ended; its session is being written (Ctrl-C again abandons it)",
                    recording.name)

    signal.signal(signal.SIGINT, end_recording)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
