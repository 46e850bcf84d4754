"""Which test-time views to average: the trained model's FER-2013 accuracy for each `evaluate` setting.

Scores a trained model (data/model/fer.keras, the last `dvc repro`'s, or --model: data/model/fer_fast.keras
for a distilled student) on FER-2013's faces of the validation split (PublicTest, the one to choose
by) and of the test split (PrivateTest, the headline), without and with the mirror image, and with the
face turned either way by each of `--rotations` degrees instead, with and without the mirror image.

Usage: python bench/tta.py [--model data/model/fer.keras] [--rotations 2 4 6 8 10 12 14 16 18]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fer.tf import import_tensorflow  # noqa: E402

import_tensorflow(verbose=False)  # without TensorFlow's start-up lines (oneDNN, CUDA); TF_CPP_MIN_LOG_LEVEL=0 shows them
import keras  # noqa: E402
from fer.arrays import load_arrays  # noqa: E402
from fer.learn.evaluation import predict  # noqa: E402
from fer.learn.tta import inference_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def dataset_faces(path: Path, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels of ``dataset``'s faces in the arrays file ``path``."""
    data = load_arrays(path)
    chosen = data["datasets"] == dataset
    return data["images"][chosen], data["labels"][chosen]


def fer2013_faces(split: str) -> tuple[np.ndarray, np.ndarray]:
    return dataset_faces(REPO / "data" / "split" / f"{split}.npz", "fer2013")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rotations", type=float, nargs="+", default=[2, 4, 6, 8, 10, 12, 14, 16, 18])
    parser.add_argument("--model", type=Path, default=REPO / "data" / "model" / "fer.keras")
    args = parser.parse_args()
    trained = keras.models.load_model(args.model)
    splits = {"PublicTest": fer2013_faces("validation"), "PrivateTest": fer2013_faces("test")}
    settings = [(False, 0), (True, 0)] + [(flip, degrees) for degrees in args.rotations for flip in (False, True)]
    print(f"{'tta_flip':>8} {'tta_rotation':>12} {'views':>5} {'PublicTest':>10} {'PrivateTest':>11}")
    for flip, degrees in settings:
        model = inference_model(trained, flip, degrees)
        accuracy = [(predict(model, images).argmax(axis=1) == labels).mean() for images, labels in splits.values()]
        views = (2 if flip else 1) * (2 if degrees else 1)
        print(f"{flip!s:>8} {degrees:12g} {views:5d} {accuracy[0]:10.4f} {accuracy[1]:11.4f}", flush=True)


if __name__ == "__main__":
    main()
