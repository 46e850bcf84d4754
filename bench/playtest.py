"""Playtest analysis speed, as a multiple of real time, and where the time goes.

Writes 30 fps face-cam recordings (640x480 and 1280x720, MPEG-4) showing a FER-2013 face that
moves and changes every second, analyses each at the default settings with the committed model,
and prints seconds of recording analysed per second (goal: at least 10x) split into decode,
detect and classify. Usage: python bench/playtest.py [--seconds 60]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fer.playtest.analytics import AnalysisSettings  # noqa: E402
from fer.playtest.sessions import analyze_session  # noqa: E402
from fer.serving.client import LocalModel  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MIRROR = REPO.parent / "shared" / "datasets" / "fer2013.zip"
GOAL = 10.0


def faces(count: int = 30) -> list[np.ndarray]:
    if not MIRROR.is_file():
        sys.exit(f"bench/playtest.py needs FER-2013 faces from {MIRROR}")
    with zipfile.ZipFile(MIRROR) as archive:
        names = sorted(n for n in archive.namelist() if n.startswith("test/") and n.endswith(".jpg"))[::97][:count]
        return [cv2.imdecode(np.frombuffer(archive.read(n), np.uint8), cv2.IMREAD_GRAYSCALE) for n in names]


def write_recording(path: Path, size: tuple[int, int], seconds: int, shown: list[np.ndarray]) -> None:
    width, height = size
    face_px = height // 2
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, size)
    background = cv2.GaussianBlur(np.random.default_rng(0).integers(60, 200, (height, width, 3), dtype=np.uint8),
                                  (31, 31), 0)
    for index in range(seconds * 30):
        frame = background.copy()
        face = cv2.resize(shown[(index // 30) % len(shown)], (face_px, face_px), interpolation=cv2.INTER_CUBIC)
        x = width // 2 - face_px // 2 + int(40 * np.sin(index / 45))
        y = height // 4
        frame[y:y + face_px, x:x + face_px] = face[..., None]
        writer.write(frame)
    writer.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    model, settings, shown = LocalModel(REPO / "serving/models/fer_model"), AnalysisSettings(), faces()
    print(f"default settings: {settings.sample_fps:g} sampled frames/s, detection at {settings.detect_width} px width")
    print(f"{'recording':>22} {'x real time':>11} {'decode s':>9} {'detect s':>9} {'classify s':>10} {'faces seen':>10}")
    with tempfile.TemporaryDirectory() as folder:
        for size in ((640, 480), (1280, 720)):
            video = Path(folder) / f"face_cam_{size[0]}x{size[1]}.mp4"
            write_recording(video, size, args.seconds, shown)
            started = time.perf_counter()
            summary = analyze_session(video, Path(folder) / video.stem, model, settings, progress=False)
            elapsed = time.perf_counter() - started
            timing = summary["timing"]
            print(f"{f'{size[0]}x{size[1]} 30 fps {args.seconds} s':>22} {args.seconds / elapsed:11.1f}"
                  f" {timing['decode_s']:9.2f} {timing['detect_s']:9.2f} {timing['classify_s']:10.2f}"
                  f" {summary['face_visible_ratio']:10.0%}")
    print(f"goal: at least {GOAL:g}x real time (a 30-minute session in under {30 / GOAL:g} minutes)")


if __name__ == "__main__":
    main()
