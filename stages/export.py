"""export: the evaluated model as a SavedModel in TensorFlow Serving's layout under serving/models."""
import json
from pathlib import Path

import keras

from fer.export import export_model
from fer.tta import inference_model
from fer.params import load_params
from fer.preprocess import load_arrays

params = load_params()
model = inference_model(keras.models.load_model("data/model/fer.keras"), params["evaluate"]["tta_flip"],
                        params["evaluate"]["tta_rotation"])
check_images = load_arrays(Path("data/split/validation.npz"))["images"][: params["export"]["check_images"]]
report = export_model(model, Path("serving/models"), params["export"]["model_name"], params["export"]["version"],
                      check_images)
Path("metrics/export.json").write_text(json.dumps(report, indent=2) + "\n")
print(f"exported {report['path']}; SavedModel matches Keras within {report['max_abs_difference']:.1e}")
