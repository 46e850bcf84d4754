"""How soon each `fer` command prints its first line, and whether it imported TensorFlow.

Runs every command a studio types as a new process (`python -m fer.cli ...`) on data it makes itself: help,
`fer analyze` of a short recording with the default model and again with nothing left to do, `fer aggregate`,
`fer compare` of two builds, `fer dashboard` (stopped with Ctrl-C once it prints its address) and `fer analyze
--model fer_model`, and prints for each the seconds to its first line of output (stdout or stderr) and to its
end, and which of TensorFlow, Keras and Ray it imported. Targets (issue 38): the first line within 1 s; no
TensorFlow in a command that needs no network (help, a re-run with nothing left, aggregate, compare, dashboard)
nor in the default analysis, whose int8 model runs on LiteRT.

Usage: python bench/startup.py [--repeat 3]   (the median of the repeats is printed)
"""
from __future__ import annotations

import argparse
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
from fer.cpu import describe_cpu  # noqa: E402
from imports_probe import imported, probed  # noqa: E402
from insight_fixtures import summary, write  # noqa: E402

FIRST_LINE_TARGET_S = 1.0


def recording(path: Path, seconds: int = 4) -> Path:
    """A 10 fps 320x240 MPEG-4 recording of a grey room: decoded and searched for faces, none found."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
    for index in range(seconds * 10):
        frame = np.full((240, 320, 3), 110, np.uint8)
        cv2.rectangle(frame, (index * 5 % 250, 80), (index * 5 % 250 + 60, 160), (200, 180, 160), -1)
        writer.write(frame)
    writer.release()
    return path


def builds(folder: Path) -> tuple[Path, Path]:
    """Two builds of four participants each, one summary per session, as fer analyze writes them."""
    for build, shift in (("a", 0.0), ("b", 0.2)):
        for participant in range(4):
            values = {"1 / intro": 0.1 * participant + shift, "3 / boss": -0.1 * participant + shift}
            write(folder / build / f"p{participant}", summary(f"p{participant}", build, values))
    return folder / "a", folder / "b"


def timed(arguments: list, modules: Path, stop_after_first_line: bool = False) -> tuple[float, float, list, int]:
    """Seconds to the first line of output and to the end, the heavy packages imported, the exit code."""
    started = time.perf_counter()
    command, environment = probed(arguments, modules)
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment)
    first = None
    while first is None and select.select([process.stdout], [], [], 300)[0]:
        if process.stdout.readline() or process.poll() is not None:
            first = time.perf_counter() - started
    if stop_after_first_line:
        process.send_signal(signal.SIGINT)
    process.stdout.read()
    code = process.wait(300)
    return first, time.perf_counter() - started, imported(modules), code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"CPU: {describe_cpu()}")
    print(f"{'command':52} {'first line s':>12} {'end s':>6}  imported")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        video, (build_a, build_b) = recording(folder / "room.mp4"), builds(folder / "builds")
        out, accurate = folder / "out", folder / "accurate"
        # (title, arguments, a folder removed before each repeat, whether to Ctrl-C it after its first line)
        commands = [
            ("fer --help", ["--help"], None, False),
            ("fer analyze --help", ["analyze", "--help"], None, False),
            ("fer analyze room.mp4 (fer_fast, int8)", ["analyze", video, "--out", out], out, False),
            ("fer analyze room.mp4 again (nothing left)", ["analyze", video, "--out", out], None, False),
            ("fer aggregate (8 sessions)", ["aggregate", build_a, build_b, "--out", folder / "agg"], None, False),
            ("fer compare --a --b (4 + 4 sessions)",
             ["compare", "--a", build_a, "--b", build_b, "--out", folder / "cmp"], None, False),
            ("fer dashboard (to its address)", ["dashboard", out, "--port", "0"], None, True),
            ("fer analyze room.mp4 --model fer_model",
             ["analyze", video, "--out", accurate, "--model", "fer_model"], accurate, False),
        ]
        for title, arguments, fresh, stop in commands:
            runs = []
            for _ in range(args.repeat):
                if fresh is not None:
                    shutil.rmtree(fresh, ignore_errors=True)
                runs.append(timed(arguments, folder / "modules.json", stop))
            first = statistics.median(run[0] for run in runs)
            end = statistics.median(run[1] for run in runs)
            failed = sorted({run[3] for run in runs} - {0}) if not stop else []
            print(f"{title:52} {first:12.2f} {end:6.2f}  {', '.join(runs[-1][2]) or 'none'}"
                  + (f"  (exit {failed})" if failed else ""), flush=True)
    print(f"target: first line within {FIRST_LINE_TARGET_S:g} s; no TensorFlow where no network is needed, nor"
          f" in the default analysis")


if __name__ == "__main__":
    main()
