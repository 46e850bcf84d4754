"""Preprocess stage: every image becomes one 48x48 grayscale face; duplicates across datasets go.

Images of datasets that are not tight face crops are cropped to their largest face with the same
detector and crop function (fer.faces.face_crop) as playtest analysis, configured by params (the
committed data: Haar boxes widened by 0.1, unaligned); unreadable images and images without a face are skipped,
counted per dataset and listed. With ``detect_faces: always`` the face crops (FER-2013's 48x48 faces) go through
the same detector and crop too, upscaled so that YuNet finds their landmarks; one where no face is found is a
face all the same, kept whole and counted. Then fer.data.dedup removes other datasets' copies of the same faces,
found by the images as the datasets hold them (a crop moves with the detector; the photo does not).
"""
from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
from tqdm import tqdm

from fer.contract import CLASS_NAMES
from fer.data.datasets import get_dataset
from fer.data.dedup import duplicate_groups, keep_mask, perceptual_hashes
from fer.faces import FaceDetector, face_crop

JPEG_END = b"\xff\xd9"
PNG_END = b"IEND\xaeB`\x82"


MIN_DETECT_PX = 192  # a face crop smaller than this is upscaled for detection: YuNet misses faces that fill 48x48


class UnreadableImage(ValueError):
    pass


def _looks_truncated(data: bytes) -> bool:
    """OpenCV decodes a cut-off JPEG into a half-grey image without failing, so check the end markers."""
    if data[:2] == b"\xff\xd8":
        return not data.rstrip(b"\x00").endswith(JPEG_END)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return not data.endswith(PNG_END)
    return False


class LoadedFace(NamedTuple):
    face: np.ndarray  # size x size uint8 grayscale: the face crop training learns from
    found: bool  # whether the detector found the face (False where none was run)
    whole: np.ndarray  # the image as the dataset holds it, at size x size: what duplicates are found by


def load_face(data: bytes, size: int, detector: FaceDetector | None = None, align: bool = False,
              margin: float = 0.1, face_crop_image: bool = False) -> LoadedFace:
    """Decodes image bytes to a size x size uint8 grayscale array, cropped to the largest face (aligned,
    or its box widened by ``margin``) if a detector is given.

    A ``face_crop_image`` (a dataset of face crops) is upscaled to MIN_DETECT_PX for detection, and kept whole
    where no face is found; any other image without a face is refused."""
    if not data:
        raise UnreadableImage("empty file")
    if _looks_truncated(data):
        raise UnreadableImage("truncated file")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise UnreadableImage("not a decodable image")
    whole, face, found = _resized(image, size), image, False
    if detector is not None:
        if face_crop_image and min(image.shape) < MIN_DETECT_PX:
            factor = MIN_DETECT_PX / min(image.shape)
            image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
        faces = detector.detect(image)
        if faces:
            face = face_crop(image, max(faces, key=lambda face: face.box.w * face.box.h), margin=margin, align=align)
            found = True
        elif not face_crop_image:
            raise UnreadableImage("no face found")
    return LoadedFace(_resized(face, size), found, whole)


def _resized(image: np.ndarray, size: int) -> np.ndarray:
    if image.shape == (size, size):
        return image
    interpolation = cv2.INTER_AREA if min(image.shape) > size else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interpolation)


def preprocess(manifest: list[dict], interim_dir: Path, size: int, detect_faces: str = "auto",
               dedup_distance: int | None = 4, dataset_order: list[str] | None = None, detector: str = "haar",
               align: bool = False, margin: float = 0.1) -> tuple[dict[str, np.ndarray], dict, list[str]]:
    """Loads every image of the manifest; returns the arrays, a report of counts, and the skipped files.

    ``detect_faces``: ``auto`` crops faces in datasets that are not face crops, ``always``, ``never``;
    ``detector``, ``align`` and ``margin``: how (fer.faces.face_crop).
    ``dedup_distance``: the largest pHash distance between duplicates, None to keep duplicates.
    """
    if detect_faces not in ("auto", "always", "never"):
        raise ValueError(f"preprocess.detect_faces must be auto, always or never, not {detect_faces!r}")
    face_detector = FaceDetector(detector) if detect_faces != "never" else None
    images, wholes, kept = [], [], []
    skipped: Counter = Counter()
    kept_whole: Counter = Counter()  # face crops in which the detector found no face
    skipped_files = []
    for row in tqdm(manifest, desc="preprocess", unit="img", mininterval=2):
        path = interim_dir / row["path"]
        face_crops = get_dataset(row["dataset"]).face_crops
        crop = detect_faces == "always" or (detect_faces == "auto" and not face_crops)
        try:
            loaded = load_face(path.read_bytes(), size, face_detector if crop else None, align, margin,
                               face_crop_image=face_crops)
        except UnreadableImage as err:
            skipped[f"{row['dataset']}: {err}"] += 1
            skipped_files.append(f"{row['path']}: {err}")
            continue
        images.append(loaded.face)
        wholes.append(loaded.whole)
        kept_whole[row["dataset"]] += crop and not loaded.found
        kept.append(row)
    arrays = {
        "images": np.stack(images) if images else np.zeros((0, size, size), np.uint8),
        "labels": np.array([CLASS_NAMES.index(row["label"]) for row in kept], np.int64),
        "ids": np.array([row["path"] for row in kept]),
        "datasets": np.array([row["dataset"] for row in kept]),
        "splits": np.array([row["split"] for row in kept]),
    }
    dedup_report = {}
    if dedup_distance is not None and len(set(arrays["datasets"])) > 1:
        started = time.perf_counter()
        # by the images as the datasets hold them: two copies of a photo stay copies however each is cropped
        groups = duplicate_groups(perceptual_hashes(np.stack(wholes)), dedup_distance)
        keep, labels, dedup_report = keep_mask(groups, arrays["datasets"], arrays["labels"], arrays["ids"],
                                               dataset_order or sorted(set(arrays["datasets"])))
        arrays = {key: value[keep] for key, value in dict(arrays, labels=labels).items()}
        print(f"deduplicated {len(keep)} faces in {time.perf_counter() - started:.2f} s")  # a log, not a metric
    report = {
        "images": int(len(arrays["labels"])),
        "skipped": sum(skipped.values()),
        "skipped_by_reason": dict(sorted(skipped.items())),
        "per_label": {name: int((arrays["labels"] == i).sum()) for i, name in enumerate(CLASS_NAMES)},
        "per_dataset": {str(name): {label: int(((arrays["datasets"] == name) & (arrays["labels"] == i)).sum())
                                    for i, label in enumerate(CLASS_NAMES)}
                        for name in sorted(set(arrays["datasets"]))},
    }
    if +kept_whole:
        report["kept_whole_without_a_face"] = dict(sorted((+kept_whole).items()))
    if dedup_report:
        report["deduplication"] = dedup_report
    return arrays, report, skipped_files
