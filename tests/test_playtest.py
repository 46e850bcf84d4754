"""Playtest analytics end to end: real videos written with OpenCV, real faces, the committed model."""
from __future__ import annotations

import json
import shutil
import subprocess
import zipfile

import cv2
import numpy as np
import pandas as pd
import pytest

from fer.contract import CLASS_NAMES
from fer.faces import FaceDetector, face_crop
from fer.insight.aggregate import participant_values, write_aggregate
from fer.insight.compare import compare, side_rows, write_comparison
from fer.insight.summaries import load_summaries, player_rows
from fer.playtest.settings import AnalysisSettings
from fer.playtest.sessions import analyze_many, analyze_session
from fer.playtest.video import open_recording
from fer.serving.client import LocalModel
from tests.conftest import REPO

MODEL = REPO / "serving/models/fer_model"
FPS, SIZE = 10, (640, 480)
SETTINGS = AnalysisSettings(sample_fps=2.0, smoothing_s=1.0, reaction_window_s=2.0)


@pytest.fixture(scope="module")
def model():
    return LocalModel(MODEL)


def place(faces: list[np.ndarray], size=SIZE, face_px: int = 200) -> np.ndarray:
    """A grey BGR frame with the given faces side by side, scaled to ``face_px``."""
    frame = np.full((size[1], size[0]), 110, np.uint8)
    slots = np.linspace(0, size[0], len(faces) + 2)[1:-1] if faces else []
    for face, center in zip(faces, slots):
        x, y = int(center - face_px / 2), (size[1] - face_px) // 2
        frame[y:y + face_px, x:x + face_px] = cv2.resize(face, (face_px, face_px), interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)


