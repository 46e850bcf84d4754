"""fer.playtest.calibration: each measure relative to the player's own baseline, on a known baseline."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fer.playtest.calibration import SESSION_MEDIAN, calibrate, player_baselines

LOBBY = {"segment": "lobby", "event": "lobby", "start_s": 0.0, "end_s": 3.0}
BOSS = {"segment": "boss", "event": "boss", "start_s": 3.0, "end_s": 6.0}


def timeline() -> pd.DataFrame:
    """Player 1 reads angry at rest (0.6 in the lobby) and 0.8 at the boss; player 2 appears only later."""
    rows = [{"time_s": t, "player": 1, "p_angry": 0.6 if t < 3 else 0.8, "valence": -0.2} for t in range(6)]
    rows += [{"time_s": t, "player": 2, "p_angry": 0.1 * t, "valence": 0.5} for t in range(3, 6)]
    return pd.DataFrame(rows)


def test_the_baseline_segment_is_subtracted_per_player():
    baselines, warnings = player_baselines(timeline(), ["p_angry", "valence"], [LOBBY, BOSS], "lobby")
    assert baselines[1] == {"from": "lobby", "frames": 3, "values": {"p_angry": 0.6, "valence": -0.2}}
    assert baselines[2]["from"] == SESSION_MEDIAN and baselines[2]["values"]["p_angry"] == pytest.approx(0.4)
    assert any("player 2" in w and "lobby" in w for w in warnings)
    calibrated = calibrate(timeline(), baselines, ["p_angry", "valence"])
    player1 = calibrated[calibrated.player == 1]
    assert player1.p_angry_calibrated.round(6).tolist() == [0, 0, 0, 0.2, 0.2, 0.2]
    assert player1.valence_calibrated.round(6).tolist() == [0.0] * 6
    assert calibrated[calibrated.player == 2].p_angry_calibrated.round(6).tolist() == [-0.1, 0.0, 0.1]


def test_without_a_baseline_segment_each_players_session_median_is_the_baseline():
    baselines, warnings = player_baselines(timeline(), ["p_angry"], [LOBBY, BOSS], None)
    assert not warnings and baselines[1]["from"] == SESSION_MEDIAN
    assert baselines[1]["values"]["p_angry"] == pytest.approx(0.7)


def test_a_baseline_segment_that_is_not_an_event_is_said_once():
    _, warnings = player_baselines(timeline(), ["p_angry"], [BOSS], "menu")
    assert warnings == ["baseline segment 'menu' is not among the events: session medians are used"]


def session_summary(name: str, build: str, resting_anger: float, rng) -> dict:
    """A player who reads resting_anger in the lobby (0-5 s) and 0.2 more at the boss (5-10 s)."""
    from fer.playtest.analytics import PROBABILITY_COLUMNS, frame_table, smooth, summarize
    from fer.playtest.events import Event
    from fer.playtest.settings import AnalysisSettings
    rows = []
    for t in np.arange(0, 10, 0.5):
        anger = resting_anger + (0.2 if t >= 5 else 0.0) + rng.normal(0, 0.01)
        probabilities = dict.fromkeys(PROBABILITY_COLUMNS, 0.0) | {"p_angry": anger, "p_neutral": 1 - anger}
        rows.append({"time_s": float(t), "player": 1, "quality": "ok", **probabilities})
    frames = frame_table(rows)
    settings = AnalysisSettings(smoothing_s=0.0, baseline_segment="lobby")
    summary = summarize(frames, smooth(frames, 0.0), [Event(0, "lobby", 5), Event(5, "boss", 10)], 10.0, settings)
    return {**summary, "session": name, "build": build}


def test_compare_on_calibrated_measures_sees_the_game_not_the_faces(tmp_path):
    """Build A's players read angry at rest, build B's do not; both boss fights add the same anger. Raw shares
    valence differs significantly at the boss; calibrated valence and anger shift do not."""
    from fer.insight.aggregate import write_aggregate
    from fer.insight.compare import side_rows, write_comparison
    rng = np.random.default_rng(0)
    build_a = [session_summary(f"a{i}", "A", 0.6, rng) for i in range(5)]
    build_b = [session_summary(f"b{i}", "B", 0.1, rng) for i in range(5)]
    sides = side_rows({"A": build_a, "B": build_b})
    raw = write_comparison(*sides, tmp_path / "raw", ["A", "B"])
    calibrated = write_comparison(*sides, tmp_path / "calibrated", ["A", "B"], calibrated=True)
    boss = lambda table, measure: table[(table.segment == "boss") & (table.measure == measure)].iloc[0]  # noqa: E731
    assert boss(raw, "valence").significant and boss(raw, "angry").difference == -1.0
    assert boss(calibrated, "angry_shift").difference == pytest.approx(0.0, abs=0.02)
    assert boss(calibrated, "valence_calibrated").difference == pytest.approx(0.0, abs=0.02)
    assert not calibrated.significant.any()
    assert boss(calibrated, "angry_shift").n_a == 5
    table = write_aggregate(build_a, tmp_path / "aggregate", calibrated=True)
    assert set(table.measure) >= {"valence_calibrated", "angry_shift", "attention"}
    lobby = table[(table.segment == "lobby") & (table.measure == "angry_shift")].iloc[0]
    assert lobby["mean"] == pytest.approx(0.0, abs=0.02)
