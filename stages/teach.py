"""teach: the exported model's probabilities (its averaged views, in float32) for every face of TRAIN_SET,
the soft targets distillation learns from, in TEACHER."""
import sys

import numpy as np

from fer.arrays import load_arrays, save_arrays
from fer.params import stage_paths
from fer.serving.client import LocalModel


def main(argv: list[str] | None = None) -> None:
    paths = stage_paths(argv, __doc__, "train_set", "model_base_path", "teacher")
    images = load_arrays(paths.train_set)["images"]
    model = LocalModel(paths.model_base_path)
    probabilities = np.concatenate([model.predict(images[i:i + 256][..., None]) for i in range(0, len(images), 256)])
    paths.teacher.parent.mkdir(parents=True, exist_ok=True)
    save_arrays({"probabilities": probabilities.astype(np.float32)}, paths.teacher)
    print(f"teacher {model.path}: probabilities for {len(images)} faces")


if __name__ == "__main__":
    main(sys.argv[1:])
