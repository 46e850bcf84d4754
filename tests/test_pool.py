"""Pooling the six datasets: every archive layout, face cropping, duplicates across datasets, pooled splits."""
from __future__ import annotations

import zipfile
from collections import Counter

import cv2
import numpy as np
import pytest

from fer.contract import CLASS_NAMES
from fer.data.datasets import CATALOG, get_dataset
from fer.data.dedup import duplicate_groups, perceptual_hashes
from fer.data.preprocess import preprocess
from fer.data.split import split_dataset
from fer.data.unzip import unpack_archive
from tests.conftest import encode, face_image, make_fer2013_archive

LAYOUTS = {  # archive members per dataset, following each Kaggle archive's layout (issue #3's table)
    "emotion-detection": ["train/happy/im0.png", "train/disgusted/im1.png", "test/fearful/im0.png",
                          "test/surprised/im2.png"],
    "rating-opencv": ["Rating/Train/Angry/a 1.jpg", "Rating/Train/Happy/b.jpg", "Rating/Test/Surprise/c.jpg"],
    "natural-faces": ["anger/2Q__ (3)_face.png", "happiness/x (1)_face.png", "contempt/y_face.png",
                      "neutrality/z_face.png"],
    "micro-expressions": ["Micro_Expressions/train/anger/anger1.jpg", "Micro_Expressions/test/happiness/happiness2.jpg",
                          "Micro_Expressions/train/sadness/sadness3.jpg"],
    "fer-ck-kdef": ["fer_ckplus_kdef/happiness/ck_1.png", "fer_ckplus_kdef/sadness/kdef 2.png",
                    "fer_ckplus_kdef/contempt/ck_3.png"],
}
EXPECTED = {  # (canonical label, original split) of each member above; contempt dropped
    "emotion-detection": [("happy", "train"), ("disgust", "train"), ("fear", "test"), ("surprise", "test")],
    "rating-opencv": [("angry", "train"), ("happy", "train"), ("surprise", "test")],
    "natural-faces": [("angry", "unsplit"), ("happy", "unsplit"), ("neutral", "unsplit")],
    "micro-expressions": [("angry", "train"), ("happy", "test"), ("sad", "train")],
    "fer-ck-kdef": [("happy", "unsplit"), ("sad", "unsplit")],
}


def decode(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)


