"""A session's tables as the columns the page draws: one lane per player, and face visibility.

Finished sessions draw timeline.csv (smoothed probabilities, valence, arousal, and whatever other numeric
columns later analyses add: calibrated measures, attention); live ones draw the raw rows of the live
frames.csv, with valence and arousal computed here from the circumplex in live.json, as analysis does.
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

BOX_COLUMNS = {"x", "y", "w", "h"}


def _column(values: pd.Series) -> list:
    return [None if isinstance(v, float) and math.isnan(v) else v for v in values.tolist()]


def visibility(frames: pd.DataFrame) -> dict:
    """Per sampled time, how many faces were seen."""
    counts = frames.assign(face=frames.player > 0).groupby("time_s", sort=True).face.sum()
    return {"time_s": counts.index.tolist(), "faces": [int(c) for c in counts]}


def players(timeline: pd.DataFrame) -> dict[str, dict]:
    """Per player, every numeric column of ``timeline`` (but the box) as a list, in time order."""
    numeric = [c for c in timeline.columns if c not in BOX_COLUMNS | {"player"}
               and pd.api.types.is_numeric_dtype(timeline[c])]
    return {str(int(player)): {c: _column(rows[c]) for c in numeric}
            for player, rows in timeline.sort_values("time_s").groupby("player")}


def with_circumplex(faces: pd.DataFrame, circumplex: dict) -> pd.DataFrame:
    """Raw rows of faces with valence and arousal, the expectations over the circumplex."""
    emotions = [e for e in circumplex if f"p_{e}" in faces.columns]
    values = faces[[f"p_{e}" for e in emotions]].to_numpy(dtype=float)
    return faces.assign(valence=values @ np.array([circumplex[e][0] for e in emotions]),
                        arousal=values @ np.array([circumplex[e][1] for e in emotions]))


def finished_lanes(folder: Path) -> dict:
    frames = pd.read_csv(folder / "frames.csv")
    timeline = pd.read_csv(folder / "timeline.csv")
    return {"visibility": visibility(frames), "players": players(timeline)}


def live_lanes(rows: pd.DataFrame, circumplex: dict) -> dict:
    faces = rows[rows.player > 0]
    return {"visibility": visibility(rows), "players": players(with_circumplex(faces, circumplex))}


def read_live_rows(frames_csv: Path, offset: int = 0) -> tuple[pd.DataFrame, int]:
    """The complete lines of a live frames.csv after byte ``offset`` (0: from the start), and where they end."""
    data = frames_csv.read_bytes()
    header_end = data.index(b"\n") + 1 if b"\n" in data else 0
    start = max(offset, header_end)
    end = data.rfind(b"\n") + 1
    if header_end == 0 or end <= start:
        return pd.DataFrame(columns=["time_s", "player"]), max(start, header_end)
    table = pd.read_csv(io.BytesIO(data[:header_end] + data[start:end]))
    return table.astype({"player": int}), end
