"""Playtest analysis speed, as a multiple of real time, where the time goes, and peak memory.

Writes 30 fps face-cam recordings (MPEG-4) showing FER-2013 faces that move and change every second,
analyses each with the model fer analyze runs by default (serving/models/fer_fast), and prints seconds
of recording analysed per second of work (goal: at least 30x at 1280x720 with default settings), the seconds spent in decode, detect and
classify (they overlap: each runs in a thread of its own), and the highest resident memory of this
process during the analysis (sampled every 0.1 s from /proc/self/status). Rows: 640x480 and 1280x720
at the default settings, 1280x720 dense (10 sampled frames per second), and 1280x720 with four
players side by side.

Usage: python bench/playtest.py [--seconds 60] [--rows 640x480 1280x720 dense four-players] [--precision auto]
                                [--model fer_fast|fer_model]

On a CPU with AVX512 or AMX, `ONEDNN_MAX_CPU_ISA=AVX2` before it makes TensorFlow compute as on an AVX2-only
CPU, and `OPENCV_CPU_DISABLE=AVX512F,AVX512-SKX,AVX512-COMMON` makes OpenCV's
dispatched kernels (YuNet's among them) do so (the int8 model's XNNPACK picks its kernels from the CPU itself: no such
cap).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fer.cpu import describe_cpu  # noqa: E402
from fer.tf import import_tensorflow  # noqa: E402
from fer.playtest.settings import AnalysisSettings  # noqa: E402
from fer.playtest.sessions import analyze_session  # noqa: E402
from fer.cli.analyze import MODELS_IN_REPOSITORY  # noqa: E402
from fer.contract import ANALYSIS_MODEL_NAME, MODEL_NAME  # noqa: E402
from fer.serving.client import LocalModel, local_precision, needs_tensorflow  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MIRROR = REPO.parent / "shared" / "datasets" / "fer2013.zip"
GOAL = 30.0
ROWS = {"640x480": ((640, 480), 1, {}), "1280x720": ((1280, 720), 1, {}),
        "dense": ((1280, 720), 1, {"sample_fps": 10.0}), "four-players": ((1280, 720), 4, {})}


def faces(count: int = 30) -> list[np.ndarray]:
    if not MIRROR.is_file():
        sys.exit(f"bench/playtest.py needs FER-2013 faces from {MIRROR}")
    with zipfile.ZipFile(MIRROR) as archive:
        names = sorted(n for n in archive.namelist() if n.startswith("test/") and n.endswith(".jpg"))[::97][:count]
        return [cv2.imdecode(np.frombuffer(archive.read(n), np.uint8), cv2.IMREAD_GRAYSCALE) for n in names]


def write_recording(path: Path, size: tuple[int, int], seconds: int, shown: list[np.ndarray], players: int = 1) -> None:
    width, height = size
    face_px = height // 2 if players == 1 else width // (players + 1)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, size)
    background = cv2.GaussianBlur(np.random.default_rng(0).integers(60, 200, (height, width, 3), dtype=np.uint8),
                                  (31, 31), 0)
    slots = np.linspace(0, width, players + 2)[1:-1]
    for index in range(seconds * 30):
        frame = background.copy()
        for player, center in enumerate(slots):
            face = cv2.resize(shown[(index // 30 + 7 * player) % len(shown)], (face_px, face_px),
                              interpolation=cv2.INTER_CUBIC)
            x = int(center) - face_px // 2 + int(face_px / 8 * np.sin(index / 45 + player))
            y = height // 4
            frame[y:y + face_px, x:x + face_px] = face[..., None]
        writer.write(frame)
    writer.release()


def resident_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class PeakMemory:
    """The highest resident memory while the block runs, sampled every 0.1 s."""

    def __enter__(self) -> "PeakMemory":
        self.peak, self._stop = resident_mib(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, resident_mib())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS))
    parser.add_argument("--precision", default="auto", help="as fer analyze's --precision (default: auto, resolved"
                                                             " as fer analyze resolves it)")
    parser.add_argument("--model", default=ANALYSIS_MODEL_NAME, choices=(ANALYSIS_MODEL_NAME, MODEL_NAME),
                        help="the committed model, as fer analyze --model NAME (default: fer_fast)")
    args = parser.parse_args()
    path = REPO / MODELS_IN_REPOSITORY / args.model
    precision = local_precision(args.precision, path)
    if needs_tensorflow(path, precision):  # as fer analyze: not for the int8 model (nor TensorFlow's memory)
        import_tensorflow(verbose=False)
    model, shown = LocalModel(path, precision), faces()
    print(f"CPU: {describe_cpu()}")
    print(f"defaults: {AnalysisSettings().sample_fps:g} sampled frames/s, detection at"
          f" {AnalysisSettings().detect_width} px width, detector {AnalysisSettings().detector},"
          f" model {args.model} in {precision}")
    print(f"{'recording':>34} {'x real time':>11} {'decode s':>9} {'detect s':>9} {'classify s':>10}"
          f" {'faces seen':>10} {'players':>7} {'peak MiB':>9}")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.rows:
            size, players, changes = ROWS[name]
            video = Path(folder) / f"face_cam_{name}.mp4"
            write_recording(video, size, args.seconds, shown, players)
            settings = AnalysisSettings(**changes, precision=precision)
            with PeakMemory() as memory:
                started = time.perf_counter()
                summary = analyze_session(video, Path(folder) / video.stem, model, settings, progress=False)
                elapsed = time.perf_counter() - started
            timing = summary["timing"]
            title = f"{size[0]}x{size[1]} 30 fps {args.seconds} s" + (f", {name}" if name in ("dense", "four-players")
                                                                      else "")
            print(f"{title:>34} {args.seconds / elapsed:11.1f} {timing['decode_s']:9.2f} {timing['detect_s']:9.2f}"
                  f" {timing['classify_s']:10.2f} {summary['face_visible_ratio']:10.0%} {summary['players']:7d}"
                  f" {memory.peak:9.0f}", flush=True)
    print(f"goal: at least {GOAL:g}x real time at 1280x720 (a 30-minute session in under {30 / GOAL:g} minute)")


if __name__ == "__main__":
    main()
