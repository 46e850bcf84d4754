"""export: the evaluated model as a SavedModel version under MODEL_BASE_PATH (TensorFlow Serving's layout),
checked against the Keras model on validation faces. Its networks (train's MODEL, members in MEMBERS_DIR) and
test-time views are the params section given by --views (evaluate; fast for fer_fast, the model analysis runs)."""
import json
import sys

from fer.arrays import load_arrays
from fer.learn.export import export_model
from fer.learn.tta import load_views_model
from fer.params import load_params, stage_paths


def main(argv: list[str] | None = None) -> None:
    paths = stage_paths(argv, __doc__, "model", "members_dir", "validation_set", "model_base_path", "metrics",
                        options={"views": "evaluate"})
    params = load_params()
    views = params[paths.views]
    model = load_views_model(paths.model, paths.members_dir, views)
    check_images = load_arrays(paths.validation_set)["images"][: params["export"]["check_images"]]
    version_dir = paths.model_base_path / str(params["export"]["version"])
    report = export_model(model, version_dir, check_images)
    paths.metrics.parent.mkdir(parents=True, exist_ok=True)
    paths.metrics.write_text(json.dumps(report, indent=2) + "\n")
    print(f"exported {version_dir}; SavedModel matches Keras within {report['max_abs_difference']:.1e}")


if __name__ == "__main__":
    main(sys.argv[1:])
