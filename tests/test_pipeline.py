"""The real dvc CLI on a temporary git repository holding this project's pipeline and a tiny FER-2013."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dvc.utils.hydra import apply_overrides

from fer.params import load_params
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # the real dvc CLI over the whole pipeline

PIPELINE_FILES = ("dvc.yaml", "params.yaml", "stages", "fer")


def run(command: list[str], cwd: Path) -> str:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               DVC_NO_ANALYTICS="1", GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="test@example.com",
               GIT_COMMITTER_NAME="test", GIT_COMMITTER_EMAIL="test@example.com")
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A git + DVC repository with the pipeline, fetching a tiny FER-2013-shaped archive from a mirror beside it."""
    from tests.conftest import make_fer2013_archive

    root = tmp_path_factory.mktemp("project")
    make_fer2013_archive(root.parent / f"{root.name}-mirror" / "fer2013.zip")
    mirror = f"../{root.name}-mirror"  # relative, as params.yaml's ../shared/datasets
    for name in PIPELINE_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, root / name)
    # set as `dvc exp run -S` sets values, so that params.yaml keeps the form DVC writes
    apply_overrides(str(root / "params.yaml"), [f"fetch.mirror={mirror}", "fetch.datasets=[fer2013]", "train.epochs=1",
                                                 "models.vgg_small.widths=[8,16,32]", "models.vgg_small.convs=[1,2,2]"])
    (root / ".gitignore").write_text("/data/train_backup/\n/data/members_backup/\n")
    run(["git", "init", "-q"], root)
    run(["dvc", "init", "-q"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "the pipeline"], root)  # DVCLive logs against a commit
    run(["dvc", "repro"], root)
    return root


