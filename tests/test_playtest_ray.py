"""`fer analyze --ray`: a batch on a local Ray cluster of 2 CPUs gives the same folders, tables and summaries as
a local run, reports a broken recording alone, retries a recording whose worker was killed, and `fer analyze`
without --ray never imports Ray."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import ray

from fer.playtest.distributed import analyze_on_ray
from fer.playtest.sessions import OUTPUT_FILES, PARTIAL, analyze_many
from fer.playtest.settings import AnalysisSettings
from tests.conftest import REPO
from tests.test_playtest import model, real_faces, write_video  # noqa: F401  (model, real_faces: fixtures)
from tests.test_playtest_reliability import LONG_FRAMES, faceless_video, interrupt_when, run_fer

pytestmark = pytest.mark.slow  # a local Ray cluster

MODEL = REPO / "serving/models/fer_model"
SETTINGS = AnalysisSettings(sample_fps=5.0, smoothing_s=1.0, reaction_window_s=2.0)


@pytest.fixture(scope="module")
def cluster():
    """A local Ray of 2 CPUs for this module (analyze_on_ray uses it and leaves it running)."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def noise_video(path: Path, frames: int = 15, seed: int = 0) -> Path:
    """Random pixels: a recording the detector sees nothing in, unlike any other."""
    import cv2
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (160, 120))
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
    writer.release()
    return path


def broken_video(path: Path) -> Path:
    """The first 600 bytes of an MPEG-4 file, as a copy cut off would leave it."""
    whole = faceless_video(path.with_name("whole-" + path.name)).read_bytes()
    path.write_bytes(whole[:600])
    path.with_name("whole-" + path.name).unlink()
    return path


def assert_same_outputs(local: Path, on_ray: Path, names: list[str]) -> None:
    """The same session folders, the same frames.csv and timeline.csv, the same summary.json but its timing."""
    def folders(root: Path) -> list[str]:
        return sorted(str(p.parent.relative_to(root)) for p in root.rglob("summary.json"))
    assert folders(local) == folders(on_ray) == sorted(names)
    for name in names:
        assert all((on_ray / name / file).is_file() for file in OUTPUT_FILES)
        for table in ("frames.csv", "timeline.csv"):
            assert (local / name / table).read_text() == (on_ray / name / table).read_text(), f"{name}/{table}"
        summaries = [json.loads((root / name / "summary.json").read_text()) for root in (local, on_ray)]
        for summary in summaries:
            assert summary.pop("timing")["seconds"] > 0
        assert summaries[0] == summaries[1]
    assert not list(on_ray.rglob(f"*{PARTIAL}*"))


def test_a_batch_on_ray_matches_a_local_run_and_a_broken_recording_fails_alone(cluster, model, tmp_path):
    recordings = tmp_path / "recordings"
    sources = [faceless_video(recordings / "day1" / "room.mp4"), noise_video(recordings / "day2" / "noise.mp4"),
               broken_video(recordings / "day2" / "cut.mp4"), faceless_video(recordings / "day2" / "room.mp4", 30)]
    local = analyze_many(sources, tmp_path / "local", model, SETTINGS, model_name=str(MODEL), progress=False)
    result = analyze_on_ray(sources, tmp_path / "ray", MODEL, SETTINGS, progress=False)

    assert result == local == json.loads((tmp_path / "ray" / "batch.json").read_text())
    assert result["done"] == [str(sources[i]) for i in (0, 1, 3)] and not result["skipped"]
    (failure,) = result["failed"]
    assert failure["source"] == str(sources[2]) and failure["type"] == "RecordingError"
    assert_same_outputs(tmp_path / "local", tmp_path / "ray", ["day1/room", "day2/noise", "day2/room"])

    # a second run skips what is done, and tries the broken recording again
    again = analyze_on_ray(sources, tmp_path / "ray", MODEL, SETTINGS, progress=False)
    assert again["skipped"] == result["done"] and again["failed"] == result["failed"] and not again["done"]


def test_real_faces_give_the_same_timeline_on_ray(cluster, model, real_faces, tmp_path):
    video = tmp_path / "tester.mp4"
    write_video(video, [(2, [real_faces["happy"]]), (2, [real_faces["surprise"]])])
    local = analyze_many([video], tmp_path / "local", model, SETTINGS, model_name=str(MODEL), progress=False)
    result = analyze_on_ray([video], tmp_path / "ray", MODEL, SETTINGS, progress=False)
    assert result == local and result["done"] == [str(video)]
    assert_same_outputs(tmp_path / "local", tmp_path / "ray", ["tester"])
    summary = json.loads((tmp_path / "ray" / "tester" / "summary.json").read_text())
    (player,) = summary["per_player"].values()
    assert summary["players"] == 1 and player["emotion_share"]["happy"] > 0.3


