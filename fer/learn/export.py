"""Export: a SavedModel in TensorFlow Serving's layout, checked against the Keras model it came from.

serving/models/<name>/<version>/ holds the SavedModel; its ``serving_default`` signature takes
float32 ``pixels`` [N, 48, 48, 1] (raw grey levels 0..255) and returns ``probabilities`` [N, 7]
in the order of CLASS_NAMES, which is written to assets.extra/class_names.txt beside it.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from fer.contract import CLASS_NAMES, INPUT_NAME, INPUT_SHAPE, OUTPUT_NAME, SIGNATURE


class ExportMismatch(RuntimeError):
    pass


def write_savedmodel(model: keras.Model, version_dir: Path) -> None:
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name=SIGNATURE,
        fn=lambda pixels: {OUTPUT_NAME: model(pixels, training=False)},
        input_signature=[tf.TensorSpec((None, *INPUT_SHAPE), tf.float32, name=INPUT_NAME)],
    )
    if version_dir.exists():
        shutil.rmtree(version_dir)
    archive.write_out(str(version_dir), verbose=False)
    extra = version_dir / "assets.extra"
    extra.mkdir(exist_ok=True)
    (extra / "class_names.txt").write_text("\n".join(CLASS_NAMES) + "\n")


def load_signature(version_dir: Path):
    return tf.saved_model.load(str(version_dir)).signatures[SIGNATURE]


def check_savedmodel(model: keras.Model, version_dir: Path, images: np.ndarray, tolerance: float = 1e-5) -> float:
    """Reloads the SavedModel with TensorFlow and compares its output with the Keras model's.

    Returns the largest absolute difference; raises ExportMismatch above ``tolerance``.
    """
    pixels = images.reshape(-1, *INPUT_SHAPE).astype(np.float32)
    served = load_signature(version_dir)(pixels=tf.constant(pixels))[OUTPUT_NAME].numpy()
    expected = model.predict(pixels, verbose=0)
    difference = float(np.abs(served - expected).max())
    if difference > tolerance:
        raise ExportMismatch(f"{version_dir}: SavedModel differs from the Keras model by {difference:.2e}"
                             f" (tolerance {tolerance:.0e})")
    return difference


def export_model(model: keras.Model, version_dir: Path, check_images: np.ndarray) -> dict:
    """Writes the SavedModel to ``version_dir`` (replacing one there) and checks it; returns the check."""
    write_savedmodel(model, version_dir)
    difference = check_savedmodel(model, version_dir, check_images)
    return {"max_abs_difference": difference, "checked_images": int(len(check_images))}
