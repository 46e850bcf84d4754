"""evaluate: scores of the trained model on every split; confusion matrix and curves of the test split."""
import json
import time
from pathlib import Path

import keras
import numpy as np

from fer.evaluation import plot_confusion_matrix, predict, scores, write_confusion_csv
from fer.tta import inference_model
from fer.params import load_params
from fer.preprocess import load_arrays

params = load_params()["evaluate"]
model = inference_model(keras.models.load_model("data/model/fer.keras"), params["tta_flip"], params["tta_rotation"])
metrics = {"tta_flip": params["tta_flip"], "tta_rotation": params["tta_rotation"]}
for split in ("test", "validation", "train"):
    data = load_arrays(Path("data/split") / f"{split}.npz")
    started = time.time()
    predicted = predict(model, data["images"]).argmax(axis=1)
    metrics[split] = scores(data["labels"], predicted)
    datasets = sorted(set(data["datasets"]))
    if len(datasets) > 1:  # pooled data: each dataset's own score; FER-2013's test is the headline
        metrics[split]["by_dataset"] = {
            str(name): {key: value for key, value in scores(data["labels"][data["datasets"] == name],
                                                            predicted[data["datasets"] == name]).items()
                        if key != "per_class"}
            for name in datasets}
    print(f"{split}: accuracy {metrics[split]['accuracy']:.4f}, macro-F1 {metrics[split]['macro_f1']:.4f}"
          f" on {len(predicted)} images ({len(predicted) / (time.time() - started):.0f} faces/s)")
    if split == "test":
        write_confusion_csv(data["labels"], predicted, Path("plots/confusion.csv"))
        plot_confusion_matrix(data["labels"], predicted, f"test accuracy {metrics['test']['accuracy']:.3f}",
                              Path("plots/confusion_matrix.png"))
Path("metrics/evaluate.json").write_text(json.dumps(metrics, indent=2) + "\n")
