"""Analysis of the hard parts of real face-cam footage, on generated videos of real FER-2013 faces: tilted
heads, a zoom from close-up to wide shot, a hand over the face, a face-like object behind the player, and a
head turned away. Each must give exactly one player; tilt is measured and aligned away."""
from __future__ import annotations

import json
from dataclasses import replace

import cv2
import numpy as np
import pandas as pd
import pytest

from fer.playtest.sessions import analyze_many
from tests.test_playtest import FPS, SETTINGS, SIZE, model, real_faces  # noqa: F401 (fixtures)

SECONDS = 6


def canvas() -> np.ndarray:
    return np.full((SIZE[1], SIZE[0]), 110, np.uint8)


def paste(frame: np.ndarray, face: np.ndarray, center: tuple[int, int], face_px: int, tilt: float = 0.0) -> None:
    face = cv2.resize(face, (face_px, face_px), interpolation=cv2.INTER_CUBIC)
    if tilt:
        face = cv2.warpAffine(face, cv2.getRotationMatrix2D((face_px / 2, face_px / 2), tilt, 1.0),
                              (face_px, face_px), borderValue=110)
    x, y = center[0] - face_px // 2, center[1] - face_px // 2
    frame[max(0, y):y + face_px, max(0, x):x + face_px] = face[max(0, -y):, max(0, -x):][:SIZE[1] - max(0, y),
                                                                                        :SIZE[0] - max(0, x)]


def cartoon_face(frame: np.ndarray) -> None:
    """A smiley poster on the wall behind the player: a face-like object that is not a face."""
    cv2.circle(frame, (560, 90), 55, 200, -1)
    cv2.circle(frame, (540, 75), 8, 30, -1)
    cv2.circle(frame, (580, 75), 8, 30, -1)
    cv2.ellipse(frame, (560, 105), (25, 14), 0, 0, 180, 30, 4)


def scenario_frames(name: str, faces: list[np.ndarray]) -> list[np.ndarray]:
    frames = []
    for index in range(SECONDS * FPS):
        t, frame, face = index / FPS, canvas(), faces[(index // FPS) % len(faces)]
        if name == "tilted":
            paste(frame, face, (320, 240), 220, tilt=20 if t < SECONDS / 2 else -20)
        elif name == "zoom":
            paste(frame, face, (320, 240), int(400 - 300 * t / SECONDS))
        elif name == "hand":
            paste(frame, face, (320, 240), 220)
            if 2 <= t < 3.5:
                cv2.rectangle(frame, (180, 150), (460, 330), 170, -1)  # a hand (or a drink) over the face
        elif name == "poster":
            cartoon_face(frame)
            paste(frame, face, (300, 260), 200)
        elif name == "turned away":
            if 2 <= t < 5:  # the back of the head: no face, then the same player returns
                cv2.ellipse(frame, (320, 240), (100, 120), 0, 0, 360, 60, -1)
            else:
                paste(frame, face, (320, 240), 220)
        frames.append(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    return frames


def analysed(name: str, faces: list[np.ndarray], folder, model) -> tuple[dict, pd.DataFrame]:  # noqa: F811
    video = folder / f"{name.replace(' ', '_')}.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    for frame in scenario_frames(name, faces):
        writer.write(frame)
    writer.release()
    settings = replace(SETTINGS, align=name == "tilted")  # alignment is what takes the tilt away
    result = analyze_many([video], folder / "results", model, settings, progress=False)
    assert result["done"] == [str(video)], result
    out = folder / "results" / video.stem
    return json.loads((out / "summary.json").read_text()), pd.read_csv(out / "frames.csv")


@pytest.mark.parametrize("name", ["tilted", "zoom", "hand", "poster", "turned away"])
def test_hard_footage_gives_exactly_one_player(name, real_faces, model, tmp_path):  # noqa: F811
    summary, frames = analysed(name, real_faces["happy"], tmp_path, model)
    assert summary["players"] == 1, frames[["time_s", "player", "quality", "w"]].to_string()
    player = summary["per_player"]["1"]
    if name == "tilted":
        faces = frames[frames.player == 1]
        first, second = faces[faces.time_s < SECONDS / 2].roll, faces[faces.time_s >= SECONDS / 2].roll
        assert first.mean() < -5 and second.mean() > 5, faces.roll.tolist()  # each tilt is seen ...
        assert player["dominant_emotion"] == "happy"  # ... and aligned away
    if name in ("hand", "turned away"):
        hidden = frames[(frames.time_s >= 2.2) & (frames.time_s < 3.4)]
        assert (hidden.player == 0).all()  # no face while hidden: counted as not looking
        assert player["attention"] < 0.9 and player["face_visible_ratio"] < 0.9
        assert (frames[frames.time_s >= 5.5].player == 1).all()  # and the same player after
