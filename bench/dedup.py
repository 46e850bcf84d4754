"""How far re-encoding moves the perceptual hash, and what deduplication costs.

On FER-2013's PrivateTest faces (data/split/test.npz, made by `dvc repro`): the hash distance between
each face and its copy upscaled to 224x224 PNG and back, and its copy as an 80x80 JPEG at quality 75;
how many pairs of different faces fall within the threshold; and seconds to hash and group all
FER-2013 faces. Usage: python bench/dedup.py [--threshold 4]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fer.arrays import load_arrays  # noqa: E402
from fer.data.dedup import duplicate_groups, perceptual_hashes  # noqa: E402

SPLIT = Path(__file__).resolve().parents[1] / "data" / "split"


def round_trip(face: np.ndarray, size: int, suffix: str, flags: list[int]) -> np.ndarray:
    interpolation = cv2.INTER_CUBIC if size > 48 else cv2.INTER_AREA
    ok, data = cv2.imencode(suffix, cv2.resize(face, (size, size), interpolation=interpolation), flags)
    return cv2.resize(cv2.imdecode(data, cv2.IMREAD_GRAYSCALE), (48, 48), interpolation=cv2.INTER_AREA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threshold", type=int, default=4)
    args = parser.parse_args()
    faces = load_arrays(SPLIT / "test.npz")["images"]
    hashes = perceptual_hashes(faces)
    for name, size, suffix, flags in (("224x224 PNG and back", 224, ".png", []),
                                      ("80x80 JPEG q75 and back", 80, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 75])):
        copies = perceptual_hashes(np.stack([round_trip(f, size, suffix, flags) for f in faces]))
        distances = np.bitwise_count(hashes ^ copies)
        p50, p99, top = np.percentile(distances, [50, 99, 100])
        print(f"{name:26} distance p50 {p50:.0f}  p99 {p99:.0f}  max {top:.0f}"
              f"  within threshold {(distances <= args.threshold).mean():.2%}")
    pairs = np.bitwise_count(hashes[:, None] ^ hashes[None, :])[np.triu_indices(len(hashes), 1)]
    print(f"pairs of different PrivateTest images within {args.threshold} bits: {(pairs <= args.threshold).sum()}"
          f" of {len(pairs):,} (FER-2013's own near-duplicates among them)")
    everything = np.concatenate([load_arrays(SPLIT / f"{s}.npz")["images"] for s in ("train", "validation", "test")])
    started = time.perf_counter()
    groups = duplicate_groups(perceptual_hashes(everything), args.threshold)
    print(f"hash and group {len(everything):,} faces: {time.perf_counter() - started:.2f} s,"
          f" {len(everything) - len(np.unique(groups))} faces have a near-duplicate")


if __name__ == "__main__":
    main()
