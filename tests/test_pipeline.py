"""The real dvc CLI on a temporary git repository holding this project's pipeline and a tiny FER-2013."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

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
    """A git + DVC repository with the pipeline, fetching a tiny FER-2013-shaped archive from a mirror."""
    from tests.conftest import make_fer2013_archive

    root = tmp_path_factory.mktemp("project")
    mirror = make_fer2013_archive(root.parent / f"{root.name}-mirror" / "fer2013.zip").parent
    for name in PIPELINE_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, root / name)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["fetch"].update(mirror=str(mirror), datasets=["fer2013"])
    params["train"]["epochs"] = 1
    params["models"]["vgg_small"].update(widths=[8, 16, 32], convs=[1, 2, 2])
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], root)
    run(["dvc", "init", "-q"], root)
    run(["dvc", "repro"], root)
    return root


def test_repro_produces_every_stage_output(project):
    raw = json.loads((project / "data/raw/fetch_report.json").read_text())
    assert raw["fer2013"]["bytes"] == (project / "data/raw/fer2013.zip").stat().st_size
    assert (project / "data/interim/manifest.csv").read_text().count("\n") == 1 + 7 * 12
    assert json.loads((project / "metrics/split.json").read_text())["test"]["images"] == 7 * 4
    metrics = json.loads((project / "metrics/evaluate.json").read_text())
    assert metrics["test"]["images"] == 28 and 0.0 <= metrics["test"]["accuracy"] <= 1.0
    assert set(metrics["test"]["per_class"]) == {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
    assert (project / "plots/confusion.csv").read_text().count("\n") == 1 + 28
    assert (project / "plots/training_log.csv").read_text().splitlines()[0].startswith("epoch,accuracy")
    assert (project / "plots/confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    assert (project / "serving/models/fer_model/1/saved_model.pb").is_file()
    assert json.loads((project / "metrics/export.json").read_text())["max_abs_difference"] <= 1e-5


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
    log = (project / "plots/training_log.csv").read_text().splitlines()
    assert len(log) == 1 + 2
    diff = json.loads(run(["dvc", "params", "diff", "--json"], project))
    assert (diff["params.yaml"]["train.epochs"]["old"], diff["params.yaml"]["train.epochs"]["new"]) == (1, 2)
    metrics = json.loads(run(["dvc", "metrics", "diff", "--all", "--json"], project))
    assert "test.accuracy" in metrics["metrics/evaluate.json"]
    run(["dvc", "plots", "diff", "HEAD", "-o", "plots_diff"], project)
    assert (project / "plots_diff/index.html").stat().st_size > 1000
    workspace, baseline = json.loads(run(["dvc", "exp", "show", "--json"], project))
    assert workspace["rev"] == "workspace" and len(baseline["experiments"]) == 1
