"""Contact sheets for labelling the real clips by eye: every sample of ../shared/videos at two a second.

Sample k of a clip is the frame shown at (k + 0.5) / 2 seconds (0.25, 0.75, 1.25, ... s), the times
`bench/real_video_samples.csv` labels. Each sheet shows one clip's samples in rows of six, each with its time, so
a labeller reads the face at each time and writes its label set. Each tile is the face's surroundings (YuNet's
box of the largest face, widened to twice its size; the whole frame where none is found), so that small faces
are legible; no expression model's output is drawn. The sheets hold frames of
the clips, whose licence does not cover redistribution, so they are written outside the repository only.

Usage: python bench/label_sheets.py [--out /tmp/label-sheets] [--height 200]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from fer.faces import FaceDetector  # noqa: E402
from tests.real_footage import VIDEOS, duration_s  # noqa: E402  (the clips, and their length as the study reads it)

SAMPLES_PER_SECOND = 2
PER_ROW = 6


def sample_times(duration_s: float) -> list[float]:
    """The sample times of a clip of ``duration_s`` seconds: the middle of each half second it covers."""
    count = int(duration_s * SAMPLES_PER_SECOND + 0.5)
    return [round((k + 0.5) / SAMPLES_PER_SECOND, 2) for k in range(count)]


def frames_at(video: Path, times: list[float]) -> list[np.ndarray]:
    """The frame shown at each time (the last one decoded at or before it), read in order."""
    capture = cv2.VideoCapture(str(video))
    frames, shown = [], None
    try:
        for time_s in times:
            while True:
                position = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000
                if shown is not None and position > time_s:
                    break
                ok, frame = capture.read()
                if not ok:
                    break
                shown = frame
            frames.append(shown)
    finally:
        capture.release()
    return frames


def around_face(frame: np.ndarray, detector) -> np.ndarray:
    faces = detector.detect(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    if not faces:
        return frame
    box = max(faces, key=lambda face: face.box.w * face.box.h).box
    side = 2 * max(box.w, box.h)
    x, y = box.x + box.w // 2 - side // 2, box.y + box.h // 2 - side // 2
    return frame[max(0, y):y + side, max(0, x):x + side]


def sheet(frames: list[np.ndarray], times: list[float], height: int, detector) -> np.ndarray:
    tiles = []
    for frame, time_s in zip(frames, times):
        frame = around_face(frame, detector)
        tile = cv2.resize(frame, (int(frame.shape[1] * height / frame.shape[0]), height))
        tile = cv2.copyMakeBorder(tile, 24, 4, 4, 4, cv2.BORDER_CONSTANT, value=(255, 255, 255))
        cv2.putText(tile, f"{time_s:.2f} s", (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 2)
        tiles.append(tile)
    width = max(tile.shape[1] for tile in tiles)
    tiles = [cv2.copyMakeBorder(t, 0, 0, 0, width - t.shape[1], cv2.BORDER_CONSTANT, value=(255, 255, 255))
             for t in tiles]
    blank = np.full_like(tiles[0], 255)
    rows = [np.hstack(tiles[i:i + PER_ROW] + [blank] * (PER_ROW - len(tiles[i:i + PER_ROW])))
            for i in range(0, len(tiles), PER_ROW)]
    return np.vstack(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/label-sheets"))
    parser.add_argument("--height", type=int, default=200, help="height of each sample in pixels")
    args = parser.parse_args()
    if args.out.resolve().is_relative_to(REPO):
        sys.exit(f"--out {args.out}: inside the repository; the clips' frames must not be stored there")
    if not VIDEOS.is_dir():
        sys.exit(f"no real clips at {VIDEOS}")
    args.out.mkdir(parents=True, exist_ok=True)
    detector = FaceDetector("yunet")
    for video in sorted(VIDEOS.glob("*.mp4")):
        times = sample_times(duration_s(video))
        frames = frames_at(video, times)
        for start in range(0, len(times), 4 * PER_ROW):  # four rows a sheet
            part = slice(start, start + 4 * PER_ROW)
            path = args.out / f"{video.stem}-{start // (4 * PER_ROW) + 1}.png"
            cv2.imwrite(str(path), sheet(frames[part], times[part], args.height, detector))
        print(f"{video.name}: {len(times)} samples -> {args.out}/{video.stem}-*.png")


if __name__ == "__main__":
    main()
