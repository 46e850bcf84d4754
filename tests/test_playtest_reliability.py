"""fer analyze, aggregate and compare when things go wrong: Ctrl-C, clashing names, failing recordings, an
unwritable --out, corrupt summaries, too few sessions to test; real `fer` subprocesses and real videos."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from fer.insight.summaries import SummaryError, load_summaries
from fer.playtest.analytics import PROBABILITY_COLUMNS, frame_table, in_background, smooth, summarize
from fer.playtest.settings import AnalysisSettings
from fer.playtest.analytics import segments
from fer.playtest.events import Event, EventsError, load_events
from fer.playtest.files import write_json
from fer.playtest.sessions import OUTPUT_FILES, PARTIAL, analyze_many, analyze_session, session_names
from fer.serving.client import LocalModel
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # real fer analyze processes, interrupted

MODEL = REPO / "serving/models/fer_model"
SETTINGS = AnalysisSettings(sample_fps=5.0)
LONG_FRAMES = 1000  # at --sample-fps 10, a few seconds of face detection: time to interrupt it


@pytest.fixture(scope="module")
def model():
    return LocalModel(MODEL)


def faceless_video(path: Path, frames: int = 20) -> Path:
    """A 10 fps 320x240 MPEG-4 video of a grey room with a moving box: no face, cheap to write and decode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
    assert writer.isOpened()
    for index in range(frames):
        frame = np.full((240, 320, 3), 110, np.uint8)
        x = (index * 7) % 250
        cv2.rectangle(frame, (x, 80), (x + 60, 160), (200, 180, 160), -1)
        writer.write(frame)
    writer.release()
    return path


def fer_command(*arguments) -> list[str]:
    return [sys.executable, "-m", "fer.cli", *map(str, arguments)]


def run_fer(*arguments, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(fer_command(*arguments), capture_output=True, text=True, cwd=REPO, timeout=timeout)


def interrupt_when(arguments: list, folder: Path, pattern: str, logs: Path) -> tuple[int, str]:
    """Runs `fer ...`, sends it SIGINT once ``folder`` holds something named like ``pattern``; returns the
    exit code and stderr."""
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "stdout", "w") as out, open(logs / "stderr", "w") as err:
        process = subprocess.Popen(fer_command(*arguments), stdout=out, stderr=err, cwd=REPO)
        try:
            deadline = time.monotonic() + 240
            while not list(folder.glob(pattern)):
                assert process.poll() is None, (logs / "stderr").read_text()
                assert time.monotonic() < deadline, "the analysis never started"
                time.sleep(0.01)
            process.send_signal(signal.SIGINT)
            code = process.wait(120)
        finally:
            process.kill()
    return code, (logs / "stderr").read_text()


def partial_folders(root: Path) -> list[Path]:
    return list(root.rglob(f"*{PARTIAL}*"))