def write_video(path, schedule: list[tuple[float, list[np.ndarray]]], size=SIZE, fourcc: str = "mp4v") -> None:
    """``schedule``: (seconds, faces shown) in order; faces change every second within a step."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, size)
    assert writer.isOpened()
    for seconds, faces in schedule:
        for index in range(int(seconds * FPS)):
            shown = [face[(index // FPS) % len(face)] for face in faces] if faces else []
            writer.write(place(shown, size))
    writer.release()


def detected_after_mpeg4(face: np.ndarray, detector: FaceDetector, folder) -> bool:
    """Whether the detector finds the face in every frame of a second of MPEG-4 video showing it
    (compression hides some faces that it finds in the raw frame)."""
    video = folder / "candidate.mp4"
    write_video(video, [(1, [[face]])])
    counts = [len(detector.detect(frame)) for _, frame in open_recording(video, FPS).frames]
    return len(counts) == FPS and all(count == 1 for count in counts)


@pytest.fixture(scope="module")
def real_faces(shared_datasets, model, tmp_path_factory):
    """FER-2013 PrivateTest faces per emotion that the detector finds, in MPEG-4 video too, and the
    committed model reads right.

    The tests check that the analysis recovers a schedule, not the model's accuracy (the evaluate stage
    measures that), so the faces are those the model gets right when seen alone.
    """
    detector, chosen, folder = FaceDetector(), {}, tmp_path_factory.mktemp("candidates")
    with zipfile.ZipFile(shared_datasets / "fer2013.zip") as archive:
        for label in ("happy", "surprise", "neutral"):
            chosen[label] = []
            for name in sorted(n for n in archive.namelist() if n.startswith(f"test/{label}/PrivateTest")):
                face = cv2.imdecode(np.frombuffer(archive.read(name), np.uint8), cv2.IMREAD_GRAYSCALE)
                frame = place([face])
                faces = detector.detect(frame)
                if len(faces) != 1:
                    continue
                crop = face_crop(frame, faces[0], margin=SETTINGS.face_margin, align=SETTINGS.align)
                probabilities = model.predict(crop[None, ..., None].astype(np.float32))[0]
                if (CLASS_NAMES[probabilities.argmax()] == label and probabilities.max() > 0.6
                        and detected_after_mpeg4(face, detector, folder)):
                    chosen[label].append(face)
                if len(chosen[label]) == 4:
                    break
            assert len(chosen[label]) == 4, f"too few usable {label} faces"
    return chosen


@pytest.fixture(scope="module")
def session(real_faces, model, tmp_path_factory):
    """A 14 s recording: happy 4 s, surprise 4 s, no face 2 s, neutral 4 s; events around it."""
    folder = tmp_path_factory.mktemp("playtest")
    video = folder / "tester1.mp4"
    write_video(video, [(4, [real_faces["happy"]]), (4, [real_faces["surprise"]]), (2, []),
                        (4, [real_faces["neutral"]])])
    (folder / "tester1.events.csv").write_text(
        "time,event,end,level\n0,intro,4,1\n4,boss_fight,8,1\n8,death,,1\n10,cutscene,14,1\n95,credits,,\n")
    result = analyze_many([video], folder / "results", model, SETTINGS, model_name=str(MODEL), progress=False)
    assert result["done"] == [str(video)] and not result["failed"]
    return folder, folder / "results" / "tester1"


def test_session_recovers_the_schedule(session):
    _, out = session
    assert not (out / "faces").exists()  # no face image unless asked for
    summary = json.loads((out / "summary.json").read_text())
    assert summary["players"] == 1 and summary["sampled_frames"] == 28
    segments = {s["segment"]: s for s in summary["per_player"]["1"]["segments"]}
    assert segments["1 / intro"]["dominant_emotion"] == "happy"
    assert segments["1 / boss_fight"]["dominant_emotion"] == "surprise"
    assert segments["1 / cutscene"]["dominant_emotion"] == "neutral"
    assert segments["1 / death"]["face_visible_ratio"] == 0.0  # 8..10 s: nobody in front of the camera
    visible_frames = round(summary["face_visible_ratio"] * 28)  # the ratio is rounded to 4 decimals
    assert 22 <= visible_frames <= 24  # 24 frames show a face; MPEG-4 may hide one or two
    assert any("credits" in w and "outside the recording" in w for w in summary["warnings"])
    assert summary["per_player"]["1"]["valence"] > 0  # happy and surprised more than anything negative
    assert all(0 <= m["time_s"] <= 14 for m in summary["strongest_moments"])

    frames = pd.read_csv(out / "frames.csv")
    no_face = frames[frames.player == 0]
    assert {8.0, 8.5, 9.0, 9.5} <= set(no_face.time_s) and len(no_face) <= 6 and no_face.p_happy.isna().all()
    faces = frames[frames.player == 1]
    np.testing.assert_allclose(faces[[f"p_{e}" for e in CLASS_NAMES]].sum(axis=1), 1.0, atol=1e-4)
    timeline = pd.read_csv(out / "timeline.csv")
    assert set(timeline.columns) >= {"time_s", "player", "valence", "arousal", "emotion"}


def test_two_players_side_by_side_get_one_timeline_each(real_faces, model, tmp_path):
    video = tmp_path / "coop.avi"
    write_video(video, [(6, [real_faces["happy"], real_faces["neutral"]])], size=(960, 480), fourcc="MJPG")
    settings = AnalysisSettings(**{**SETTINGS.__dict__, "save_faces": True})
    summary = analyze_session(video, tmp_path / "coop", model, settings, progress=False)
    crops = sorted((tmp_path / "coop" / "faces").glob("*.png"))
    assert len(crops) == 24 and cv2.imread(str(crops[0]), cv2.IMREAD_GRAYSCALE).shape == (48, 48)
    assert summary["players"] == 2
    assert summary["per_player"]["1"]["dominant_emotion"] == "happy"  # left seat
    assert summary["per_player"]["2"]["dominant_emotion"] == "neutral"  # right seat
    assert summary["per_player"]["1"]["face_visible_ratio"] == summary["per_player"]["2"]["face_visible_ratio"] == 1.0


def test_report_renders_in_headless_chromium(session, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        pytest.skip("no Chromium on this machine (.ci/run installs Debian's chromium)")
    _, out = session
    page = (out / "report.html").read_text()
    assert "<img" in page and "http" not in page.split("</style>")[0]  # self-contained
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", "<script>window.addEventListener('load', () => {"
                                  "const ok = [...document.images].filter(i => i.complete && i.naturalWidth > 100);"
                                  "document.title = 'rendered ' + ok.length + ' of ' + document.images.length;"
                                  "});</script></body>"))
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                          "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120).stdout
    images = page.count("<img")
    assert images >= 2 and f"<title>rendered {images} of {images}</title>" in dom


def test_a_rerun_skips_finished_sessions_and_reports_bad_ones(session, model):
    folder, out = session
    broken = folder / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    before = (out / "summary.json").stat().st_mtime_ns
    result = analyze_many([broken, folder / "tester1.mp4"], folder / "results", model, SETTINGS,
                          model_name=str(MODEL), progress=False)
    assert result["skipped"] == [str(folder / "tester1.mp4")] and (out / "summary.json").stat().st_mtime_ns == before
    assert result["failed"][0]["source"] == str(broken) and "broken.mp4" in result["failed"][0]["error"]
    assert json.loads((folder / "results" / "batch.json").read_text()) == result


def test_aggregate_and_ab_comparison_flag_a_real_difference(session, tmp_path):
    _, out = session
    base = json.loads((out / "summary.json").read_text())
    rng = np.random.default_rng(0)

    def variant(index: int, shift: float) -> dict:
        summary = json.loads(json.dumps(base))
        summary["session"] = f"s{index}"
        for segment in summary["per_player"]["1"]["segments"]:
            if segment["valence"] is not None:
                segment["valence"] += (shift if segment["event"] == "boss_fight" else 0) + rng.normal(0, 0.05)
        return summary

    build_a = [variant(i, 0.0) for i in range(8)]
    build_b = [variant(i, -0.5) for i in range(8, 16)]  # the new boss frustrates
    aggregate = write_aggregate(build_a, tmp_path / "agg")
    intro = aggregate[(aggregate.segment == "1 / intro") & (aggregate.measure == "valence")].iloc[0]
    assert intro.n == 8 and intro.ci_low < intro["mean"] < intro.ci_high
    table = write_comparison(*side_rows({"41": build_a, "42": build_b}), tmp_path / "cmp", ["41", "42"])
    flagged = table[table.significant]
    assert list(zip(flagged.segment, flagged.measure)) == [("1 / boss_fight", "valence")]
    assert flagged.difference.iloc[0] == pytest.approx(-0.5, abs=0.1)
    for name in ("agg/aggregate.csv", "agg/aggregate.json", "agg/aggregate.html", "cmp/comparison.csv",
                 "cmp/comparison.json", "cmp/comparison.html"):
        assert (tmp_path / name).stat().st_size > 100
    assert len(load_summaries([out.parent])) == 1 and not player_rows(build_a).empty
    same = side_rows({"A": build_a, "B": build_a})[1]
    assert compare(participant_values(same), ["A", "B"]).significant.sum() == 0


def test_analysis_through_a_model_server_matches_the_in_process_model(session, tmp_path):
    from fer.serving.client import open_model
    from tests.servers import start_server
    folder, out = session
    process, url, grpc_url = start_server([f"--model_base_path={MODEL}"], tmp_path / "server.log")
    try:
        for where in (f"{url}/v1/models/fer_model", f"{grpc_url}/fer_model"):  # the model the local run used
            summary = analyze_session(folder / "tester1.mp4", tmp_path / where[:4], open_model(where), SETTINGS,
                                      events_path=folder / "tester1.events.csv", progress=False)
            served = pd.read_csv(tmp_path / where[:4] / "frames.csv")
            local = pd.read_csv(out / "frames.csv")
            np.testing.assert_allclose(served.filter(like="p_").to_numpy(), local.filter(like="p_").to_numpy(),
                                       atol=1e-4)
            assert summary["per_player"]["1"]["segments"] == json.loads(
                (out / "summary.json").read_text())["per_player"]["1"]["segments"]
    finally:
        process.terminate()
        process.wait(10)
