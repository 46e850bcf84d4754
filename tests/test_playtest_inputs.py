"""Playtest analytics on bad input: each gets a clear message naming the culprit."""
from __future__ import annotations

import shutil
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


BITS = 8  # a frame shows its index as 8 black or white blocks: readable after lossy compression


def code_frame(index: int) -> np.ndarray:
    frame = np.full((96, 256, 3), 128, np.uint8)
    for bit in range(BITS):
        frame[32:64, bit * 32:(bit + 1) * 32] = 255 if index >> bit & 1 else 0
    return frame


def read_code(frame: np.ndarray) -> int:
    return sum(1 << bit for bit in range(BITS) if frame[48, bit * 32 + 16].mean() > 128)


def vfr_video(folder, durations: list[float]):
    """A variable-frame-rate H.264 MP4 (ffmpeg's concat demuxer, -fps_mode vfr) whose frame k shows k, and the
    true presentation time of each frame."""
    lines, times, elapsed = [], [], 0.0
    for index, duration in enumerate(durations):
        cv2.imwrite(str(folder / f"f{index:03d}.png"), code_frame(index))
        lines.append(f"file 'f{index:03d}.png'\nduration {duration}")
        times.append(elapsed)
        elapsed += duration
    lines.append(f"file 'f{len(durations) - 1:03d}.png'")  # the concat demuxer's last duration needs it repeated
    (folder / "list.txt").write_text("\n".join(lines) + "\n")
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-f", "concat", "-i", "list.txt", "-fps_mode", "vfr",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "vfr.mp4"], cwd=folder, check=True)
    return folder / "vfr.mp4", times, elapsed


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="no ffmpeg on PATH to write a variable-frame-rate MP4"
                    " (.ci/run installs Debian's ffmpeg)")
def test_a_variable_frame_rate_recording_is_timed_by_its_frames_presentation_times(tmp_path):
    # 25 fps, then a stall of 0.8 s a frame (a screen recorder with nothing changing), then 25 fps again
    durations = [0.04] * 25 + [0.8] * 3 + [0.04] * 50
    video, truth, total = vfr_video(tmp_path, durations)
    recording = open_recording(video, sample_fps=2)
    sampled = list(recording.frames)
    for time_s, frame in sampled:
        assert time_s == pytest.approx(truth[read_code(frame)], abs=0.011)
    times = [t for t, _ in sampled]
    steps = [int(t * 2 + 1e-3) for t in times]  # each sample is the first frame of its half second
    assert steps == sorted(set(steps)) and len(times) >= int(total * 2) - 3
    middle_time, middle = sampled[len(sampled) // 2]
    assert abs(read_code(middle) / recording.nominal_fps - middle_time) > 0.5  # what index / nominal fps said
    assert recording.variable_frame_rate and "variable frame rate" in recording.notes[0]
    assert recording.duration_s == pytest.approx(total, abs=0.05)
    summary = analyze_session(video, tmp_path / "out", LocalModel(REPO / "serving/models/fer_fast"),
                              AnalysisSettings(sample_fps=2), progress=False)
    assert summary["frame_rate"]["variable"] and any("variable frame rate" in w for w in summary["warnings"])
    assert summary["duration_s"] == pytest.approx(total, abs=0.05) and summary["sampled_frames"] == len(sampled)
    constant = open_recording(write_constant_video(tmp_path / "constant.mp4"), sample_fps=2)
    list(constant.frames)
    assert constant.variable_frame_rate is False and constant.notes == []


def write_constant_video(path):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (256, 96))
    for index in range(50):
        writer.write(code_frame(index))
    writer.release()
    return path
