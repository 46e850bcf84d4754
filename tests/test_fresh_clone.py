"""A new user's first `dvc repro`: a fresh clone with the Kaggle mirror beside it rebuilds the data stages
byte for byte, trains nothing, and leaves git and DVC clean."""
import subprocess
import time

import pytest

from tests.conftest import REPO
from tests.test_pipeline import run

pytestmark = pytest.mark.slow  # a fresh clone's whole dvc repro


def test_fresh_clone_reproduces_without_training_and_changes_nothing_tracked(shared_datasets, tmp_path):
    (tmp_path / "shared").symlink_to(shared_datasets.parent)  # params.yaml's mirror is ../shared/datasets
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    started = time.time()
    output = run(["dvc", "repro"], clone)
    seconds = time.time() - started
    ran = [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]
    assert ran == ["fetch", "unzip", "preprocess", "split"], output
    assert run(["git", "status", "--porcelain"], clone) == "", "dvc repro changed tracked files"
    assert run(["dvc", "status"], clone).strip() == "Data and pipelines are up to date."
    print(f"fresh clone: dvc repro took {seconds:.0f} s")
