"""Which networks and views to average: FER-2013 PublicTest (to choose by) and PrivateTest accuracy of
train's network and each member's, alone and together, with one view (the face), two (turned
--rotation degrees either way) and four (those and their mirror images) each, and the network passes
per face each candidate costs (what the speed of an export follows).

Usage: python bench/ensemble.py [--rotation 12] [--members data/members]
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fer.tf import import_tensorflow  # noqa: E402

import_tensorflow(verbose=False)  # without TensorFlow's start-up lines (oneDNN, CUDA); TF_CPP_MIN_LOG_LEVEL=0 shows them
import keras  # noqa: E402
from fer.learn.evaluation import predict  # noqa: E402
from fer.learn.tta import HorizontalFlip, Rotate  # noqa: E402
from tta import fer2013_faces  # noqa: E402  (bench/ is on sys.path)

REPO = Path(__file__).resolve().parents[1]


def view_model(network: keras.Model, degrees: float, mirrored: bool) -> keras.Model:
    inputs = keras.Input((48, 48, 1))
    x = Rotate(degrees)(inputs) if degrees else inputs
    return keras.Model(inputs, network(HorizontalFlip()(x) if mirrored else x))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rotation", type=float, default=12)
    parser.add_argument("--members", type=Path, default=REPO / "data" / "members")
    args = parser.parse_args()
    networks = {"train": REPO / "data" / "model" / "fer.keras"}
    networks |= {path.parent.name: path for path in sorted(args.members.glob("*/fer.keras"))}
    splits = {"PublicTest": fer2013_faces("validation"), "PrivateTest": fer2013_faces("test")}
    views = {"one view": [(0, False)], "two turns": [(args.rotation, False), (-args.rotation, False)],
             "four views": [(d, m) for d in (args.rotation, -args.rotation) for m in (False, True)]}
    probabilities = {}  # (network, view) -> split -> [faces, 7]
    for name, path in networks.items():
        network = keras.models.load_model(path)
        for view in {view for chosen in views.values() for view in chosen}:
            model = view_model(network, *view)
            probabilities[name, view] = {split: predict(model, images) for split, (images, _) in splits.items()}
        print(f"scored {name} ({path.relative_to(REPO)})", file=sys.stderr, flush=True)

    def accuracy(chosen: list[tuple[str, tuple]]) -> list[float]:
        return [float((np.mean([probabilities[key][split] for key in chosen], axis=0).argmax(axis=1)
                       == labels).mean()) for split, (_, labels) in splits.items()]

    print(f"{'networks':40} {'views each':12} {'passes':>6} {'PublicTest':>10} {'PrivateTest':>11}")
    for count in range(1, len(networks) + 1):
        for names in itertools.combinations(networks, count):
            for label, chosen in views.items():
                public, private = accuracy([(name, view) for name in names for view in chosen])
                print(f"{' + '.join(names):40} {label:12} {count * len(chosen):6d} {public:10.4f} {private:11.4f}")


if __name__ == "__main__":
    main()
