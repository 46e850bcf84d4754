"""Finding faces in frames and cutting them out as the model's 48x48 grey input.

Detection: YuNet (``cv2.FaceDetectorYN``; its MIT-licensed ONNX file ships in ``fer/assets``), which
also gives five landmarks per face, or OpenCV's Haar cascade (shipped inside opencv-python 4.x) as
the fallback. Detection runs on a copy of the frame scaled to ``detect_width`` pixels, which keeps its
cost independent of the recording's resolution.

Crops: a face with landmarks is aligned (rotated so the eyes are level, scaled and centred by a
``Framing``, as FER-2013 frames its faces); a face without (Haar) is its box widened by a margin.
``face_crop`` is the one function that both preprocess (training data) and playtest analysis use.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

FACE_SIZE = 48
YUNET_MODEL = Path(__file__).resolve().parent / "assets" / "face_detection_yunet_2023mar.onnx"
DETECTORS = ("yunet", "haar")
Point = tuple[float, float]


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
        inter = self.intersection(other)
        return inter / float(self.w * self.h + other.w * other.h - inter)

    def intersection(self, other: "Box") -> float:
        left, top = max(self.x, other.x), max(self.y, other.y)
        right, bottom = min(self.x + self.w, other.x + other.w), min(self.y + self.h, other.y + other.h)
        return max(0, right - left) * max(0, bottom - top)

    def overlap(self, other: "Box") -> float:
        """The share of the smaller box that lies inside the other (1: one box holds the other)."""
        return self.intersection(other) / float(min(self.w * self.h, other.w * other.h) or 1)


@dataclass(frozen=True)
class Face:
    """A detected face: its box, the detector's score, and YuNet's five landmarks in frame pixels (the
    person's right eye, left eye, nose tip, right and left mouth corner), None from Haar."""
    box: Box
    score: float = 1.0
    landmarks: tuple[Point, Point, Point, Point, Point] | None = None


@dataclass(frozen=True)
class Framing:
    """Where an aligned face sits in its crop: the distance between the eyes' centres and the height of
    their midpoint, as fractions of the crop's side. The default classified best on micro-expressions'
    test split (bench/framing.py, docs/playtest.md); FER-2013's own faces have them at 0.37 and 0.38."""
    eye_distance: float = 0.40
    eye_level: float = 0.26


class FaceDetector:
    """Faces in a BGR or grey frame, in the frame's own pixel coordinates, at least ``min_face_px`` wide."""

    def __init__(self, detector: str = "yunet", detect_width: int = 480, score_threshold: float = 0.7,
                 min_face_px: int = 20, yunet_model: Path = YUNET_MODEL, min_face_fraction: float = 0.08):
        if detector not in DETECTORS:
            raise ValueError(f"detector must be one of {', '.join(DETECTORS)}, not {detector!r}")
        self.detector, self.detect_width, self.min_face_px = detector, detect_width, min_face_px
        self.min_face_fraction = min_face_fraction
        if detector == "yunet":
            if not Path(yunet_model).is_file():
                raise FileNotFoundError(f"YuNet model file {yunet_model} does not exist (reinstall the package)")
            self.yunet = cv2.FaceDetectorYN.create(str(yunet_model), "", (320, 320), score_threshold)
        else:
            self.haar = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"))
            if self.haar.empty():
                raise RuntimeError("OpenCV's Haar cascade is missing: install opencv-python-headless 4.x")

    def detect(self, frame: np.ndarray) -> list[Face]:
        scale = min(1.0, self.detect_width / frame.shape[1])
        small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else frame
        faces = self._yunet(small) if self.detector == "yunet" else self._haar(small)
        return [unscaled(face, scale) for face in faces if face.box.w / scale >= self.min_face_px]

    def _yunet(self, image: np.ndarray) -> list[Face]:
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        self.yunet.setInputSize((image.shape[1], image.shape[0]))
        _, found = self.yunet.detect(image)
        if found is None:
            return []
        return [Face(Box(*(int(round(v)) for v in row[:4])), float(row[14]),
                     tuple((float(row[4 + 2 * i]), float(row[5 + 2 * i])) for i in range(5))) for row in found]

    def _haar(self, image: np.ndarray) -> list[Face]:
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        smallest = max(20, int(self.min_face_fraction * min(grey.shape)))
        boxes = self.haar.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(smallest, smallest))
        return [Face(Box(int(x), int(y), int(w), int(h))) for x, y, w, h in boxes]