def test_a_killed_worker_has_its_recording_retried_and_the_batch_finishes(cluster, tmp_path):
    sources = [faceless_video(tmp_path / "killed_once.mp4"), faceless_video(tmp_path / "kills_always.mp4"),
               faceless_video(tmp_path / "calm.mp4")]
    marker = tmp_path / "killed_once.pid"

    def kill_worker(source: str, out_dir: Path) -> None:  # runs in the worker, before each recording
        name = Path(source).stem
        if name == "kills_always" or (name == "killed_once" and not marker.exists()):
            if name == "killed_once":
                marker.write_text(str(os.getpid()))
            (out_dir.parent / f".{out_dir.name}{PARTIAL}half-written").mkdir(parents=True, exist_ok=True)
            os.kill(os.getpid(), 9)

    result = analyze_on_ray(sources, tmp_path / "out", MODEL, SETTINGS, progress=False, retries=1,
                            before_each=kill_worker)
    assert result["done"] == [str(sources[0]), str(sources[2])] and not result["skipped"]
    (failure,) = result["failed"]
    assert failure["source"] == str(sources[1]) and "worker died" in failure["error"]
    assert marker.exists()  # it was killed once, then analysed by the restarted worker
    summary = json.loads((tmp_path / "out" / "killed_once" / "summary.json").read_text())
    assert summary["session"] == "killed_once" and summary["sampled_frames"] == 10
    assert all((tmp_path / "out" / "calm" / file).is_file() for file in OUTPUT_FILES)
    assert not (tmp_path / "out" / "kills_always").exists()
    assert [p.name for p in (tmp_path / "out").glob(f"*{PARTIAL}*")] == [f".kills_always{PARTIAL}half-written"]
    assert json.loads((tmp_path / "out" / "batch.json").read_text()) == result


def test_fer_analyze_ray_on_a_local_cluster_and_without_ray_never_importing_it(tmp_path):
    first, second = faceless_video(tmp_path / "first.mp4"), faceless_video(tmp_path / "second.mp4")
    cut = broken_video(tmp_path / "cut.mp4")
    out = tmp_path / "out"
    run = run_fer("analyze", first, cut, second, "--ray", "--ray-workers", "2", "--out", out, "--model", MODEL,
                  "--quiet", "--sample-fps", "5")
    assert run.returncode == 1, run.stderr
    assert "2 analysed, 0 already done, 1 failed" in run.stdout and f"FAILED {cut}: RecordingError" in run.stderr
    batch = json.loads((out / "batch.json").read_text())
    assert batch["done"] == [str(first), str(second)] and [f["source"] for f in batch["failed"]] == [str(cut)]

    # `--ray` before the recordings: the first is a recording, not an address; all done, no worker started
    rerun = run_fer("analyze", "--ray", first, second, "--out", out, "--model", MODEL, "--quiet", "--sample-fps", "5")
    assert rerun.returncode == 0 and "0 analysed, 2 already done, 0 failed" in rerun.stdout, rerun.stderr

    # an address where no cluster listens is refused at once
    refused = run_fer("analyze", first, "--ray", "127.0.0.1:1", "--out", out, "--model", MODEL, "--quiet", timeout=60)
    assert refused.returncode == 1 and "nothing answers there" in refused.stderr.strip().splitlines()[-1]

    # the same recordings without --ray: the same folders, and Ray is not imported
    local = tmp_path / "local"
    code = ("import sys\nfrom fer.cli.main import main\ntry:\n    main(sys.argv[1:])\nfinally:\n"
            "    print('ray imported' if 'ray' in sys.modules else 'no ray')")
    run = subprocess.run([sys.executable, "-c", code, "analyze", first, second, "--out", local, "--model", MODEL,
                          "--quiet", "--sample-fps", "5"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert run.returncode == 0 and "no ray" in run.stdout, run.stdout + run.stderr
    for name in ("first", "second"):
        assert (local / name / "frames.csv").read_text() == (out / name / "frames.csv").read_text()


def test_ctrl_c_stops_the_workers_lists_what_is_not_done_and_leaves_no_partial_folder(tmp_path):
    sources = [faceless_video(tmp_path / "long.mp4", LONG_FRAMES), faceless_video(tmp_path / "next.mp4")]
    out = tmp_path / "out"
    code, stderr = interrupt_when(["analyze", *sources, "--ray", "--ray-workers", "1", "--out", out, "--model", MODEL,
                                   "--quiet", "--sample-fps", "10"], out, f".long{PARTIAL}*", tmp_path / "logs")
    assert code == 130 and "interrupted: 0 analysed" in stderr and "2 not done" in stderr, stderr
    assert json.loads((out / "batch.json").read_text())["interrupted"] == [str(s) for s in sources]
    assert sorted(p.name for p in out.iterdir() if not p.name.endswith(".lock")) == ["batch.json"]  # no partials


def test_a_model_that_cannot_be_opened_stops_the_batch_before_any_recording(cluster, tmp_path):
    from fer.contract import ServingError
    video = faceless_video(tmp_path / "room.mp4")
    with pytest.raises(ServingError, match="model cannot be used"):
        analyze_on_ray([video], tmp_path / "out", tmp_path / "no_model", SETTINGS, progress=False, workers=1)
    assert not (tmp_path / "out" / "room").exists()
