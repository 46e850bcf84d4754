"""Finding faces in frames and cutting them out as the model's 48x48 grey input.

The default detector is OpenCV's Haar cascade, shipped inside the opencv-python 4.x wheel, so it
works offline out of the box; YuNet (``cv2.FaceDetectorYN``) is used instead when its ONNX model file
is given. Detection runs on a copy of the frame scaled to ``detect_width`` pixels, which keeps its
cost independent of the recording's resolution.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

FACE_SIZE = 48


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def iou(self, other: "Box") -> float:
        left, top = max(self.x, other.x), max(self.y, other.y)
        right, bottom = min(self.x + self.w, other.x + other.w), min(self.y + self.h, other.y + other.h)
        inter = max(0, right - left) * max(0, bottom - top)
        return inter / float(self.w * self.h + other.w * other.h - inter)


class FaceDetector:
    """Faces in a BGR or grey frame, as boxes in the frame's own pixel coordinates."""

    def __init__(self, yunet_model: Path | None = None, detect_width: int = 480, min_face_fraction: float = 0.08,
                 score_threshold: float = 0.7):
        self.detect_width, self.min_face_fraction = detect_width, min_face_fraction
        if yunet_model is not None:
            if not Path(yunet_model).is_file():
                raise FileNotFoundError(f"YuNet model file {yunet_model} does not exist")
            self.yunet = cv2.FaceDetectorYN.create(str(yunet_model), "", (320, 320), score_threshold)
            self.haar = None
        else:
            self.yunet = None
            self.haar = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"))
            if self.haar.empty():
                raise RuntimeError("OpenCV's Haar cascade is missing: install opencv-python-headless 4.x")

    def detect(self, frame: np.ndarray) -> list[Box]:
        scale = min(1.0, self.detect_width / frame.shape[1])
        small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else frame
        if self.yunet is not None:
            if small.ndim == 2:
                small = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)
            self.yunet.setInputSize((small.shape[1], small.shape[0]))
            _, found = self.yunet.detect(small)
            boxes = [] if found is None else [tuple(row[:4]) for row in found]
        else:
            grey = small if small.ndim == 2 else cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
            smallest = max(20, int(self.min_face_fraction * min(grey.shape)))
            boxes = self.haar.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(smallest, smallest))
        return [Box(int(x / scale), int(y / scale), int(w / scale), int(h / scale)) for x, y, w, h in boxes]


def crop_face(frame: np.ndarray, box: Box, margin: float = 0.1) -> np.ndarray:
    """The face inside ``box`` widened by ``margin`` on each side, as 48x48 grey levels 0..255."""
    grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    pad_x, pad_y = int(box.w * margin), int(box.h * margin)
    top, bottom = max(0, box.y - pad_y), min(grey.shape[0], box.y + box.h + pad_y)
    left, right = max(0, box.x - pad_x), min(grey.shape[1], box.x + box.w + pad_x)
    return cv2.resize(grey[top:bottom, left:right], (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)
