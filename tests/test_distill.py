"""fer.learn.distill and the soft targets training takes: the arithmetic and the batches."""
from __future__ import annotations

import numpy as np
import pytest

from fer.learn.distill import soft_targets
from fer.learn.training import Batches


def test_soft_targets_mix_the_teacher_with_the_labels():
    teacher = np.full((2, 7), 1 / 7, np.float32)
    targets = soft_targets(teacher, np.array([0, 3]), 0.7)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, rtol=1e-6)
    assert targets[0, 0] == pytest.approx(0.7 / 7 + 0.3) and targets[1, 0] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="teacher_weight"):
        soft_targets(teacher, np.array([0, 3]), 1.5)
    with pytest.raises(ValueError, match="shape"):
        soft_targets(teacher[:1], np.array([0, 3]), 0.5)


def test_batches_carry_the_soft_targets_of_their_faces():
    images = np.arange(6 * 48 * 48, dtype=np.uint32).reshape(6, 48, 48).astype(np.uint8)
    labels = np.arange(6) % 7
    targets = np.random.default_rng(0).dirichlet(np.ones(7), 6).astype(np.float32)
    x, y = Batches(images, labels, 6, targets=targets)[0]
    np.testing.assert_array_equal(y, targets)
    _, one_hot = Batches(images, labels, 6)[0]
    np.testing.assert_array_equal(one_hot, np.eye(7)[labels])