@pytest.mark.parametrize("thread_exists", [True, False])
def test_ctrl_c_while_a_step_starts_its_thread_leaves_no_thread_running(monkeypatch, thread_exists):
    """SIGINT can land inside Thread.start (it waits for the new thread): the step must still stop and join
    its thread, or it goes on reading the step before it while analyze_frames closes that one."""
    real_start = threading.Thread.start

    def start_then_ctrl_c(thread):
        if thread_exists:
            real_start(thread)
        raise KeyboardInterrupt

    def frames():
        for index in range(10_000):
            time.sleep(0.001)
            yield index

    decoded = in_background(frames())
    next(decoded)  # the first step runs, as decoding does when the second step starts
    detected = in_background(frame * 2 for frame in decoded)
    monkeypatch.setattr(threading.Thread, "start", start_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        next(detected)
    monkeypatch.setattr(threading.Thread, "start", real_start)
    detected.close()
    decoded.close()  # raised "generator already executing" while a thread left running read it
    assert not [thread for thread in threading.enumerate() if thread.name == "analysis-step"]


def test_ctrl_c_keeps_finished_sessions_and_leaves_no_partial_one(tmp_path):
    short, long, third = (faceless_video(tmp_path / "short.mp4"), faceless_video(tmp_path / "long.mp4", LONG_FRAMES),
                          faceless_video(tmp_path / "third.mp4"))
    out = tmp_path / "out"
    analyze = ["analyze", short, long, third, "--out", out, "--sample-fps", "10", "--quiet"]

    code, stderr = interrupt_when(analyze, out, f".long{PARTIAL}*", tmp_path / "first")
    assert code == 130 and "Traceback" not in stderr and "interrupted: 1 analysed" in stderr, stderr
    batch = json.loads((out / "batch.json").read_text())
    assert batch["done"] == [str(short)] and batch["interrupted"] == [str(long), str(third)]
    assert all((out / "short" / name).is_file() for name in OUTPUT_FILES)
    assert not (out / "long").exists() and not partial_folders(out)

    rerun = run_fer(*analyze)
    assert rerun.returncode == 0, rerun.stderr
    assert "2 analysed, 1 already done, 0 failed" in rerun.stdout
    batch = json.loads((out / "batch.json").read_text())
    assert batch["skipped"] == [str(short)] and batch["done"] == [str(long), str(third)]
    before = json.loads((out / "long" / "summary.json").read_text())
    assert before["sampled_frames"] == LONG_FRAMES

    # re-analysing with other settings and stopping halfway leaves the older results whole, not a mixture
    code, stderr = interrupt_when([*analyze, "--smoothing-s", "1"], out, f".long{PARTIAL}*", tmp_path / "third")
    assert code == 130 and "Traceback" not in stderr, stderr
    assert json.loads((out / "long" / "summary.json").read_text()) == before
    assert len(pd.read_csv(out / "long" / "frames.csv")) == LONG_FRAMES
    assert json.loads((out / "short" / "summary.json").read_text())["settings"]["smoothing_s"] == 1.0
    assert sorted(p.name for p in out.iterdir()) == [".batch.json.lock", ".long.lock", ".short.lock", ".third.lock",
                                                     "batch.json", "long", "short", "third"]  # locks: no partials


class CameraPlayingAVideo:
    """What fer.playtest.video reads from a camera, here (no camera on this machine) a real OpenCV capture of
    a video file read at a camera's 30 frames a second, that presses Ctrl-C (SIGINT to this process, as a
    terminal sends it) ``presses`` times once ``after`` frames were read."""

    def __init__(self, video: Path, after: int, presses: int):
        self.capture, self.read_count, self.after, self.presses = cv2.VideoCapture(str(video)), 0, after, presses

    def read(self):
        time.sleep(1 / 30)
        self.read_count += 1
        if self.read_count == self.after:
            for _ in range(self.presses):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.3)  # the main thread handles one before the next
        return self.capture.read()

    def __getattr__(self, name):  # isOpened, get, release
        return getattr(self.capture, name)


