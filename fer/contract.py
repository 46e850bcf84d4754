"""What every part of the project agrees on, and all that a client needs: no TensorFlow here.

A served model takes raw grey levels 0..255 as float32 ``pixels`` [N, 48, 48, 1] and returns the
``probabilities`` [N, 7] of CLASS_NAMES, in this order, through its ``serving_default`` signature;
a model's base path holds one numbered folder per version, as TensorFlow Serving expects.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

CLASS_NAMES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NUM_CLASSES = len(CLASS_NAMES)
INPUT_SHAPE = (48, 48, 1)

MODEL_NAME = "fer_model"  # the accurate model
ANALYSIS_MODEL_NAME = "fer_fast"  # fewer network passes per face (params.yaml: fast), faster: what fer analyze runs
SIGNATURE = "serving_default"
INPUT_NAME = "pixels"
OUTPUT_NAME = "probabilities"


class ServingError(Exception):
    """A request the server refuses; ``code`` is the gRPC status name TensorFlow Serving would use."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def as_pixels(images: np.ndarray) -> np.ndarray:
    """Face images [N, 48, 48] or [N, 48, 48, 1] of grey levels (any number type) as the model's input."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    return images.astype(np.float32, copy=False)


def versions_on_disk(base_path: Path) -> list[int]:
    """The version numbers under a model's base path that hold a SavedModel, lowest first."""
    if not base_path.is_dir():
        return []
    return sorted(int(p.name) for p in base_path.iterdir()
                  if p.name.isdigit() and (p / "saved_model.pb").is_file())
