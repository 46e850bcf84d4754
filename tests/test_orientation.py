"""A recording stored turned without rotation metadata is found upright from its faces (fer.playtest.orientation),
on real faces: the clips of ../shared/videos turned by OpenCV; frames without faces are left as they are."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer.faces import FaceDetector
from fer.playtest.orientation import oriented, probe_frames, turned, upright_turn
from fer.playtest.video import open_recording
from tests.real_footage import VIDEOS

CLIPS = ["liveportrait_d9", "fer_woman2"]  # a man with glasses at a desk, a woman in stock footage


def turned_copy(clip: str, folder, degrees: int):
    """The clip's first two seconds stored turned by ``degrees`` counter-clockwise (as a phone held sideways
    records), MJPG in AVI, no rotation metadata."""
    capture = cv2.VideoCapture(str(VIDEOS / f"{clip}.mp4"))
    fps = capture.get(cv2.CAP_PROP_FPS)
    path, writer = folder / f"{clip}_{degrees}.avi", None
    for _ in range(int(2 * fps)):
        ok, frame = capture.read()
        assert ok
        frame = turned(frame, (360 - degrees) % 360)
        if writer is None:
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, frame.shape[1::-1])
        writer.write(frame)
    writer.release()
    capture.release()
    return path


@pytest.mark.skipif(not VIDEOS.is_dir(), reason=f"the real clips {VIDEOS} are not on this machine")
@pytest.mark.parametrize("clip", CLIPS)
@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
def test_a_recording_stored_turned_is_turned_upright(tmp_path, clip, degrees):
    video = turned_copy(clip, tmp_path, degrees)
    detector = FaceDetector()
    assert upright_turn(probe_frames(video), detector) == degrees
    recording = oriented(open_recording(video, sample_fps=2), video, detector)
    time_s, frame = next(recording.frames)
    assert max(f.score for f in detector.detect(frame)) > 0.85  # the face reads upright
    if degrees:
        assert f"turned {degrees} degrees clockwise" in recording.notes[0]
    else:
        assert recording.notes == []


def test_frames_without_faces_are_left_as_they_are():
    frames = [np.full((240, 320, 3), value, np.uint8) for value in (40, 120, 200)]
    assert upright_turn(frames, FaceDetector()) == 0 and upright_turn([], FaceDetector()) == 0


@pytest.mark.skipif(not VIDEOS.is_dir(), reason=f"the real clips {VIDEOS} are not on this machine")
def test_the_analysis_of_a_sideways_recording_reads_upright_faces_and_says_so(tmp_path):
    from fer.playtest.sessions import analyze_session
    from fer.playtest.settings import AnalysisSettings
    from fer.serving.client import LocalModel
    from tests.conftest import REPO
    video = turned_copy("liveportrait_d9", tmp_path, 90)
    summary = analyze_session(video, tmp_path / "out", LocalModel(REPO / "serving/models/fer_fast"),
                              AnalysisSettings(sample_fps=2), progress=False)
    assert any("turned 90 degrees clockwise" in warning for warning in summary["warnings"])
    assert summary["frame_size"] == [512, 480] and summary["players"] == 1  # the clip's own 512x480, upright
    assert summary["per_player"]["1"]["face_frames"] >= 3