def make_archive(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_every_dataset_layout_unpacks_onto_the_canonical_labels(tmp_path):
    for name, members in LAYOUTS.items():
        size = 224 if name in ("natural-faces", "fer-ck-kdef") else 80 if name == "micro-expressions" else 48
        channels = 3 if name in ("natural-faces", "micro-expressions") else 1
        archive = make_archive(tmp_path / f"{name}.zip", {
            member: encode(face_image(i, i, size, channels), member[-4:]) for i, member in enumerate(members)})
        rows, skipped = unpack_archive(archive, get_dataset(name), tmp_path / "interim", contempt=None)
        assert sorted((r["label"], r["split"]) for r in rows) == sorted(EXPECTED[name]), name
        assert skipped == ({"dropped_label": 1} if "contempt" in str(members) else {}), name


def test_every_dataset_label_is_covered_and_contempt_can_be_kept():
    for dataset in CATALOG.values():
        mapped = set(dataset.label_map(contempt="neutral").values())
        assert mapped <= set(CLASS_NAMES) and len(mapped) == 7, dataset.name
    assert get_dataset("natural-faces").label_map(contempt="disgust")["contempt"] == "disgust"
    with pytest.raises(ValueError, match="'drop'"):  # the stage turns params' "drop" into None
        get_dataset("natural-faces").label_map(contempt="drop")


def test_perceptual_hash_survives_reencoding_and_resizing_but_separates_faces():
    faces = np.stack([face_image(i % 7, i) for i in range(40)])
    hashes = perceptual_hashes(faces)
    upscaled = [cv2.resize(decode(encode(cv2.resize(f, (224, 224), interpolation=cv2.INTER_CUBIC), ".png")),
                           (48, 48), interpolation=cv2.INTER_AREA) for f in faces]
    recompressed = [decode(encode(f, ".jpg")) for f in faces]
    for copies in (upscaled, recompressed):
        assert np.bitwise_count(hashes ^ perceptual_hashes(np.stack(copies))).max() <= 4
    groups = duplicate_groups(np.concatenate([hashes, perceptual_hashes(np.stack(upscaled))]))
    assert len(set(groups)) == 40 and (groups[:40] == groups[40:]).all()


def test_pooled_run_keeps_a_reencoded_fer2013_test_face_out_of_train(tmp_path):
    fer_archive = make_fer2013_archive(tmp_path / "fer2013.zip", per_split=3)
    with zipfile.ZipFile(fer_archive) as archive:
        test_member = next(n for n in archive.namelist() if "PrivateTest" in n and "/happy/" in n)
        test_face = cv2.imdecode(np.frombuffer(archive.read(test_member), np.uint8), cv2.IMREAD_GRAYSCALE)
    copy = cv2.resize(test_face, (224, 224), interpolation=cv2.INTER_CUBIC)  # fer-ck-kdef style, other label
    other = make_archive(tmp_path / "ck.zip", {
        "fer_ckplus_kdef/surprise/copy of a fer face.png": encode(copy, ".png"),
        "fer_ckplus_kdef/sadness/someone else.png": encode(face_image(4, 999, 224), ".png"),
        "fer_ckplus_kdef/sadness/empty.png": b""})
    rows = unpack_archive(fer_archive, get_dataset("fer2013"), tmp_path / "interim", None)[0]
    rows += unpack_archive(other, get_dataset("fer-ck-kdef"), tmp_path / "interim", None)[0]
    arrays, report, skipped = preprocess(rows, tmp_path / "interim", 48, dataset_order=["fer2013", "fer-ck-kdef"])
    assert report["deduplication"]["removed_per_dataset"] == {"fer-ck-kdef": 1}
    assert report["deduplication"]["groups_with_conflicting_labels"] == 1
    assert report["skipped_by_reason"] == {"fer-ck-kdef: empty file": 1}
    assert report["per_dataset"]["fer-ck-kdef"]["sad"] == 1
    for strategy in ("official", "random"):
        parts = split_dataset(arrays, strategy, (0.6, 0.2, 0.2), "oversample", seed=0)
        train_faces = perceptual_hashes(parts["train"]["images"])
        assert perceptual_hashes(test_face[None])[0] not in set(train_faces), strategy
        assert any(test_member.endswith(i.split("/")[-1]) for i in parts["test"]["ids"])


def test_images_that_are_not_face_crops_are_cropped_or_skipped(tmp_path, shared_datasets):
    with zipfile.ZipFile(shared_datasets / "fer2013.zip") as archive:
        face = cv2.imdecode(np.frombuffer(archive.read("test/happy/PrivateTest_10077120.jpg"), np.uint8),
                            cv2.IMREAD_GRAYSCALE)
    scene = np.full((480, 640), 90, np.uint8)
    scene[100:300, 250:450] = cv2.resize(face, (200, 200), interpolation=cv2.INTER_CUBIC)
    archive = make_archive(tmp_path / "rating.zip", {"Train/Happy/scene.jpg": encode(scene),
                                                     "Train/Happy/wall.jpg": encode(np.full((480, 640), 90, np.uint8))})
    rows, _ = unpack_archive(archive, get_dataset("rating-opencv"), tmp_path / "interim", None)
    arrays, report, skipped = preprocess(rows, tmp_path / "interim", 48)
    assert report["skipped_by_reason"] == {"rating-opencv: no face found": 1}
    assert skipped == ["rating-opencv/train/happy/wall.jpg: no face found"]
    cropped = arrays["images"][0].astype(float)
    assert cropped.std() > 20 and abs(cropped.mean() - 90) > 5  # a face, not the flat wall around it


def test_real_micro_expressions_and_natural_faces_archives(shared_datasets, tmp_path):
    rows, skipped = unpack_archive(shared_datasets / "micro-expressions.zip", get_dataset("micro-expressions"),
                                   tmp_path, contempt=None)
    assert Counter(r["split"] for r in rows) == {"train": 7600, "test": 1860} and not skipped
    assert {r["label"] for r in rows} == set(CLASS_NAMES)
    rows, skipped = unpack_archive(shared_datasets / "natural-faces-sample.zip", get_dataset("natural-faces"),
                                   tmp_path, contempt=None)
    assert len(rows) + skipped["dropped_label"] + skipped.get("duplicate_name", 0) == 558
    assert {r["split"] for r in rows} == {"unsplit"} and {r["label"] for r in rows} == set(CLASS_NAMES)
