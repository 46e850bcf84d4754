"""How to frame an aligned face: where FER-2013 puts the eyes, and which framing classifies best.

1. FER-2013's own framing: YuNet's eye landmarks on FER-2013 PublicTest faces (upscaled 4x so the
   detector sees them), as fractions of the crop's side: the distance between the eyes' centres and
   the height of their midpoint (medians and quartiles).
2. A grid of framings around it (DISTANCES x LEVELS), applied to faces detected and aligned in micro-expressions' test split (80 px
   colour photos with some background, never in training; the validation part that chooses) and in
   natural-faces (224 px), each classified by the committed model; beside them, the images as
   training used them (whole image resized) and YuNet boxes widened by 0.1.

By default the committed SavedModel classifies; --network NAME=PATH classifies with a trained network
(a .keras file) and fast's views instead, such as the holdout run's, which never saw natural-faces: on a
source training never saw, the grid says which crop reads it best without the bias of a model trained
on that source's whole images.

Usage: python bench/framing.py [--network holdout=../train-holdout/data/model/fer.keras]
       (needs data/interim from `dvc repro`; takes a few minutes)
"""
from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fer.tf import import_tensorflow  # noqa: E402

import_tensorflow(verbose=False)  # without TensorFlow's start-up lines (oneDNN, CUDA); TF_CPP_MIN_LOG_LEVEL=0 shows them
from fer.contract import CLASS_NAMES  # noqa: E402
from fer.faces import FACE_SIZE, FaceDetector, Framing, align_face, crop_face, eyes  # noqa: E402
from fer.learn.evaluation import predict  # noqa: E402
from fer.serving.client import LocalModel  # noqa: E402
from holdout import fast_views_network, named_path  # noqa: E402  (bench/ is on sys.path)

REPO = Path(__file__).resolve().parents[1]
INTERIM = REPO / "data" / "interim"
MODEL = REPO / "serving" / "models" / "fer_model"
UPSCALE = 4
DISTANCES = (0.34, 0.37, 0.40, 0.43, 0.46)  # around FER-2013's own framing (step 1 prints it)
LEVELS = (0.22, 0.26, 0.30, 0.34, 0.38, 0.42)


def manifest_rows(dataset: str, split: str | None = None) -> list[dict]:
    with open(INTERIM / "manifest.csv", newline="") as f:
        return [r for r in csv.DictReader(f) if r["dataset"] == dataset and (split is None or r["split"] == split)]


def fer2013_framing(detector: FaceDetector, rows: list[dict]) -> tuple[np.ndarray, np.ndarray, int]:
    distances, levels = [], []
    for row in rows:
        image = cv2.imread(str(INTERIM / row["path"]), cv2.IMREAD_GRAYSCALE)
        big = cv2.resize(image, None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_CUBIC)
        faces = [f for f in detector.detect(big) if f.landmarks is not None]
        if not faces:
            continue
        right_eye, left_eye = eyes(max(faces, key=lambda f: f.box.w))
        side = big.shape[0]
        distances.append(np.hypot(*(left_eye - right_eye)) / side)
        levels.append((right_eye[1] + left_eye[1]) / 2 / side)
    return np.array(distances), np.array(levels), len(rows)


def detected(detector: FaceDetector, rows: list[dict]) -> list[tuple[np.ndarray, object, int]]:
    """(image upscaled to at least 192 px, its largest face, label index) for each image with a face."""
    found = []
    for row in rows:
        image = cv2.imread(str(INTERIM / row["path"]), cv2.IMREAD_GRAYSCALE)
        factor = max(1.0, 192 / image.shape[0])
        image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC) if factor > 1 else image
        faces = [f for f in detector.detect(image) if f.landmarks is not None]
        if faces:
            found.append((image, max(faces, key=lambda f: f.box.w), CLASS_NAMES.index(row["label"])))
    return found


Classifier = Callable[[np.ndarray], np.ndarray]  # [N, 48, 48, 1] raw pixels -> [N, 7] probabilities


def committed_model() -> Classifier:
    return LocalModel(MODEL).predict


def trained_network(path: Path) -> Classifier:
    model = fast_views_network(path)
    return lambda images: predict(model, images)


def accuracy(classify: Classifier, crops: list[np.ndarray], labels: list[int]) -> float:
    predictions = np.concatenate([classify(np.stack(crops[i:i + 256])[..., None])
                                  for i in range(0, len(crops), 256)]).argmax(axis=1)
    return float((predictions == np.array(labels)).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", type=named_path, help="NAME=PATH: classify with this network, fast's views")
    args = parser.parse_args()
    if not (INTERIM / "manifest.csv").is_file():
        sys.exit(f"bench/framing.py needs {INTERIM / 'manifest.csv'}: run `dvc repro` first")
    yunet = FaceDetector("yunet", detect_width=10_000)
    distances, levels, tried = fer2013_framing(yunet, manifest_rows("fer2013", "PublicTest"))
    d50, l50 = np.median(distances), np.median(levels)
    print(f"FER-2013 PublicTest: eyes found in {len(distances)} of {tried} faces; eye distance"
          f" {d50:.3f} (quartiles {np.quantile(distances, .25):.3f}-{np.quantile(distances, .75):.3f}),"
          f" eye level {l50:.3f} ({np.quantile(levels, .25):.3f}-{np.quantile(levels, .75):.3f}) of the side")
    model = committed_model() if args.network is None else trained_network(args.network[1])
    print(f"\nclassified by {'fer_model' if args.network is None else args.network[0]}")
    print(f"{'framing':34} {'micro-expressions test':>24} {'natural-faces':>16}")
    sets = {"micro-expressions test": manifest_rows("micro-expressions", "test"),
            "natural-faces": manifest_rows("natural-faces")}
    found = {name: detected(yunet, rows) for name, rows in sets.items()}
    columns = {name: f"{len(found[name])} of {len(rows)} faces" for name, rows in sets.items()}
    print(f"{'':34} {columns['micro-expressions test']:>24} {columns['natural-faces']:>16}")

    def row(title: str, crop) -> None:
        scores = [accuracy(model, [crop(image, face) for image, face, _ in found[name]],
                           [label for _, _, label in found[name]]) for name in sets]
        print(f"{title:34} {scores[0]:>24.4f} {scores[1]:>16.4f}")

    row("whole image, as training used it", lambda image, face: cv2.resize(image, (FACE_SIZE, FACE_SIZE),
                                                                             interpolation=cv2.INTER_AREA))
    row("YuNet box widened by 0.1", lambda image, face: crop_face(image, face.box, 0.1))
    for distance in DISTANCES:
        for level in LEVELS:
            framing = Framing(float(distance), float(level))
            row(f"aligned, eyes {distance:.2f} apart at {level:.2f}",
                lambda image, face, framing=framing: align_face(image, face, framing))


if __name__ == "__main__":
    main()
