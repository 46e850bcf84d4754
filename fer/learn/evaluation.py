"""Evaluation: accuracy, macro-F1, per-class scores and the confusion matrix of a model on a split."""
from __future__ import annotations

import csv
from pathlib import Path

import keras
import matplotlib
import numpy as np
from sklearn.metrics import classification_report, confusion_matrix

from fer.contract import CLASS_NAMES, as_pixels

matplotlib.use("Agg")


HEADLINE_DATASET = "fer2013"
# The headline test sets: FER-2013's PrivateTest (in our test split) and PublicTest (our validation split).
HEADLINE_SETS = {"fer2013_private_test": "test", "fer2013_public_test": "validation"}


def predict(model: keras.Model, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Class probabilities for uint8 or float images [N, 48, 48] or [N, 48, 48, 1] of raw pixels."""
    return model.predict(as_pixels(images), batch_size=batch_size, verbose=0)


def scores(labels: np.ndarray, predicted: np.ndarray) -> dict:
    report = classification_report(labels, predicted, labels=range(len(CLASS_NAMES)), target_names=CLASS_NAMES,
                                   output_dict=True, zero_division=0)
    return {
        "images": int(len(labels)),
        "accuracy": round(float((labels == predicted).mean()), 4),
        "macro_f1": round(report["macro avg"]["f1-score"], 4),
        "per_class": {name: {"precision": round(report[name]["precision"], 4),
                             "recall": round(report[name]["recall"], 4),
                             "f1": round(report[name]["f1-score"], 4)} for name in CLASS_NAMES},
    }


def write_confusion_csv(labels: np.ndarray, predicted: np.ndarray, path: Path) -> None:
    """One row per image, actual and predicted class names: DVC's `confusion` template reads this."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["actual", "predicted"])
        writer.writerows((CLASS_NAMES[a], CLASS_NAMES[p]) for a, p in zip(labels, predicted))


def plot_confusion_matrix(labels: np.ndarray, predicted: np.ndarray, title: str, path: Path) -> None:
    """A row-normalised confusion matrix as a PNG (recall on the diagonal)."""
    import matplotlib.pyplot as plt

    matrix = confusion_matrix(labels, predicted, labels=range(len(CLASS_NAMES)), normalize="true")
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(CLASS_NAMES)), CLASS_NAMES, rotation=45, ha="right")
    ax.set_yticks(range(len(CLASS_NAMES)), CLASS_NAMES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title)
    for (row, col), value in np.ndenumerate(matrix):
        ax.text(col, row, f"{value:.2f}", ha="center", va="center",
                color="white" if value > 0.5 else "black", fontsize=8)
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def split_scores(labels: np.ndarray, predicted: np.ndarray, datasets: np.ndarray) -> dict:
    """Scores of one split, and of each dataset in it where it pools several."""
    result = scores(labels, predicted)
    if len(set(datasets)) > 1:
        result["by_dataset"] = {
            str(name): {key: value for key, value in scores(labels[datasets == name], predicted[datasets == name]).items()
                        if key != "per_class"}
            for name in sorted(set(datasets))}
    return result


def headline(details: dict) -> dict:
    """The numbers a person reads first: FER-2013 PrivateTest and PublicTest, and the pooled test split."""
    def short(record: dict) -> dict:
        return {"accuracy": record["accuracy"], "macro_f1": record["macro_f1"]}
    result = {}
    for name, split in HEADLINE_SETS.items():
        record = details[split].get("by_dataset", {}).get(HEADLINE_DATASET, details[split])
        result[name] = short(record)
    result["pooled_test"] = short(details["test"])
    return result


def write_per_class_csv(labels: np.ndarray, predicted: np.ndarray, path: Path) -> None:
    """Precision, recall and F1 per class, one row per class: DVC's bar chart template reads this."""
    per_class = scores(labels, predicted)["per_class"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["class", "precision", "recall", "f1"])
        writer.writerows([name, *per_class[name].values()] for name in CLASS_NAMES)
