"""Frames of a recording, sampled at a fixed rate: a video file, a folder of images, or a camera."""
from __future__ import annotations

import logging
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
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


def _video(path: Path, sample_fps: float) -> Recording:
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        raise RecordingError(f"{path}: not a video OpenCV can decode")
    fps = capture.get(cv2.CAP_PROP_FPS)
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    if not fps or fps <= 0 or count <= 0:
        capture.release()
        raise RecordingError(f"{path}: the video has no frames or no frame rate")
    step = max(1, round(fps / sample_fps))

    def frames() -> Iterator[tuple[float, np.ndarray]]:
        index = 0
        try:
            while capture.grab():  # grab without converting: skipped frames cost only their decoding
                if index % step == 0:
                    ok, frame = capture.retrieve()
                    if not ok:
                        raise RecordingError(f"{path}: frame {index} cannot be decoded")
                    yield index / fps, frame
                index += 1
        finally:
            capture.release()
        if index == 0:
            raise RecordingError(f"{path}: no frame could be decoded (corrupt file)")
        if index < count - max(2, 0.02 * count):
            raise RecordingError(f"{path}: truncated: decoded {index} of the {count} frames its header announces")

    return Recording(path.name, count / fps, size, frames(), (count + step - 1) // step)


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
