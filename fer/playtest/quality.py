"""Frame quality per face: size, sharpness and head pose; faces below the settings are not classified.

A face too small, too blurred or turned too far from the camera is recorded with the reason instead of
being classified, since the model reads such faces poorly. Whether a face faces the screen (its head
pose within the attention limits) gives each player's attention: the share of sampled time spent
looking at the game.
"""
from __future__ import annotations

import numpy as np

from fer.faces import Face, head_pose, sharpness
from fer.playtest.settings import AnalysisSettings

OK = "ok"


def face_quality(face: Face, crop: np.ndarray, settings: AnalysisSettings) -> dict:
    """The face's size, sharpness, head pose (None without landmarks), whether it faces the screen, and
    its ``quality``: "ok", or why it is not classified."""
    pose = head_pose(face)
    yaw, pitch, roll = pose if pose is not None else (None, None, None)
    values = {"face_px": face.box.w, "sharpness": round(sharpness(crop), 1), "yaw": yaw, "pitch": pitch,
              "roll": roll, "facing_screen": None if pose is None else
              bool(abs(yaw) <= settings.attention_max_yaw and abs(pitch) <= settings.attention_max_pitch)}
    return {**values, "quality": quality_reason(values, settings)}


def quality_reason(values: dict, settings: AnalysisSettings) -> str:
    if values["face_px"] < settings.quality_min_face_px:
        return f"too small ({values['face_px']} px < {settings.quality_min_face_px})"
    if values["sharpness"] < settings.quality_min_sharpness:
        return f"blurred (sharpness {values['sharpness']:g} < {settings.quality_min_sharpness:g})"
    if values["yaw"] is not None and abs(values["yaw"]) > settings.quality_max_yaw:
        return f"turned aside (yaw {values['yaw']:g})"
    if values["pitch"] is not None and abs(values["pitch"]) > settings.quality_max_pitch:
        return f"turned up or down (pitch {values['pitch']:g})"
    return OK
