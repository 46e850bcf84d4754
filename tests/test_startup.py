"""Commands that need no network never import TensorFlow (nor Keras, nor Ray without --ray), and neither does the
default analysis, whose int8 model runs on LiteRT: each is run as a new process that reports what it imported.
How soon each prints its first line: bench/startup.py."""
from __future__ import annotations

import subprocess

import pytest

from tests.conftest import REPO
from tests.imports_probe import imported, probed
from tests.insight_fixtures import summary, write
from tests.test_playtest_reliability import faceless_video


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("startup")
    for build, shift in (("a", 0.0), ("b", 0.3)):
        for participant in range(3):
            write(folder / build / f"p{participant}",
                  summary(f"p{participant}", build, {"1 / intro": shift + participant / 10, "3 / boss": shift}))
    return folder, faceless_video(folder / "room.mp4")


def run_probed(arguments: list, folder) -> list[str]:
    command, environment = probed(arguments, folder / "modules.json")
    done = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return imported(folder / "modules.json")


@pytest.mark.parametrize("arguments", [["--help"], ["analyze", "--help"], ["serve", "--help"]])
def test_help_imports_nothing_heavy(inputs, arguments):
    assert run_probed(arguments, inputs[0]) == []


def test_the_default_analysis_and_its_re_run_import_no_tensorflow(inputs):
    folder, video = inputs
    assert run_probed(["analyze", video, "--out", folder / "out", "--quiet"], folder) == []
    assert (folder / "out" / "room" / "summary.json").is_file()
    assert run_probed(["analyze", video, "--out", folder / "out", "--quiet"], folder) == []  # nothing left


def test_aggregate_and_compare_import_no_tensorflow(inputs):
    folder, _ = inputs
    assert run_probed(["aggregate", folder / "a", folder / "b", "--out", folder / "agg"], folder) == []
    assert (folder / "agg" / "aggregate.json").is_file()
    assert run_probed(["compare", "--a", folder / "a", "--b", folder / "b", "--out", folder / "cmp"], folder) == []
    assert (folder / "cmp" / "comparison.json").is_file()


def test_the_probe_sees_tensorflow_where_it_is_imported(inputs):
    """fer_model has no int8 model: it runs on TensorFlow, and the probe says so."""
    folder, video = inputs
    modules = run_probed(["analyze", video, "--out", folder / "accurate", "--model", "fer_model", "--quiet"], folder)
    assert "tensorflow" in modules and "ray" not in modules
