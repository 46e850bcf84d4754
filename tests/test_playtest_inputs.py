"""Playtest analytics on bad input: each gets a clear message naming the culprit."""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pandas as pd
import pytest

from fer.contract import CLASS_NAMES
from fer.playtest.analytics import CIRCUMPLEX, PROBABILITY_COLUMNS, frame_table, smooth, summarize
from fer.playtest.settings import AnalysisSettings
from fer.playtest.events import Event, EventsError, load_events
from fer.playtest.sessions import analyze_session
from fer.playtest.video import RecordingError, open_recording
from fer.serving.client import LocalModel
from tests.conftest import REPO


def noise_video(path, frames: int = 40, fourcc: str = "MJPG") -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, (320, 240))
    rng = np.random.default_rng(1)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))
    writer.release()


def test_unreadable_and_missing_recordings_are_named(tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video at all" * 100)
    with pytest.raises(RecordingError, match="garbage.mp4: not a video"):
        open_recording(garbage, 2.0)
    with pytest.raises(RecordingError, match="nothing.mkv: no such"):
        open_recording(tmp_path / "nothing.mkv", 2.0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(RecordingError, match="holds no images"):
        open_recording(tmp_path / "empty", 2.0)


def test_truncated_video_is_reported_as_truncated(tmp_path):
    whole, cut = tmp_path / "whole.avi", tmp_path / "cut.avi"
    noise_video(whole, frames=60)
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert sum(1 for _ in open_recording(whole, 10.0).frames) == 60
    with pytest.raises(RecordingError, match="cut.avi: truncated: decoded"):
        for _ in open_recording(cut, 10.0).frames:
            pass


def test_a_video_without_faces_gives_a_report_that_says_so(tmp_path):
    video = tmp_path / "empty_room.avi"
    noise_video(video)
    summary = analyze_session(video, tmp_path / "out", LocalModel(REPO / "serving/models/fer_model"),
                              AnalysisSettings(sample_fps=5.0), progress=False)
    assert summary["players"] == 0 and summary["face_visible_ratio"] == 0.0 and summary["sampled_frames"] == 20
    assert any("no face was found" in warning for warning in summary["warnings"])
    assert "no face was found" in (tmp_path / "out" / "report.html").read_text()
    assert len(pd.read_csv(tmp_path / "out" / "frames.csv")) == 20


@pytest.mark.parametrize("name,text,message", [
    ("e.csv", "time,event\n1,start\nsoon,boss\n", r"e.csv:3: time and end must be numbers"),
    ("e.csv", "t,name\n1,start\n", r"e.csv:1: the header"),
    ("e.csv", "time,event,end\n5,boss,4\n", r"e.csv:2: .*end after it"),
    ("e.jsonl", '{"time": 1, "event": "start"}\n{"time": 2, "event": \n', r"e.jsonl:2: not JSON"),
    ("e.jsonl", '{"time": 1}\n', r"e.jsonl:1: no event name"),
])
def test_bad_event_lines_are_named(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(EventsError, match=message):
        load_events(tmp_path / name)


def test_events_load_from_csv_and_jsonl(tmp_path):
    (tmp_path / "a.csv").write_text("time,event,end,level\n30,boss,60,2\n0,start,,1\n")
    (tmp_path / "a.jsonl").write_text('{"time": 0, "event": "start", "level": 1}\n\n{"time": 30, "event": "boss",'
                                      ' "end": 60, "level": 2}\n')
    expected = [Event(0.0, "start", None, "1"), Event(30.0, "boss", 60.0, "2")]
    assert load_events(tmp_path / "a.csv") == expected == load_events(tmp_path / "a.jsonl")


def test_valence_and_arousal_follow_the_documented_formula():
    probabilities = np.eye(7)[[3, 3, 4, 4]] * 0.5 + np.full((4, 7), 0.5 / 7)
    frames = frame_table([{"time_s": t, "player": 1, "quality": "ok", **dict(zip(PROBABILITY_COLUMNS, p))}
                          for t, p in zip([0, 0.5, 1, 1.5], probabilities)])
    timeline = smooth(frames, smoothing_s=0.1)
    expected = probabilities @ np.array([CIRCUMPLEX[e][0] for e in CLASS_NAMES])
    np.testing.assert_allclose(timeline.valence, expected)
    summary = summarize(frames, timeline, [Event(0.9, "fall")], 2.0, AnalysisSettings(reaction_window_s=1.0))
    segment = summary["per_player"]["1"]["segments"][0]
    assert segment["dominant_emotion"] == "sad" and segment["face_frames"] == 2
    assert summary["per_player"]["1"]["emotion_share"] == {**{e: 0.0 for e in CLASS_NAMES}, "happy": 0.5, "sad": 0.5}


def test_cli_names_a_missing_model_or_server(tmp_path):
    video = tmp_path / "v.avi"
    noise_video(video)
    for model, message in (("/no/such/model", "/no/such/model: no SavedModel"),
                           ("http://127.0.0.1:9", "127.0.0.1:9")):
        run = subprocess.run([sys.executable, "-m", "fer.cli", "analyze", str(video), "--model", model,
                              "--out", str(tmp_path / "out")], capture_output=True, text=True, cwd=REPO)
        assert run.returncode != 0 and message in run.stderr and "the model cannot be used" in run.stderr


def test_a_missing_yunet_model_is_named():
    from fer.faces import FaceDetector
    with pytest.raises(FileNotFoundError, match="yunet.onnx"):
        FaceDetector(yunet_model=REPO / "no" / "yunet.onnx")
