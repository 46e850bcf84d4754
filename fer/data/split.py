"""Split stage: train/validation/test assignment, and class balancing of the training split.

Balancing happens here, after the split and on the training split only: an oversampled copy
must never land in validation or test.
"""
from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from fer.contract import CLASS_NAMES
from fer.data.unzip import UNSPLIT

SPLITS = ("train", "validation", "test")
# Original splits of the archives, mapped onto ours by the official protocol.
OFFICIAL = {"Training": "train", "PublicTest": "validation", "PrivateTest": "test",
            "train": "train", "validation": "validation", "test": "test"}
BALANCING = ("none", "undersample", "oversample", "class_weights")


HEADLINE_TEST = "PrivateTest"  # FER-2013's test set, which papers report: always in test


def official_split(original_splits: np.ndarray, labels: np.ndarray, ratios, seed: int) -> np.ndarray:
    """FER-2013's protocol (Training -> train, PublicTest -> validation, PrivateTest -> test), other
    datasets' own train/validation/test kept, and datasets without a split divided by ``ratios``."""
    unknown = sorted(set(original_splits) - set(OFFICIAL) - {UNSPLIT})
    if unknown:
        raise ValueError(f"the official split has no place for images whose original split is {unknown}")
    assignment = np.array([OFFICIAL.get(s, "") for s in original_splits], dtype=object)
    unsplit = np.flatnonzero(original_splits == UNSPLIT)
    if len(unsplit):
        assignment[unsplit] = random_split(labels[unsplit], ratios, seed)
    return assignment.astype(str)


def random_split(labels: np.ndarray, ratios: tuple[float, float, float], seed: int) -> np.ndarray:
    """A stratified split with the given train/validation/test ratios (the seed document's 60/20/20)."""
    if not np.isclose(sum(ratios), 1.0) or min(ratios) <= 0:
        raise ValueError(f"split ratios must be positive and add up to 1, got {ratios}")
    indices = np.arange(len(labels))
    counts = np.bincount(labels)
    if counts[counts > 0].min() >= 3:
        train, rest = train_test_split(indices, train_size=ratios[0], stratify=labels, random_state=seed)
        validation, test = train_test_split(rest, train_size=ratios[1] / (ratios[1] + ratios[2]),
                                            stratify=labels[rest], random_state=seed)
    else:  # too few faces of some class to stratify: a seeded shuffle cut by the ratios
        shuffled = np.random.default_rng(seed).permutation(indices)
        cuts = np.round(np.cumsum(ratios[:2]) * len(labels)).astype(int)
        train, validation, test = np.split(shuffled, cuts)
    assignment = np.empty(len(labels), dtype=object)
    assignment[train], assignment[validation], assignment[test] = "train", "validation", "test"
    return assignment.astype(str)


def assign_splits(arrays: dict[str, np.ndarray], strategy: str, ratios, seed: int) -> np.ndarray:
    if strategy == "official":
        return official_split(arrays["splits"], arrays["labels"], tuple(ratios), seed)
    if strategy == "random":
        # FER-2013's PrivateTest stays the test set's core, so the headline number stays comparable
        headline = arrays["splits"] == HEADLINE_TEST
        assignment = np.full(len(headline), "test", dtype=object)
        if (~headline).any():
            assignment[~headline] = random_split(arrays["labels"][~headline], tuple(ratios), seed)
        return assignment.astype(str)
    raise ValueError(f"unknown split.strategy {strategy!r}; use 'official' or 'random'")


def balance_indices(labels: np.ndarray, method: str, seed: int) -> np.ndarray:
    """Row indices that make the classes about equally frequent (undersample/oversample), else all rows."""
    if method not in BALANCING:
        raise ValueError(f"unknown balance method {method!r}; use one of {', '.join(BALANCING)}")
    if method in ("none", "class_weights"):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    present = [np.flatnonzero(labels == c) for c in range(len(CLASS_NAMES)) if (labels == c).any()]
    target = min(map(len, present)) if method == "undersample" else max(map(len, present))
    if method == "undersample":
        chosen = [rng.choice(rows, target, replace=False) for rows in present]
    else:  # every original once, plus random repeats up to the largest class
        chosen = [np.concatenate([rows, rng.choice(rows, target - len(rows))]) for rows in present]
    return np.sort(np.concatenate(chosen))


def class_weights(labels: np.ndarray) -> dict[int, float]:
    """Weights inversely proportional to class frequency, 1.0 on average over the samples."""
    counts = np.bincount(labels, minlength=len(CLASS_NAMES))
    present = counts > 0
    weights = np.zeros(len(CLASS_NAMES))
    weights[present] = len(labels) / (present.sum() * counts[present])
    return {c: float(w) for c, w in enumerate(weights)}


def split_dataset(arrays: dict[str, np.ndarray], strategy: str, ratios, balance: str, seed: int
                  ) -> dict[str, dict[str, np.ndarray]]:
    assignment = assign_splits(arrays, strategy, ratios, seed)
    parts = {name: {key: value[assignment == name] for key, value in arrays.items()} for name in SPLITS}
    keep = balance_indices(parts["train"]["labels"], balance, seed)
    parts["train"] = {key: value[keep] for key, value in parts["train"].items()}
    return parts


def split_report(parts: dict[str, dict[str, np.ndarray]]) -> dict:
    return {
        name: {"images": int(len(part["labels"])),
               "per_label": {label: int((part["labels"] == i).sum()) for i, label in enumerate(CLASS_NAMES)},
               "per_dataset": {str(d): int((part["datasets"] == d).sum()) for d in sorted(set(part["datasets"]))}}
        for name, part in parts.items()
    }
