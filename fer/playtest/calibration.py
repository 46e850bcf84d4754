"""Per-player calibration: each player's emotions relative to their own resting face.

Faces differ at rest: glasses and a headset can make a resting face read as "angry". A player's
baseline is the median of each measure (the seven probabilities, valence, arousal) over a baseline
segment (the one named by the ``baseline_segment`` setting, e.g. a ``lobby`` or ``menu`` event) or,
when none is named or the player has no face in it, over the player's whole session. A calibrated
measure is the measure minus that baseline: 0 is "as this player at rest", so players are compared
by how the game moves them, not by their faces.
"""
from __future__ import annotations

import pandas as pd

SESSION_MEDIAN = "(session median)"


def calibrated_name(measure: str) -> str:
    return f"{measure}_calibrated"


def player_baselines(timeline: pd.DataFrame, measures: list[str], spans: list[dict], segment: str | None
                     ) -> tuple[dict[int, dict], list[str]]:
    """Per player: where its baseline comes from and each measure's baseline value; and warnings for
    players whose baseline segment had no face (they fall back to their session median)."""
    baselines, warnings = {}, []
    windows = [(s["start_s"], s["end_s"]) for s in spans if segment is not None and segment in (s["segment"], s["event"])]
    if segment is not None and not windows:
        warnings.append(f"baseline segment {segment!r} is not among the events: session medians are used")
    for player, rows in timeline.groupby("player"):
        inside = rows[[any(start <= t < end for start, end in windows) for t in rows.time_s]] if windows else rows[:0]
        source = segment if len(inside) else SESSION_MEDIAN
        if windows and not len(inside):
            warnings.append(f"player {player} shows no face during baseline segment {segment!r}: their session"
                            " median is used")
        chosen = inside if len(inside) else rows
        baselines[int(player)] = {"from": source, "frames": int(len(chosen)),
                                  "values": {m: round(float(chosen[m].median()), 5) for m in measures}}
    return baselines, warnings


def calibrate(timeline: pd.DataFrame, baselines: dict[int, dict], measures: list[str]) -> pd.DataFrame:
    """The timeline with ``<measure>_calibrated`` = measure minus its player's baseline, for each measure."""
    calibrated = timeline.copy()
    for measure in measures:
        base = timeline.player.map(lambda p: baselines[int(p)]["values"][measure])
        calibrated[calibrated_name(measure)] = timeline[measure] - base.astype(float)
    return calibrated
