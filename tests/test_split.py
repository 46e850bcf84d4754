from collections import Counter

import numpy as np
import pytest

from fer.data.split import balance_indices, class_weights, official_split, random_split, split_dataset


def labelled(counts):
    return np.concatenate([np.full(n, c) for c, n in enumerate(counts)])


def test_official_split_follows_fer2013_usage_and_other_datasets_own_splits():
    original = np.array(["Training", "PublicTest", "PrivateTest", "Training", "train", "test", "validation"])
    assert list(official_split(original, np.zeros(7, int), (0.6, 0.2, 0.2), 0)) == [
        "train", "validation", "test", "train", "train", "test", "validation"]


def test_official_split_divides_unsplit_datasets_by_the_ratios():
    labels = labelled([50] * 7)
    assignment = official_split(np.array(["unsplit"] * len(labels)), labels, (0.6, 0.2, 0.2), seed=3)
    assert sorted(Counter(assignment).items()) == [("test", 70), ("train", 210), ("validation", 70)]
    with pytest.raises(ValueError, match="Holdout"):
        official_split(np.array(["Holdout"]), np.zeros(1, int), (0.6, 0.2, 0.2), 0)


def test_random_split_keeps_fer2013_privatetest_in_test():
    labels = labelled([40] * 7)
    splits = np.array(["PrivateTest", "Training", "unsplit", "train"] * 70)
    arrays = {"labels": labels, "splits": splits, "ids": np.arange(len(labels)).astype(str),
              "datasets": np.array(["fer2013"] * len(labels))}
    parts = split_dataset(arrays, "random", (0.6, 0.2, 0.2), "none", seed=1)
    assert set(np.flatnonzero(splits == "PrivateTest").astype(str)) <= set(parts["test"]["ids"])
    assert "PrivateTest" not in set(parts["train"]["splits"]) | set(parts["validation"]["splits"])


def test_random_split_is_stratified_60_20_20_disjoint_and_seed_stable():
    labels = labelled([500, 50, 300, 700, 400, 250, 300])
    first = random_split(labels, (0.6, 0.2, 0.2), seed=7)
    assert list(first) == list(random_split(labels, (0.6, 0.2, 0.2), seed=7))
    assert list(first) != list(random_split(labels, (0.6, 0.2, 0.2), seed=8))
    for name, share in (("train", 0.6), ("validation", 0.2), ("test", 0.2)):
        chosen = labels[first == name]
        assert abs(len(chosen) / len(labels) - share) < 0.01
        for c in range(7):
            assert abs((chosen == c).mean() - (labels == c).mean()) < 0.01


def test_no_image_is_in_two_splits_whatever_the_strategy_and_balance():
    labels = labelled([30, 5, 20, 40, 25, 15, 20])
    arrays = {"labels": labels, "ids": np.array([f"img{i}" for i in range(len(labels))]),
              "datasets": np.array(["fer2013"] * len(labels)),
              "splits": np.array(["Training", "PublicTest", "PrivateTest"] * 51 + ["Training", "Training"])[:len(labels)]}
    for strategy in ("official", "random"):
        for balance in ("none", "undersample", "oversample", "class_weights"):
            parts = split_dataset(arrays, strategy, (0.6, 0.2, 0.2), balance, seed=1)
            ids = [set(part["ids"]) for part in parts.values()]
            assert not ids[0] & ids[1] and not ids[0] & ids[2] and not ids[1] & ids[2]
            assert set.union(*ids) == set(arrays["ids"]) or balance == "undersample"


def test_balancing_counts():
    labels = labelled([10, 2, 5, 20, 8, 4, 6])
    under = labels[balance_indices(labels, "undersample", seed=0)]
    over = balance_indices(labels, "oversample", seed=0)
    assert np.bincount(under).tolist() == [2] * 7
    assert np.bincount(labels[over]).tolist() == [20] * 7
    assert set(range(len(labels))) <= set(over), "oversampling keeps every original"
    assert len(balance_indices(labels, "none", seed=0)) == len(labels)
    with pytest.raises(ValueError, match="unknown balance"):
        balance_indices(labels, "smote", seed=0)


def test_class_weights_even_out_classes():
    labels = labelled([10, 2, 5, 20, 8, 4, 6])
    weights = class_weights(labels)
    per_class_total = [weights[c] * n for c, n in enumerate(np.bincount(labels))]
    assert np.allclose(per_class_total, per_class_total[0])
    assert np.isclose(np.mean([weights[c] for c in labels]), 1.0)
