"""The settings of a playtest analysis: every knob of `fer analyze`, one field each (fer/cli/analyze.py gives each
its flag, help and range), recorded in each summary and part of the fingerprint that decides re-analysis."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class AnalysisSettings:
    sample_fps: float = 2.0  # frames analysed per second of recording
    smoothing_s: float = 2.0  # width of the centred moving average of the timelines
    detector: str = "yunet"  # or "haar", the fallback
    face_score: float = 0.7  # YuNet's score threshold
    min_face_px: int = 20  # smaller detections are dropped as noise
    detect_width: int = 480  # 320 is faster but its landmarks tilt and turn less (docs/playtest.md#speed)
    align: bool = False  # the committed model was trained on unaligned crops (docs/playtest.md: Crops and framing)
    face_margin: float = 0.0  # widening of unaligned crops (Haar boxes already frame a face about as FER-2013 does)
    min_track_s: float = 1.0  # a track becomes a player once seen over this long
    quality_min_face_px: int = 32
    quality_min_sharpness: float = 20.0
    quality_max_yaw: float = 50.0
    quality_max_pitch: float = 40.0
    attention_max_yaw: float = 25.0
    attention_max_pitch: float = 25.0
    baseline_segment: str | None = None  # calibration baseline; None: each player's session-wide median
    reaction_window_s: float = 5.0  # segment after an event that has no end
    clock_offset_s: float = 0.0  # video time = event time + offset
    strongest_moments: int = 5
    batch_size: int = 64
    precision: str = "auto"  # of an in-process SavedModel: auto, float32, bfloat16, int8 (fer.serving.client.local_precision)
    save_faces: bool = False  # privacy by default: face crops are written only when asked for
