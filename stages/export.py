"""export: the evaluated model as a SavedModel version under MODEL_BASE_PATH (TensorFlow Serving's layout),
checked against the Keras model on validation faces. Its networks (train's MODEL, members in MEMBERS_DIR) and
test-time views are the params section given by --views (evaluate; fast for fer_fast, the model analysis runs),
whose int8 asks for its int8 TensorFlow Lite model beside it."""
import json
import sys

import numpy as np

from fer.arrays import load_arrays
from fer.learn.export import export_model
from fer.learn.tta import load_views_model
from fer.params import load_params, stage_paths
from fer.serving.int8 import INT8_FILE


def main(argv: list[str] | None = None) -> None:
    paths = stage_paths(argv, __doc__, "model", "members_dir", "validation_set", "model_base_path", "metrics",
                        options={"views": "evaluate"})
    params = load_params()
    views = params[paths.views]
    model = load_views_model(paths.model, paths.members_dir, views)
    export = params["export"]
    faces = load_arrays(paths.validation_set)["images"]  # in class order: drawn at random, so every class is checked
    check_images = faces[np.random.default_rng(params["seed"]).permutation(len(faces))[: export["check_images"]]]
    version_dir = paths.model_base_path / str(export["version"])
    report = export_model(model, version_dir, check_images, int8=views["int8"])
    paths.metrics.parent.mkdir(parents=True, exist_ok=True)
    paths.metrics.write_text(json.dumps(report, indent=2) + "\n")
    print(f"exported {version_dir}; SavedModel matches Keras within {report['max_abs_difference']:.1e}")
    if "int8" in report:
        print(f"and its int8 model {version_dir / INT8_FILE}: the SavedModel's class on"
              f" {report['int8']['class_agreement']:.1%} of {report['checked_images']} validation faces")


if __name__ == "__main__":
    main(sys.argv[1:])
