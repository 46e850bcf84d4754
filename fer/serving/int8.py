"""An export's int8 TensorFlow Lite model (``model.tflite`` in its version folder) run in-process by XNNPACK,
through LiteRT's interpreter (the ai-edge-litert package: tf.lite.Interpreter's successor), which imports
in a twentieth of a second where TensorFlow takes seconds."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from fer.contract import ServingError

INT8_FILE = "model.tflite"  # in a version folder beside the SavedModel


class Int8Model:
    """``predict(pixels)`` of the int8 model in ``version_dir`` on ``threads`` threads (default: every core this
    process may use); safe to call from several threads (one interpreter, whose tensors are its state)."""

    def __init__(self, version_dir: Path, threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter
        path = Path(version_dir) / INT8_FILE
        if not path.is_file():
            raise ServingError("NOT_FOUND", f"{version_dir}: no int8 model ({INT8_FILE}) in this version; export"
                                            f" writes one where the params' views section says int8: true")
        self._interpreter = Interpreter(str(path), num_threads=threads or len(os.sched_getaffinity(0)))
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch: int | None = None
        self._lock = threading.Lock()

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        pixels = np.asarray(pixels, dtype=np.float32)
        with self._lock:
            if len(pixels) != self._batch:
                self._interpreter.resize_tensor_input(self._input, list(pixels.shape))
                self._interpreter.allocate_tensors()
                self._batch = len(pixels)
            self._interpreter.set_tensor(self._input, pixels)
            self._interpreter.invoke()
            return self._interpreter.get_tensor(self._output)  # a copy, not the interpreter's buffer
