"""Duplicate faces across datasets, found by a perceptual hash.

Two of the seed's datasets hold FER-2013 again (re-encoded as PNG, or upscaled to 224x224), so a
pooled dataset would put the same face in train and test. A DCT perceptual hash of the 48x48 face
survives re-encoding, resizing and JPEG/PNG conversion; faces whose hashes differ in at most
``max_distance`` of 64 bits are duplicates, and duplicates of duplicates join one group.

Which copies stay (``keep_mask``): FER-2013's own images always stay, duplicates among them
included, because the benchmark defines its splits that way; a copy from another dataset of a
FER-2013 face goes; of a group without FER-2013 faces, one copy stays (the first dataset in
``fetch.datasets`` order, then by path), labelled by the majority of the group's labels (ties:
its own label).
"""
from __future__ import annotations

import cv2
import numpy as np

REFERENCE = "fer2013"
BANDS = 8  # with max_distance < BANDS, two duplicates agree exactly on at least one band of 8 bits


def perceptual_hashes(images: np.ndarray) -> np.ndarray:
    """64-bit pHash of each uint8 image [N, H, W]: signs of the 8x8 lowest DCT frequencies vs their median."""
    hashes = np.empty(len(images), dtype=np.uint64)
    weights = (1 << np.arange(64, dtype=np.uint64))
    for index, image in enumerate(images):
        small = cv2.resize(image.astype(np.float32), (32, 32), interpolation=cv2.INTER_AREA)
        low = cv2.dct(small)[:8, :8].ravel()
        bits = (low > np.median(low[1:])).astype(np.uint64)
        hashes[index] = np.bitwise_or.reduce(bits * weights)
    return hashes


def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def duplicate_groups(hashes: np.ndarray, max_distance: int = 4) -> np.ndarray:
    """A group id per image; images within ``max_distance`` bits of each other share one."""
    if max_distance >= BANDS:
        raise ValueError(f"max_distance must be below {BANDS}")
    parent = np.arange(len(hashes))
    for band in range(BANDS):
        keys = (hashes >> np.uint64(8 * band)) & np.uint64(0xFF)
        # candidates share this band exactly; compare whole hashes within each bucket
        order = np.lexsort((np.arange(len(hashes)), keys))
        boundaries = np.flatnonzero(np.diff(keys[order])) + 1
        for bucket in np.split(order, boundaries):
            if len(bucket) < 2:
                continue
            distances = np.bitwise_count(hashes[bucket][:, None] ^ hashes[bucket][None, :])
            for a, b in zip(*np.nonzero(np.triu(distances <= max_distance, k=1))):
                root_a, root_b = _find(parent, bucket[a]), _find(parent, bucket[b])
                if root_a != root_b:
                    parent[max(root_a, root_b)] = min(root_a, root_b)
    return np.array([_find(parent, i) for i in range(len(hashes))])


def keep_mask(groups: np.ndarray, datasets: np.ndarray, labels: np.ndarray, paths: np.ndarray,
              dataset_order: list[str]) -> tuple[np.ndarray, np.ndarray, dict]:
    """Which images stay, their (possibly majority) labels, and a report of what was removed."""
    keep = np.ones(len(groups), dtype=bool)
    labels = labels.copy()
    rank = {name: i for i, name in enumerate(dataset_order)}
    removed: dict[str, int] = {}
    conflicts = 0
    order = np.argsort(groups, kind="stable")
    for members in np.split(order, np.flatnonzero(np.diff(groups[order])) + 1):
        if len(members) < 2 or len(set(datasets[members])) == 1 and datasets[members[0]] == REFERENCE:
            continue
        if len(set(labels[members])) > 1:
            conflicts += 1
        reference = members[datasets[members] == REFERENCE]
        if len(reference):
            dropped = members[datasets[members] != REFERENCE]
        else:
            first = min(members, key=lambda i: (rank.get(datasets[i], len(rank)), paths[i]))
            votes = np.bincount(labels[members])
            if (votes == votes.max()).sum() == 1:
                labels[first] = votes.argmax()
            dropped = members[members != first]
        keep[dropped] = False
        for name in datasets[dropped]:
            removed[str(name)] = removed.get(str(name), 0) + 1
    report = {"duplicates_removed": int((~keep).sum()), "removed_per_dataset": dict(sorted(removed.items())),
              "groups_with_conflicting_labels": conflicts}
    return keep, labels, report
