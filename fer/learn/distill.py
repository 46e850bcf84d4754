"""Knowledge distillation: a network taught by the exported model (its averaged views) rather than by
the labels alone, so that one view of the student can approach what four views of the teacher read."""
from __future__ import annotations

import numpy as np

from fer.contract import NUM_CLASSES


def soft_targets(teacher: np.ndarray, labels: np.ndarray, teacher_weight: float) -> np.ndarray:
    """Per face: ``teacher_weight`` x the teacher's probabilities + the rest x the one-hot label."""
    if not 0 <= teacher_weight <= 1:
        raise ValueError(f"distill.teacher_weight must be within 0..1, not {teacher_weight}")
    if teacher.shape != (len(labels), NUM_CLASSES):
        raise ValueError(f"the teacher's probabilities have shape {teacher.shape}, not ({len(labels)}, {NUM_CLASSES})")
    one_hot = np.eye(NUM_CLASSES, dtype=np.float32)[labels]
    return (teacher_weight * teacher + (1 - teacher_weight) * one_hot).astype(np.float32)
