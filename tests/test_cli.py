"""The `fer` command as users run it: help texts with defaults, the committed model found from anywhere,
a quiet start unless --verbose, and the serving manifests' service name."""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from dataclasses import fields

import cv2
import numpy as np
import pytest
import yaml

from fer.cli.main import build_parser
from fer.cli.analyze import ANALYSIS_HELP, ANALYSIS_RANGES, ModelNotFoundError, chosen_model, default_model
from fer.tf import filter_startup_lines
from fer.playtest.settings import AnalysisSettings
from fer.cpu import has_amx
from tests.conftest import REPO

COMMANDS = ("serve", "analyze", "aggregate", "compare", "report", "clips", "dashboard")
STARTUP_NOISE = ("cuinit", "onednn", "cuda")  # what TensorFlow prints while starting on a CPU machine
SERVICE = "ts-ml-service"  # the address of the first deployment: http://ts-ml-service:8501/v1/models/fer_model:predict


def fer(*arguments: str, cwd=REPO, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m fer.cli ...` with TensorFlow's log level left to the command (conftest sets one for itself)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["COLUMNS"] = "100"
    return subprocess.run([sys.executable, "-m", "fer.cli", *arguments], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=timeout)


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action.choices


def help_entries(text: str) -> dict[str, str]:
    """Option string -> its help text (whitespace collapsed), from the `options:` section of --help."""
    section = text.split("\noptions:\n", 1)[1]
    entries: list[tuple[list[str], list[str]]] = []
    for line in section.splitlines():
        if not line.strip():
            break
        if re.match(r"  -", line):
            invocation, _, rest = line.strip().partition("  ")
            entries.append((re.findall(r"(?:^|, )(--?[\w-]+)", invocation), [rest]))
        else:
            entries[-1][1].append(line)
    return {option: " ".join(" ".join(lines).split()) for options, lines in entries for option in options}


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_option_has_a_help_text_showing_its_default(command):
    parser = build_parser() if command is None else subparsers(build_parser())[command]
    run = fer(*([command] if command else []), "--help")
    assert run.returncode == 0, run.stderr
    shown = help_entries(run.stdout)
    options = [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]
    assert options
    for action in options:
        text = shown.get(action.option_strings[0])
        assert text, f"{command} {action.option_strings[0]}: no help text in --help"
        if action.required:
            assert "(required" in text, f"{command} {action.option_strings[0]}: {text!r} does not say it is required"
            continue
        assert "(default: " in text, f"{command} {action.option_strings[0]}: {text!r} shows no default"
        if isinstance(action.default, bool):  # a flag: on or off
            assert re.search(rf"\(default: ({action.default}|{'on' if action.default else 'off'})\)", text), text
        elif action.default not in (None, argparse.SUPPRESS):
            assert f"(default: {action.default})" in text, f"{command} {action.option_strings[0]}: {text!r}"


def test_every_analysis_setting_has_its_own_help_text():
    names = {f.name for f in fields(AnalysisSettings)}
    assert not names - set(ANALYSIS_HELP), f"AnalysisSettings fields without help in fer/cli/analyze.py ANALYSIS_HELP:" \
                                           f" {sorted(names - set(ANALYSIS_HELP))}"
    assert not set(ANALYSIS_HELP) - names, f"help for fields AnalysisSettings no longer has: " \
                                           f"{sorted(set(ANALYSIS_HELP) - names)}"
    analyze = subparsers(build_parser())["analyze"]
    for name in names:
        (action,) = [a for a in analyze._actions if a.dest == name]
        flag = "--" + name.replace("_", "-")
        assert action.option_strings in ([flag], [flag, flag.replace("--", "--no-")])  # booleans: --x / --no-x
        assert action.help.startswith(ANALYSIS_HELP[name].replace("%", "%%")) and len(action.help) > 20
        if action.default is None:  # the help must say what no value means
            assert "(default: " in action.help


NUMERIC_SETTINGS = [f.name for f in fields(AnalysisSettings) if type(f.default) in (int, float)]
BAD_VALUES = {"positive": ["0", "-1", "nan", "inf"], "non-negative": ["-0.5", "nan"], "any": ["inf", "nan"]}


def test_every_numeric_analysis_setting_has_a_range():
    assert set(ANALYSIS_RANGES) == set(NUMERIC_SETTINGS)


@pytest.mark.parametrize("option,value,allowed", [
    *[(name, value, ANALYSIS_RANGES[name]) for name in NUMERIC_SETTINGS for value in BAD_VALUES[ANALYSIS_RANGES[name]]],
    ("max_duration", "0", "positive"), ("batch_size", "2.5", "positive"), ("sample_fps", "fast", "positive"),
])
def test_a_senseless_analysis_setting_is_a_usage_error_naming_the_option(option, value, allowed, capsys):
    flag = "--" + option.replace("_", "-")
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["analyze", "v.mp4", f"{flag}={value}"])
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"argument {flag}: must be a " in error and (allowed == "any" or allowed in error), error


def test_good_edge_values_of_the_analysis_settings_are_taken():
    args = build_parser().parse_args(["analyze", "v.mp4", "--smoothing-s", "0", "--face-margin", "0",
                                      "--strongest-moments", "0", "--clock-offset-s", "-3.5", "--batch-size", "1"])
    assert (args.smoothing_s, args.strongest_moments, args.clock_offset_s, args.batch_size) == (0.0, 0, -3.5, 1)


def test_fer_analyze_refuses_a_zero_sample_rate_without_a_traceback(tmp_path):
    run = fer("analyze", "v.mp4", "--sample-fps", "0", cwd=tmp_path, timeout=60)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "argument --sample-fps: must be a positive number, not '0'" in run.stderr


def test_host_defaults_to_all_interfaces_as_tf_serving():
    host = [a for a in subparsers(build_parser())["serve"]._actions if a.dest == "host"][0]
    assert host.default == "0.0.0.0" and "all interfaces" in host.help and "TF Serving" in host.help


@pytest.mark.parametrize("argv,verbose", [(["aggregate", "s"], False), (["--verbose", "aggregate", "s"], True),
                                          (["aggregate", "s", "--verbose"], True)])
def test_verbose_goes_before_or_after_the_command(argv, verbose):
    assert build_parser().parse_args(argv).verbose is verbose


def test_the_default_model_is_the_current_directorys_then_the_repositorys(tmp_path):
    assert default_model(cwd=tmp_path) == REPO / "serving/models/fer_fast"
    assert (REPO / "serving/models/fer_fast/1/saved_model.pb").is_file()
    local = tmp_path / "serving/models/fer_fast"
    (local / "3").mkdir(parents=True)
    (local / "3" / "saved_model.pb").write_bytes(b"")
    assert default_model(cwd=tmp_path) == local


def test_without_any_model_the_error_names_every_place_looked_at(tmp_path):
    (tmp_path / "serving/models/fer_fast").mkdir(parents=True)  # there, but holds no version
    with pytest.raises(ModelNotFoundError) as error:
        default_model(cwd=tmp_path, package_root=tmp_path / "elsewhere")
    message = str(error.value)
    assert str(tmp_path / "serving/models/fer_fast") in message
    assert str(tmp_path / "elsewhere/serving/models/fer_fast") in message and "--model" in message


def test_model_by_name_is_the_committed_one_and_a_path_or_url_is_used_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert chosen_model(None) == REPO / "serving/models/fer_fast"
    assert chosen_model("fer_model") == REPO / "serving/models/fer_model"
    assert chosen_model("models/mine") == "models/mine" and chosen_model("grpc://host:8500") == "grpc://host:8500"
    (tmp_path / "fer_model").mkdir()  # a folder of that name here is a path, not the committed model
    assert chosen_model("fer_model") == "fer_model"
    with pytest.raises(ModelNotFoundError, match="--model fer_slow: not a path") as error:
        chosen_model("fer_slow")
    assert str(REPO / "serving/models/fer_slow") in str(error.value)


def tiny_video(path, frames: int = 10) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
    writer.release()


def test_analyze_elsewhere_finds_the_committed_model_and_starts_quietly(tmp_path):
    tiny_video(tmp_path / "room.avi")
    run = fer("analyze", "room.avi", "--quiet", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "1 analysed, 0 already done, 0 failed -> playtest_results" in run.stdout
    summary = json.loads((tmp_path / "playtest_results/room/summary.json").read_text())
    assert summary["model"] == str(REPO / "serving/models/fer_fast")
    assert summary["settings"]["precision"] == ("bfloat16" if has_amx() else "int8")  # auto: fer_fast ships int8
    # noise without faces: analysed all the same, with no player and a warning that says why
    assert summary["sampled_frames"] == 2 and summary["players"] == 0 and summary["face_visible_ratio"] == 0.0
    assert any("no face was found" in warning for warning in summary["warnings"])
    assert not [line for line in run.stderr.splitlines() if any(n in line.lower() for n in STARTUP_NOISE)], \
        run.stderr

    verbose = fer("analyze", "room.avi", "--quiet", "--out", "verbose", "--verbose", cwd=tmp_path)
    assert verbose.returncode == 0, verbose.stderr
    if not any(noise in verbose.stderr.lower() for noise in STARTUP_NOISE):
        pytest.skip("TensorFlow prints no start-up messages on this machine")
    assert "oneDNN" in verbose.stderr or "cuInit" in verbose.stderr


def test_only_the_start_up_lines_below_the_log_level_are_dropped():
    text = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
            "I0000 00:00:1796205356.366882   12584 port.cc:153] oneDNN custom operations are on.\n"
            "I0000 00:00:1796205356.408686   12584 cpu_feature_guard.cc:227] This TensorFlow binary is optimized.\n"
            "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow.\n"
            "W0000 00:00:1796205356.5   12584 file.cc:1] a warning\n"
            "E1202 09:58:04.388000   12584 cuda_platform.cc:52] failed call to cuInit\n"
            "something else TensorFlow wrote\n")
    assert filter_startup_lines(text, 3) == ""
    assert filter_startup_lines(text, 2).splitlines() == text.splitlines()[5:]
    assert filter_startup_lines(text, 0) == text
    assert filter_startup_lines("a Python warning\n", 3) == "a Python warning\n"
    assert filter_startup_lines(text.splitlines(keepends=True)[0] + "a Python warning\n", 3) == "a Python warning\n"


def test_compose_and_kubernetes_serve_the_first_deployments_address():
    compose = yaml.safe_load((REPO / "serving/docker-compose.yml").read_text())["services"]
    assert "8501:8501" in compose[SERVICE]["ports"] and "fer-model" not in compose
    documents = list(yaml.safe_load_all((REPO / "serving/kubernetes.yaml").read_text()))
    (service,) = [d for d in documents if d["kind"] == "Service"]
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    assert service["metadata"]["name"] == SERVICE
    assert 8501 in {p["port"] for p in service["spec"]["ports"]}
    pods = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pods.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pods.items()
    prometheus = yaml.safe_load((REPO / "serving/prometheus.yml").read_text())
    assert prometheus["scrape_configs"][0]["static_configs"][0]["targets"] == [f"{SERVICE}:8501"]