@pytest.fixture
def ctrl_c_interrupts():
    """SIGINT handled as in a terminal (a test run started in the background would have it ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_ends_a_camera_session_which_is_then_written_whole(model, tmp_path, monkeypatch, ctrl_c_interrupts):
    video = faceless_video(tmp_path / "room.mp4", frames=900)  # 30 s at the camera's pace
    monkeypatch.setattr("fer.playtest.video.open_camera", lambda index: CameraPlayingAVideo(video, 45, presses=1))
    started = time.monotonic()
    result = analyze_many(["0"], tmp_path / "out", model, SETTINGS, progress=False)
    assert result["done"] == ["0"] and time.monotonic() - started < 20  # it stopped at Ctrl-C, not at the end
    session = tmp_path / "out" / "camera0"
    assert all((session / name).is_file() for name in OUTPUT_FILES) and not partial_folders(tmp_path / "out")
    frames = pd.read_csv(session / "frames.csv")
    assert 1.0 <= frames.time_s.max() < 10 and len(frames) >= 5  # 5 samples a second until Ctrl-C, ~1.5 s in
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl-C interrupts again


def test_a_second_ctrl_c_abandons_the_camera_session(model, tmp_path, monkeypatch, ctrl_c_interrupts):
    video = faceless_video(tmp_path / "room.mp4", frames=900)
    monkeypatch.setattr("fer.playtest.video.open_camera", lambda index: CameraPlayingAVideo(video, 45, presses=2))
    with pytest.raises(KeyboardInterrupt):
        analyze_many(["0"], tmp_path / "out", model, SETTINGS, progress=False)
    assert json.loads((tmp_path / "out" / "batch.json").read_text())["interrupted"] == ["0"]
    assert not (tmp_path / "out" / "camera0").exists() and not partial_folders(tmp_path / "out")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_camera_session_started_with_ctrl_c_ignored_leaves_it_ignored():
    from fer.playtest.video import Recording, ends_on_ctrl_c
    camera = Recording("camera0", None, (320, 240), iter([]), None, threading.Event())
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as for `fer analyze --camera 0 &` in a script
    try:
        with ends_on_ctrl_c(camera):
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with ends_on_ctrl_c(camera):
            assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_leftovers_of_a_killed_run_are_removed_and_a_session_is_written_once(model, tmp_path):
    video = faceless_video(tmp_path / "room.mp4")
    leftover = tmp_path / "out" / f".room{PARTIAL}abc123"
    leftover.mkdir(parents=True)
    (leftover / "summary.json").write_text("{}")  # as if killed just before the rename
    result = analyze_many([video], tmp_path / "out", model, SETTINGS, progress=False)
    assert result["done"] == [str(video)] and not partial_folders(tmp_path / "out")
    summary = json.loads((tmp_path / "out" / "room" / "summary.json").read_text())
    assert summary["fingerprint"] and summary["session"] == "room"
    file = tmp_path / "out" / "room" / "summary.json"
    assert load_summaries([tmp_path / "out"]) == [{**summary, "annotations": [], "summary_file": str(file.resolve())}]


def test_same_named_recordings_in_two_folders_get_a_folder_each(model, tmp_path):
    first, second = faceless_video(tmp_path / "day1" / "session.mp4"), faceless_video(tmp_path / "day2" / "session.mp4")
    out = tmp_path / "out"
    result = analyze_many([first, second], out, model, SETTINGS, progress=False)
    assert result["done"] == [str(first), str(second)] and not result["failed"]
    assert json.loads((out / "batch.json").read_text())["done"] == [str(first), str(second)]
    for day in ("day1", "day2"):
        summary = json.loads((out / day / "session" / "summary.json").read_text())
        assert summary["source"] == str(tmp_path / day / "session.mp4") and summary["session"] == f"{day}/session"
    assert len(load_summaries([out])) == 2  # fer aggregate finds them at any depth
    again = analyze_many([first, second], out, model, SETTINGS, progress=False)
    assert again["skipped"] == [str(first), str(second)] and not again["done"]


def test_output_names_follow_one_deterministic_rule(tmp_path):
    assert session_names([tmp_path / "a" / "x.mp4"]) == ["x"]
    assert session_names([tmp_path / "x.mp4", tmp_path / "y.mkv", "0"]) == ["x", "y", "camera0"]
    assert session_names([tmp_path / "d1/s.mp4", tmp_path / "d2/sub/s.mp4"]) == ["d1/s", "d2/sub/s"]
    assert session_names([tmp_path / "a.mp4", tmp_path / "a.avi", tmp_path / "b.mp4"]) == ["a.mp4", "a.avi", "b"]
    assert session_names([tmp_path / "camera0.mp4", "0"]) == ["camera0.mp4", "camera0"]


def test_a_recording_that_fails_for_any_reason_fails_alone(tmp_path):
    first, third = faceless_video(tmp_path / "first.mp4"), faceless_video(tmp_path / "third.mp4")
    middle = faceless_video(tmp_path / ("m" * 246 + ".mp4"))  # 250 bytes: no suffix fits in NAME_MAX
    out = tmp_path / "out"
    run = run_fer("analyze", first, middle, third, "--out", out, "--quiet")
    assert run.returncode == 1, run.stderr
    batch = json.loads((out / "batch.json").read_text())
    assert batch["done"] == [str(first), str(third)] and not batch["interrupted"]
    (failure,) = batch["failed"]
    assert failure["source"] == str(middle) and failure["type"] == "OSError"
    assert "too long" in failure["error"].lower() and PARTIAL in failure["error"]  # its temporary folder's name
    assert f"FAILED {middle}" in run.stderr and "1 failed" in run.stdout
    assert (out / "first" / "summary.json").is_file() and (out / "third" / "summary.json").is_file()
    assert not partial_folders(out)


@pytest.mark.parametrize("where", ["a_file", "a_file/out"])
def test_an_out_that_cannot_be_written_is_refused_before_any_analysis(tmp_path, where):
    video = faceless_video(tmp_path / "room.mp4")
    (tmp_path / "a_file").write_text("not a folder")
    started = time.monotonic()
    run = run_fer("analyze", video, "--out", tmp_path / where, "--quiet")
    assert run.returncode == 1 and time.monotonic() - started < 60
    assert "Traceback" not in run.stderr and "analysed" not in run.stdout
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith(f"fer analyze: --out {tmp_path / where}: ")


def player_summary(session: str, build: str, valence_shift: float = 0.0) -> dict:
    """A summary as analyze_session writes it, of one player who is happy then neutral, from summarize()."""
    probabilities = np.eye(7)[[3, 3, 6, 6]] * 0.6 + np.full((4, 7), 0.4 / 7)
    probabilities[:, 3] += valence_shift
    probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
    frames = frame_table([{"time_s": t, "player": 1, "quality": "ok", **dict(zip(PROBABILITY_COLUMNS, p))}
                          for t, p in zip([0.0, 0.5, 1.0, 1.5], probabilities)])
    summary = summarize(frames, smooth(frames, 0.0), [Event(0.0, "intro", 1.0)], 2.0, AnalysisSettings())
    return {**summary, "session": session, "build": build}


def test_aggregate_skips_corrupt_and_empty_summaries_naming_them_and_counts_faceless_sessions(model, tmp_path):
    sessions = tmp_path / "sessions"
    analyze_session(faceless_video(tmp_path / "room.mp4"), sessions / "room", model, SETTINGS, progress=False)
    (sessions / "good").mkdir()
    (sessions / "good" / "summary.json").write_text(json.dumps(player_summary("good", "41")))
    for name, text in (("corrupt", '{"session": "cut off'), ("empty", "{}")):
        (sessions / name).mkdir()
        (sessions / name / "summary.json").write_text(text)

    run = run_fer("aggregate", sessions, "--out", tmp_path / "agg")
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    for name in ("corrupt", "empty"):
        assert f"{sessions / name / 'summary.json'}: not a" in run.stderr and "skipped" in run.stderr
    written = json.loads((tmp_path / "agg" / "aggregate.json").read_text())
    assert written["sessions"] == 2 and written["participants"] == 1 and written["sessions_without_faces"] == ["room"]
    assert "had no face" in (tmp_path / "agg" / "aggregate.html").read_text()

    strict = run_fer("aggregate", sessions, "--out", tmp_path / "strict", "--strict")
    assert strict.returncode == 1 and "Traceback" not in strict.stderr
    assert str(sessions / "corrupt" / "summary.json") in strict.stderr

    faceless = run_fer("aggregate", sessions / "room", "--out", tmp_path / "faceless")
    assert faceless.returncode == 0 and "no face was seen in any" in faceless.stdout, faceless.stderr
    assert json.loads((tmp_path / "faceless" / "aggregate.json").read_text())["segments"] == []

    unusable = run_fer("aggregate", sessions / "corrupt", sessions / "empty", "--out", tmp_path / "none")
    assert unusable.returncode == 1 and "Traceback" not in unusable.stderr
    assert "no session summary.json" in unusable.stderr.splitlines()[-1]
    with pytest.raises(SummaryError, match="empty/summary.json: not a session summary"):
        load_summaries([sessions / "empty"], strict=True)


def test_compare_with_one_session_per_build_says_nothing_could_be_tested(tmp_path):
    for build, shift in (("a", 0.0), ("b", 0.3)):
        (tmp_path / build).mkdir()
        (tmp_path / build / "summary.json").write_text(json.dumps(player_summary(build, build, shift)))
    run = run_fer("compare", "--a", tmp_path / "a", "--b", tmp_path / "b", "--out", tmp_path / "cmp")
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert "0 significant differences of 0 tested" in run.stdout and "nothing could be tested" in run.stdout
    written = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert written["tested"] == 0 and "at least 3 participants" in written["note"]
    assert "nothing could be tested" in (tmp_path / "cmp" / "comparison.html").read_text()


def test_an_events_csv_saved_with_a_byte_order_mark_is_read(tmp_path):
    (tmp_path / "e.csv").write_bytes("time,event,end\n0,intro,4\n8,death,\n".encode("utf-8-sig"))
    assert load_events(tmp_path / "e.csv") == [Event(0.0, "intro", 4.0), Event(8.0, "death")]


@pytest.mark.parametrize("precision", ["float32", "auto"])
def test_ctrl_c_while_the_model_loads_exits_130_without_a_traceback(tmp_path, precision):
    """float32 imports TensorFlow (seconds); auto runs fer_fast's int8 model on LiteRT (a fraction of one), so
    Ctrl-C lands while it loads or while the recording is read: both end with 130 and no traceback."""
    video = faceless_video(tmp_path / "room.mp4", frames=600)  # long enough not to be finished when Ctrl-C lands
    with open(tmp_path / "stderr", "w") as err:
        process = subprocess.Popen(fer_command("analyze", video, "--out", tmp_path / "out", "--quiet",
                                               "--precision", precision),
                                   stdout=subprocess.DEVNULL, stderr=err, cwd=REPO)
        try:
            deadline = time.monotonic() + 120
            while "loading the model" not in (tmp_path / "stderr").read_text():
                assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "stderr").read_text()
                time.sleep(0.01)
            process.send_signal(signal.SIGINT)
            code = process.wait(60)
        finally:
            process.kill()
    stderr = (tmp_path / "stderr").read_text()
    assert code == 130 and "Traceback" not in stderr and "interrupted" in stderr, stderr
    assert not (tmp_path / "out" / "room").exists()


def test_a_json_write_that_fails_leaves_the_previous_file_and_no_temporary(tmp_path):
    batch = tmp_path / "batch.json"
    write_json(batch, {"done": ["a.mp4"]})
    with pytest.raises(TypeError):
        write_json(batch, {"done": [object()]})  # fails once the temporary file exists
    assert json.loads(batch.read_text()) == {"done": ["a.mp4"]} and list(tmp_path.iterdir()) == [batch]


def start_fer(arguments: list, logs: Path) -> subprocess.Popen:
    logs.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(fer_command(*arguments), stdout=open(logs / "stdout", "w"), stderr=open(logs / "stderr", "w"),
                            cwd=REPO)


def wait_for(folder: Path, pattern: str, process: subprocess.Popen, logs: Path) -> None:
    deadline = time.monotonic() + 240
    while not list(folder.glob(pattern)):
        assert process.poll() is None, (logs / "stderr").read_text()
        assert time.monotonic() < deadline, "the analysis never started"
        time.sleep(0.01)


def test_two_runs_on_one_session_at_once_take_turns_and_both_succeed(tmp_path):
    video = faceless_video(tmp_path / "v.mp4", frames=LONG_FRAMES)
    out = tmp_path / "R"
    arguments = ["analyze", video, "--out", out, "--sample-fps", "10", "--model", MODEL, "--quiet"]
    first = start_fer(arguments, tmp_path / "first")
    try:
        wait_for(out, f".v{PARTIAL}*", first, tmp_path / "first")  # the first is writing its session
        second = run_fer(*arguments)
        assert first.wait(240) == 0, (tmp_path / "first" / "stderr").read_text()
    finally:
        first.kill()
    assert second.returncode == 0, second.stderr
    assert "0 analysed, 1 already done, 0 failed" in second.stdout  # it took its turn, then found it finished
    assert all((out / "v" / name).is_file() for name in OUTPUT_FILES) and not list(out.glob(f"*{PARTIAL}*"))


HOLD_LOCK = ("import sys, time\nfrom pathlib import Path\nfrom fer.playtest.files import locked\n"
             "with locked(Path(sys.argv[1])):\n    print('held', flush=True)\n    time.sleep(600)\n")


def test_a_run_waits_for_the_one_holding_its_session_and_a_killed_holder_lets_it_go(tmp_path):
    video = faceless_video(tmp_path / "v.mp4")
    out = tmp_path / "R"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out / ".v.lock")], stdout=subprocess.PIPE, text=True,
                              cwd=REPO)  # a run analysing v, as far as the lock says
    try:
        assert holder.stdout.readline().strip() == "held"
        waiting = start_fer(["analyze", video, "--out", out, "--model", MODEL, "--quiet"], tmp_path / "logs")
        deadline = time.monotonic() + 240
        while "another run is analysing this session; waiting for it" not in (tmp_path / "logs" / "stderr").read_text():
            assert waiting.poll() is None and time.monotonic() < deadline, (tmp_path / "logs" / "stderr").read_text()
            time.sleep(0.05)
        assert not (out / "v").exists()
        holder.kill()  # crashes: the kernel releases its lock
        assert waiting.wait(240) == 0, (tmp_path / "logs" / "stderr").read_text()
    finally:
        holder.kill()
    assert all((out / "v" / name).is_file() for name in OUTPUT_FILES)


def test_runs_of_different_recordings_at_once_both_keep_their_outcome_in_batch_json(tmp_path):
    long, short = faceless_video(tmp_path / "long.mp4", frames=LONG_FRAMES), faceless_video(tmp_path / "short.mp4")
    out = tmp_path / "R"
    first = start_fer(["analyze", long, "--out", out, "--sample-fps", "10", "--model", MODEL, "--quiet"], tmp_path / "a")
    try:
        wait_for(out, f".long{PARTIAL}*", first, tmp_path / "a")
        assert run_fer("analyze", short, "--out", out, "--model", MODEL, "--quiet").returncode == 0
        assert first.wait(240) == 0, (tmp_path / "a" / "stderr").read_text()
    finally:
        first.kill()
    batch = json.loads((out / "batch.json").read_text())
    assert sorted(batch["done"]) == [str(long), str(short)] and batch["failed"] == []


def test_a_session_of_another_recording_is_never_replaced_without_being_asked(tmp_path):
    day1, day2 = faceless_video(tmp_path / "day1" / "session.mp4"), faceless_video(tmp_path / "day2" / "session.mp4", 30)
    out = tmp_path / "R"
    assert run_fer("analyze", day1, "--out", out, "--model", MODEL, "--quiet").returncode == 0
    (out / "session.annotations.json").write_text('{"annotations": []}')
    second = run_fer("analyze", day2, "--out", out, "--model", MODEL, "--quiet")
    assert second.returncode == 0, second.stderr
    assert f"{out / 'session'} holds the session of another recording: {day2} goes to {out / 'session-2'}" in second.stderr
    assert json.loads((out / "session" / "summary.json").read_text())["source"] == str(day1)
    second_summary = json.loads((out / "session-2" / "summary.json").read_text())
    assert second_summary["source"] == str(day2) and second_summary["session"] == "session-2"
    again = run_fer("analyze", day2, "--out", out, "--model", MODEL, "--quiet")
    assert "0 analysed, 1 already done" in again.stdout and not (out / "session-3").exists()
    replaced = run_fer("analyze", day2, "--out", out, "--model", MODEL, "--quiet", "--overwrite")
    assert replaced.returncode == 0 and json.loads((out / "session" / "summary.json").read_text())["source"] == str(day2)


@pytest.mark.parametrize("umask,folder_mode,file_mode", [(0o022, 0o755, 0o644), (0o002, 0o775, 0o664), (0o077, 0o700, 0o600)])
def test_results_follow_the_umask(tmp_path, umask, folder_mode, file_mode):
    video = faceless_video(tmp_path / "room.mp4")
    out = tmp_path / "R"
    run = subprocess.run(["sh", "-c", f"umask {umask:03o} && exec \"$@\"", "sh", *fer_command(
        "analyze", video, "--out", out, "--model", MODEL, "--quiet")], capture_output=True, text=True, cwd=REPO,
        timeout=300)
    assert run.returncode == 0, run.stderr
    code = f"from pathlib import Path; from fer.playtest.annotations import add_annotation; add_annotation(Path('{out / 'room.annotations.json'}'), 'room', {{'time_s': 1, 'kind': 'marker', 'text': 'x'}})"
    subprocess.run(["sh", "-c", f"umask {umask:03o} && exec \"$@\"", "sh", sys.executable, "-c", code], check=True, cwd=REPO)
    mode = lambda path: path.stat().st_mode & 0o777  # noqa: E731
    assert mode(out / "room") == folder_mode
    assert {mode(out / "room" / name) for name in OUTPUT_FILES} == {file_mode}
    assert mode(out / "batch.json") == mode(out / "room.annotations.json") == file_mode


@pytest.mark.parametrize("encoding,separator", [("utf-16", "\t"), ("utf-16", ","), ("utf-8", ";"), ("utf-8-sig", "\t")])
def test_events_in_the_encodings_and_separators_spreadsheets_write_are_read(tmp_path, encoding, separator):
    text = separator.join(["time", "event", "end"]) + "\r\n" + separator.join(["0", "intro", "4"]) + "\r\n8" \
        + separator + "death" + separator + "\r\n"
    (tmp_path / "e.csv").write_bytes(text.encode(encoding))
    assert load_events(tmp_path / "e.csv") == [Event(0.0, "intro", 4.0), Event(8.0, "death")]


def test_an_events_header_without_the_columns_names_what_it_found(tmp_path):
    (tmp_path / "e.csv").write_text("Time|Event\n0|intro\n")
    with pytest.raises(EventsError, match=r"e.csv:1: the header must name at least the columns time and event;"
                                          r" found 'Time\|Event' separated by ','"):
        load_events(tmp_path / "e.csv")
    (tmp_path / "latin.csv").write_bytes("time,event\n0,d\xe9but\n".encode("latin-1"))
    with pytest.raises(EventsError, match="latin.csv: not text in UTF-8 or UTF-16"):
        load_events(tmp_path / "latin.csv")


def test_a_segment_starting_before_the_recording_is_clipped_to_its_start():
    spans, warnings = segments([Event(-3.0, "lobby", 2.0)], 10.0, AnalysisSettings())
    assert (spans[0]["start_s"], spans[0]["end_s"]) == (0.0, 2.0) and not warnings


def test_every_events_file_of_a_batch_is_checked_before_any_model_loads(tmp_path):
    good, bad = faceless_video(tmp_path / "a.mp4"), faceless_video(tmp_path / "b.mp4")
    (tmp_path / "a.events.csv").write_text("time,event\n0,intro\n")
    (tmp_path / "b.events.csv").write_text("time,event\n0,intro\nsoon,boss\n")
    run = run_fer("analyze", good, bad, "--out", tmp_path / "R", "--model", MODEL)
    assert run.returncode == 1 and f"fer analyze: {tmp_path / 'b.events.csv'}:3: time and end must be numbers" in run.stderr
    assert "loading the model" not in run.stderr and not (tmp_path / "R" / "a").exists()  # before TensorFlow
