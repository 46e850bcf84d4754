"""Session summaries with known values, as fer analyze writes them, for the statistics and participants tests."""
from __future__ import annotations

import json
from pathlib import Path

from fer.contract import CLASS_NAMES

SEGMENTS = [("1 / intro", 0.0, 10.0), ("3 / boss", 10.0, 20.0)]


def player_stats(valence: float, happy: float = 0.3, face_frames: int = 20) -> dict:
    shares = {e: 0.0 for e in CLASS_NAMES}
    shares.update(happy=happy, neutral=1 - happy)
    return {"face_frames": face_frames, "valence": valence, "arousal": valence / 2, "face_visible_ratio": 0.9,
            "attention": 0.8, "emotion_share": shares, "valence_calibrated": valence - 0.1,
            "arousal_calibrated": 0.0, "emotion_shift": {e: 0.0 for e in CLASS_NAMES}}


def summary(session: str, build: str | None, valence: dict[str, float], happy: float = 0.3,
            source: str | None = None, model: str = "serving/models/fer_fast") -> dict:
    """One player whose valence over each segment of SEGMENTS is ``valence[segment]``."""
    segments = [{"segment": name, "event": name, "level": None, "start_s": start, "end_s": end, "moment": False,
                 **player_stats(valence[name], happy)} for name, start, end in SEGMENTS]
    whole = sum(valence.values()) / len(valence)
    return {"session": session, "build": build, "source": source, "model": model, "duration_s": 20.0,
            "players": 1, "face_visible_ratio": 0.9, "per_player": {"1": {**player_stats(whole, happy),
                                                                          "segments": segments}},
            "segments": [{k: s[k] for k in ("segment", "event", "level", "start_s", "end_s", "moment")}
                         for s in segments],
            "strongest_moments": [{"time_s": 12.0, "player": 1, "emotion": "happy", "probability": happy}],
            "warnings": []}


def write(folder: Path, content: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps(content))
    return folder / "summary.json"