def test_repro_produces_every_stage_output(project):
    raw = json.loads((project / "data/raw/fetch_report.json").read_text())
    assert raw["fer2013"]["bytes"] == (project / "data/raw/fer2013.zip").stat().st_size
    assert (project / "data/interim/manifest.csv").read_text().count("\n") == 1 + 7 * 12
    assert json.loads((project / "metrics/details/split.json").read_text())["test"]["images"] == 7 * 4
    details = json.loads((project / "metrics/details/evaluate.json").read_text())
    assert details["test"]["images"] == 28 and 0.0 <= details["test"]["accuracy"] <= 1.0
    assert set(details["test"]["per_class"]) == {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
    headline = json.loads((project / "metrics/evaluate.json").read_text())
    assert headline["fer2013_private_test"]["accuracy"] == details["test"]["accuracy"]  # FER-2013 alone here
    assert set(headline) == {"fer2013_private_test", "fer2013_public_test", "pooled_test"}
    assert (project / "plots/confusion.csv").read_text().count("\n") == 1 + 28
    assert (project / "plots/per_class.csv").read_text().count("\n") == 1 + 7
    assert (project / "plots/training/eval/accuracy.tsv").read_text().splitlines()[0] == "step\taccuracy"
    assert json.loads((project / "metrics/train.json").read_text())["epochs"] == 1
    assert (project / "plots/confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    assert (project / "serving/models/fer_model/1/saved_model.pb").is_file()
    assert json.loads((project / "metrics/export.json").read_text())["max_abs_difference"] <= 1e-5
    # the fast model: the networks and views of params' fast section, scored and exported
    fast = json.loads((project / "metrics/details/evaluate_fast.json").read_text())
    params = load_params(project / "params.yaml")
    chosen = params["fast"]
    assert (fast["networks"], fast["tta_flip"], fast["tta_rotation"]) == (
        chosen["networks"], chosen["tta_flip"], chosen["tta_rotation"])
    assert fast["test"]["images"] == 28
    fast_headline = json.loads((project / "metrics/evaluate_fast.json").read_text())
    assert list(fast_headline) == ["fer_fast"] and set(fast_headline["fer_fast"]) == set(headline)
    assert details["networks"] == params["evaluate"]["networks"]
    assert (project / "plots/fast/confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    assert (project / "serving/models/fer_fast/1/saved_model.pb").is_file()
    assert json.loads((project / "metrics/export_fast.json").read_text())["max_abs_difference"] <= 1e-5


def test_second_repro_changes_nothing(project):
    lock = (project / "dvc.lock").read_text()
    output = run(["dvc", "repro"], project)
    assert "Running stage" not in output
    assert (project / "dvc.lock").read_text() == lock
    assert run(["dvc", "status"], project).strip() == "Data and pipelines are up to date."


def test_experiment_with_changed_param_is_compared_by_metrics_and_plots_diff(project):
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "baseline"], project)
    output = run(["dvc", "exp", "run", "-S", "train.epochs=2", "-S", "train.lr=5e-4"], project)
    assert "Running stage 'train'" in output and "Running stage 'fetch'" not in output
    log = (project / "plots/training/train/loss.tsv").read_text().splitlines()
    assert len(log) == 1 + 2
    diff = json.loads(run(["dvc", "params", "diff", "--json"], project))
    assert (diff["params.yaml"]["train.epochs"]["old"], diff["params.yaml"]["train.epochs"]["new"]) == (1, 2)
    metrics = json.loads(run(["dvc", "metrics", "diff", "--all", "--json"], project))
    assert "fer2013_private_test.accuracy" in metrics["metrics/evaluate.json"]
    assert "eval.accuracy" in metrics["metrics/train.json"]
    run(["dvc", "plots", "diff", "HEAD", "-o", "plots_diff"], project)
    assert (project / "plots_diff/index.html").stat().st_size > 1000
    workspace, baseline = json.loads(run(["dvc", "exp", "show", "--json"], project))
    assert workspace["rev"] == "workspace" and len(baseline["experiments"]) == 1
    changed = [line for line in run(["git", "diff", "-U0", "params.yaml"], project).splitlines()
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert sorted(changed) == ["+  epochs: 2", "+  lr: 0.0005", "-  epochs: 1", "-  lr: 0.001"]


def test_a_queued_sweep_runs_each_learning_rate_as_an_experiment(project):
    run(["git", "checkout", "-q", "--", "."], project)
    run(["dvc", "exp", "run", "--queue", "-S", "train.lr=0.002,0.0002"], project)
    run(["dvc", "queue", "start"], project)
    deadline = time.time() + 600
    while "Queued" in (status := run(["dvc", "queue", "status"], project)) or "Running" in status:
        assert time.time() < deadline, status
        time.sleep(2)
    assert status.count("Success") == 2, status
    shown = json.loads(run(["dvc", "exp", "show", "--json"], project))
    rates = {exp["data"]["params"]["params.yaml"]["data"]["train"]["lr"]: exp["data"]["metrics"]
             for experiment in shown[-1]["experiments"] for exp in experiment["revs"]
             if "metrics/train.json" in exp["data"]["metrics"]}
    assert {0.002, 0.0002} <= set(rates)


def test_real_params_keep_their_form_when_dvc_sets_a_value(tmp_path):
    """`dvc exp run -S train.lr=5e-4` rewrites params.yaml through DVC's apply_overrides: only that line changes."""
    copy = tmp_path / "params.yaml"
    shutil.copy(REPO / "params.yaml", copy)
    apply_overrides(str(copy), ["train.lr=5e-4"])
    before, after = (REPO / "params.yaml").read_text().splitlines(), copy.read_text().splitlines()
    assert len(before) == len(after)
    assert [(old, new) for old, new in zip(before, after) if old != new] == [("  lr: 0.001", "  lr: 0.0005")]


def test_a_queued_experiment_runs_in_a_fresh_clone_before_any_repro(project):
    """DVC's queue runs an experiment in a copy under .dvc/tmp/exps/, with an empty cache here: every stage
    runs there, fetch included, which must still find the mirror named relative to the repository."""
    clone = project.parent / f"{project.name}-clone"  # beside the project, so ../<mirror> names the same folder
    run(["git", "clone", "-q", str(project), str(clone)], project.parent)
    run(["dvc", "exp", "run", "--queue", "-n", "fresh-lr", "-S", "train.lr=0.003"], clone)
    run(["dvc", "queue", "start"], clone)
    deadline = time.time() + 600
    while "Queued" in (status := run(["dvc", "queue", "status"], clone)) or "Running" in status:
        assert time.time() < deadline, status
        time.sleep(2)
    assert status.count("Success") == 1, status + run(["dvc", "queue", "logs", "fresh-lr"], clone)
    shown = json.loads(run(["dvc", "exp", "show", "--json"], clone))
    experiment = next(exp for experiment in shown[-1]["experiments"] for exp in experiment["revs"]
                      if exp["name"] == "fresh-lr")
    assert experiment["data"]["params"]["params.yaml"]["data"]["train"]["lr"] == 0.003
    assert "fer2013_private_test" in experiment["data"]["metrics"]["metrics/evaluate.json"]["data"]
    assert not (clone / "data/raw").exists()  # it ran in the copy, not in the clone's workspace
