"""Unzip stage: unpack every archive into one layout, data/interim/<dataset>/<split>/<label>/<file>.

Archives differ in folders, label spellings and split names, so the layout is discovered:
the label is the deepest folder whose name (any case) is one of the dataset's labels, the
split is a folder named like a split, and FER-2013's file-name prefix (Training_, PublicTest_,
PrivateTest_) gives its original split.
"""
from __future__ import annotations

import csv
import zipfile
from collections import Counter
from pathlib import Path, PurePosixPath

from fer.data.datasets import Dataset

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
SPLIT_FOLDERS = {"train": "train", "training": "train", "test": "test", "testing": "test",
                 "val": "validation", "valid": "validation", "validation": "validation"}
FER2013_PREFIXES = ("Training", "PublicTest", "PrivateTest")
UNSPLIT = "unsplit"
MANIFEST_FIELDS = ("path", "dataset", "split", "label")


class ArchiveError(RuntimeError):
    pass


def original_split(member: PurePosixPath) -> str:
    prefix = member.name.split("_", 1)[0]
    if prefix in FER2013_PREFIXES:
        return prefix
    for folder in reversed(member.parts[:-1]):
        if folder.lower() in SPLIT_FOLDERS:
            return SPLIT_FOLDERS[folder.lower()]
    return UNSPLIT


def member_label(member: PurePosixPath, label_map: dict[str, str], known: set[str]) -> str | None:
    """The canonical label of an archive member, None if its folder is a dropped label.

    Raises KeyError if no folder of its path is a label of the dataset at all.
    """
    for folder in reversed(member.parts[:-1]):
        key = folder.lower()
        if key in known:
            return label_map.get(key)
    raise KeyError(str(member))


def unpack_archive(archive: Path, dataset: Dataset, out_dir: Path, contempt: str | None) -> tuple[list[dict], Counter]:
    """Extracts the images of one archive; returns their manifest rows and counts of what was skipped."""
    label_map = dataset.label_map(contempt)
    known = {label.lower() for label in dataset.labels}
    skipped: Counter = Counter()
    rows = []
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                member = PurePosixPath(info.filename)
                if info.is_dir():
                    continue
                if member.suffix.lower() not in IMAGE_SUFFIXES or member.name.startswith("."):
                    skipped["not_an_image"] += 1
                    continue
                try:
                    label = member_label(member, label_map, known)
                except KeyError:
                    skipped["no_label_folder"] += 1
                    continue
                if label is None:
                    skipped["dropped_label"] += 1
                    continue
                split = original_split(member)
                relative = PurePosixPath(dataset.name, split, label, member.name)
                target = out_dir / relative
                if target.exists():  # the same file name under the same split and label, seen before
                    skipped["duplicate_name"] += 1
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    target.write_bytes(zf.read(info))
                except (zipfile.BadZipFile, OSError, EOFError) as err:
                    raise ArchiveError(f"{archive}: member {info.filename} cannot be read: {err}") from err
                rows.append({"path": str(relative), "dataset": dataset.name, "split": split, "label": label})
    except (zipfile.BadZipFile, EOFError) as err:
        raise ArchiveError(f"{archive}: not a readable zip archive ({err})") from err
    if not rows:
        raise ArchiveError(f"{archive}: no image of dataset {dataset.name!r} was found in it (skipped:"
                           f" {dict(skipped) or 'nothing, the archive is empty'}); is it the right archive?")
    return rows, skipped


def write_manifest(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS)
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda row: row["path"]))


def read_manifest(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
