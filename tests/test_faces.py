"""fer.faces: the shipped YuNet detector, alignment by the eyes, head pose, and the one crop function."""
from __future__ import annotations

import hashlib
import math
import subprocess
import sys
import zipfile

import cv2
import numpy as np
import pytest

from fer.faces import (FACE_SIZE, YUNET_MODEL, Box, Face, FaceDetector, Framing, align_face, alignment, face_crop,
                       head_pose)

YUNET_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"


def test_yunet_ships_inside_the_installed_package_with_its_licence():
    """Found from the installed package itself (no network, no shared folder), as `pip install` leaves it."""
    located = subprocess.run([sys.executable, "-c", "import importlib.resources as r; "
                              "print(r.files('fer') / 'assets' / 'face_detection_yunet_2023mar.onnx')"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert located == str(YUNET_MODEL)
    assert hashlib.sha256(YUNET_MODEL.read_bytes()).hexdigest() == YUNET_SHA256
    assert "MIT License" in YUNET_MODEL.with_suffix(".LICENSE").read_text()
    detector = FaceDetector()  # the default: YuNet
    assert detector.detector == "yunet"
    assert detector.detect(np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)) == []


def rotated(points: np.ndarray, degrees: float, center: tuple[float, float]) -> np.ndarray:
    angle = math.radians(degrees)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return (points - center) @ rotation.T + center


FRONTAL = np.array([[100.0, 100.0], [160.0, 100.0], [130.0, 130.0], [108.0, 160.0], [152.0, 160.0]])


def face_from(points: np.ndarray) -> Face:
    return Face(Box(70, 60, 120, 140), 0.9, tuple(map(tuple, points)))


@pytest.mark.parametrize("tilt", [-25, -15, 0, 15, 25])
def test_alignment_levels_the_eyes_and_places_them_by_the_framing(tilt):
    points = rotated(FRONTAL, tilt, (130, 130))
    framing = Framing(eye_distance=0.4, eye_level=0.35)
    matrix = alignment(face_from(points), framing)
    right_eye, left_eye = (matrix @ np.append(p, 1.0) for p in points[:2])
    np.testing.assert_allclose(right_eye, [FACE_SIZE * 0.3, FACE_SIZE * 0.35], atol=1e-4)
    np.testing.assert_allclose(left_eye, [FACE_SIZE * 0.7, FACE_SIZE * 0.35], atol=1e-4)


def test_head_pose_from_landmarks():
    yaw, pitch, roll = head_pose(face_from(FRONTAL))
    assert abs(yaw) < 1 and abs(roll) < 1 and abs(pitch) < 15
    assert head_pose(face_from(rotated(FRONTAL, 20, (130, 130))))[2] == pytest.approx(20, abs=0.5)
    turned = FRONTAL.copy()
    turned[2, 0] += 20  # the nose towards the person's left: the head turned
    assert head_pose(face_from(turned))[0] > 30
    assert head_pose(Face(Box(0, 0, 10, 10))) is None


def test_a_face_without_landmarks_is_cropped_by_its_box():
    frame = np.arange(200 * 200, dtype=np.uint32).reshape(200, 200).astype(np.uint8)
    face = Face(Box(50, 50, 100, 100))
    assert face_crop(frame, face).shape == (FACE_SIZE, FACE_SIZE)
    np.testing.assert_array_equal(face_crop(frame, face, margin=0.1),
                                  cv2.resize(frame[40:160, 40:160], (48, 48), interpolation=cv2.INTER_AREA))


def fer_faces(shared_datasets, prefix: str = "test/happy/PrivateTest", count: int = 10) -> list[np.ndarray]:
    with zipfile.ZipFile(shared_datasets / "fer2013.zip") as archive:
        names = sorted(n for n in archive.namelist() if n.startswith(prefix))[:count]
        return [cv2.imdecode(np.frombuffer(archive.read(n), np.uint8), cv2.IMREAD_GRAYSCALE) for n in names]


def framed(face: np.ndarray, tilt: float) -> np.ndarray:
    """The face at 200 px in a grey 400 px frame, turned by ``tilt`` degrees (counter-clockwise)."""
    frame = np.full((400, 400), 110, np.uint8)
    frame[100:300, 100:300] = cv2.resize(face, (200, 200), interpolation=cv2.INTER_CUBIC)
    return cv2.warpAffine(frame, cv2.getRotationMatrix2D((200, 200), tilt, 1.0), (400, 400), borderValue=110)


@pytest.mark.parametrize("tilt", [15, 25])
def test_tilted_real_faces_are_aligned_like_the_upright_ones(shared_datasets, tilt):
    """FER-2013 faces shown upright and tilted in a frame: the tilt is seen, and aligned crops of the two agree
    better than unaligned ones. YuNet's landmarks on these 48-pixel faces (upscaled) are coarse, about 8
    degrees apart from frame to frame, so this holds over faces, not for each one."""
    detector = FaceDetector()
    rolls, aligned, unaligned = [], [], []
    for face in fer_faces(shared_datasets, count=20):
        upright, tilted = framed(face, 0), framed(face, tilt)
        found = [detector.detect(upright), detector.detect(tilted)]
        if [len(f) for f in found] != [1, 1]:
            continue
        (upright_face,), (tilted_face,) = found
        rolls.append(head_pose(tilted_face)[2] - head_pose(upright_face)[2])
        aligned.append(similarity(align_face(upright, upright_face), align_face(tilted, tilted_face)))
        unaligned.append(similarity(face_crop(upright, upright_face, align=False),
                                    face_crop(tilted, tilted_face, align=False)))
    assert len(rolls) >= 10
    assert -1.3 * tilt < np.median(rolls) < -0.5 * tilt  # image y points down: a counter-clockwise tilt is negative
    assert np.mean(aligned) > np.mean(unaligned) + 0.1, (np.mean(aligned), np.mean(unaligned))


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1])