def unscaled(face: Face, scale: float) -> Face:
    """A face found on a copy of the frame scaled by ``scale``, in the frame's own pixels."""
    box = Box(*(int(v / scale) for v in (face.box.x, face.box.y, face.box.w, face.box.h)))
    landmarks = None if face.landmarks is None else tuple((x / scale, y / scale) for x, y in face.landmarks)
    return Face(box, face.score, landmarks)


def grey(frame: np.ndarray) -> np.ndarray:
    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def crop_face(frame: np.ndarray, box: Box, margin: float = 0.1) -> np.ndarray:
    """The face inside ``box`` widened by ``margin`` on each side, as 48x48 grey levels 0..255."""
    image = grey(frame)
    pad_x, pad_y = int(box.w * margin), int(box.h * margin)
    top, bottom = max(0, box.y - pad_y), min(image.shape[0], box.y + box.h + pad_y)
    left, right = max(0, box.x - pad_x), min(image.shape[1], box.x + box.w + pad_x)
    return cv2.resize(image[top:bottom, left:right], (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)


def eyes(face: Face) -> tuple[np.ndarray, np.ndarray]:
    """The eye on the image's left (the person's right eye) and the one on its right."""
    right_eye, left_eye = (np.array(point) for point in face.landmarks[:2])
    return right_eye, left_eye


def alignment(face: Face, framing: Framing, size: int = FACE_SIZE) -> np.ndarray:
    """The 2x3 affine transform from frame pixels to a ``size`` crop with the eyes level and placed by
    ``framing``."""
    right_eye, left_eye = eyes(face)
    dx, dy = left_eye - right_eye
    angle = math.degrees(math.atan2(dy, dx))
    scale = framing.eye_distance * size / max(math.hypot(dx, dy), 1e-6)
    middle = (right_eye + left_eye) / 2
    matrix = cv2.getRotationMatrix2D((float(middle[0]), float(middle[1])), angle, scale)
    matrix[:, 2] += (size / 2 - middle[0], framing.eye_level * size - middle[1])
    return matrix


def align_face(frame: np.ndarray, face: Face, framing: Framing = Framing()) -> np.ndarray:
    """The face rotated so its eyes are level, scaled and centred by ``framing``, as 48x48 grey levels.
    Drawn at four times the size and then shrunk by area, so a large face is not aliased."""
    big = 4 * FACE_SIZE
    warped = cv2.warpAffine(grey(frame), alignment(face, framing, big), (big, big), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    return cv2.resize(warped, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)


def face_crop(frame: np.ndarray, face: Face, framing: Framing = Framing(), margin: float = 0.0,
              align: bool = True) -> np.ndarray:
    """The model's input for one face: aligned by ``framing`` when the face has landmarks and ``align``
    is on, else its box widened by ``margin``."""
    if align and face.landmarks is not None:
        return align_face(frame, face, framing)
    return crop_face(frame, face.box, margin)


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian of a 48x48 crop: low for a blurred face."""
    return float(cv2.Laplacian(crop, cv2.CV_64F).var())


def head_pose(face: Face) -> tuple[float, float, float] | None:
    """Yaw, pitch and roll in degrees, estimated from the five landmarks (None without them).

    Roll is the eye line's angle. With the landmarks turned so the eyes are level, yaw comes from how far
    the nose tip sits off the eyes' midpoint (as a share of half the eye distance: 1 at about 90
    degrees), pitch from the nose tip's height between the eye line and the mouth line (frontal faces
    have it at about 0.5). Both are coarse: good for telling a face turned away from one facing the
    screen, not for measuring angles.
    """
    if face.landmarks is None:
        return None
    points = np.array(face.landmarks)
    right_eye, left_eye = points[0], points[1]
    dx, dy = left_eye - right_eye
    roll = math.degrees(math.atan2(dy, dx))
    cos, sin = math.cos(math.radians(-roll)), math.sin(math.radians(-roll))
    level = (points - (right_eye + left_eye) / 2) @ np.array([[cos, sin], [-sin, cos]])
    half_eyes = max(math.hypot(dx, dy) / 2, 1e-6)
    nose, mouth_y = level[2], (level[3, 1] + level[4, 1]) / 2
    yaw = math.degrees(math.asin(float(np.clip(nose[0] / half_eyes, -1, 1))))
    height = nose[1] / mouth_y if mouth_y > 1e-6 else 0.5
    pitch = math.degrees(math.asin(float(np.clip((height - 0.5) * 2, -1, 1))))
    return round(yaw, 1), round(pitch, 1), round(roll, 1)
