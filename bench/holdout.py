"""How models read a source: accuracy on one dataset's faces (all of them, data/processed/faces.npz, and its
test part, data/split/test.npz), for the committed fer_model and fer_fast (as params.yaml's evaluate and
fast sections say) and for networks trained elsewhere (--network NAME=PATH, each with fast's views: the
same views as fer_fast).

A network trained without the dataset (the holdout run: train's recipe with the dataset left out of
fetch.datasets) reads all its faces as a source it never saw; the committed models saw its training part.

Usage: python bench/holdout.py [--dataset natural-faces] [--network holdout=../train-holdout/data/model/fer.keras]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fer.tf import import_tensorflow  # noqa: E402

import_tensorflow(verbose=False)  # without TensorFlow's start-up lines (oneDNN, CUDA); TF_CPP_MIN_LOG_LEVEL=0 shows them
import keras  # noqa: E402
from fer.learn.evaluation import predict  # noqa: E402
from fer.learn.tta import inference_model, load_views_model  # noqa: E402
from fer.params import load_params  # noqa: E402
from tta import dataset_faces  # noqa: E402  (bench/ is on sys.path)

REPO = Path(__file__).resolve().parents[1]


def named_path(text: str) -> tuple[str, Path]:
    name, separator, path = text.partition("=")
    if not separator or not Path(path).is_file():
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=PATH of a trained network (a .keras file)")
    return name, Path(path)


def fast_views_network(path: Path) -> keras.Model:
    """A network trained elsewhere (a .keras file) over fast's views: the same views as fer_fast."""
    views = load_params()["fast"]
    return inference_model(keras.models.load_model(path), views["tta_flip"], views["tta_rotation"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="natural-faces")
    parser.add_argument("--network", type=named_path, action="append", default=[])
    args = parser.parse_args()
    faces = {part: dataset_faces(REPO / "data" / path, args.dataset)  # part -> (images, labels)
             for part, path in (("all faces", "processed/faces.npz"), ("test part", "split/test.npz"))}
    empty = [part for part, (_, labels) in faces.items() if not len(labels)]
    if empty:
        raise SystemExit(f"no faces of {args.dataset!r} in the {', '.join(empty)} (is it in fetch.datasets?)")
    params = load_params()
    model_path, members = REPO / "data" / "model" / "fer.keras", REPO / "data" / "members"
    models = {"fer_model": load_views_model(model_path, members, params["evaluate"]),
              "fer_fast": load_views_model(model_path, members, params["fast"])}
    models.update({name: fast_views_network(path) for name, path in args.network})
    print(f"{args.dataset}: " + ", ".join(f"{part} {len(labels)}" for part, (_, labels) in faces.items()))
    print(f"{'model':12} {'all faces':>10} {'test part':>10}")
    for name, model in models.items():
        accuracies = [(predict(model, images).argmax(axis=1) == labels).mean() for images, labels in faces.values()]
        print(f"{name:12} " + " ".join(f"{accuracy:10.4f}" for accuracy in accuracies))


if __name__ == "__main__":
    main()
