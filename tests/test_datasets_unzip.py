import zipfile
from collections import Counter
from pathlib import PurePosixPath

import pytest

from fer.contract import CLASS_NAMES
from fer.data.datasets import CATALOG, get_dataset
from fer.data.unzip import ArchiveError, original_split, read_manifest, unpack_archive, write_manifest
from tests.conftest import FER2013_LABELS, encode, face_image, make_fer2013_archive


def test_canonical_classes_are_fer2013_order():
    assert CLASS_NAMES == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_label_of_every_dataset_maps_to_a_canonical_class(name):
    dataset = CATALOG[name]
    mapping = dataset.label_map(contempt=None)
    expected = {label.lower() for label in dataset.labels} - {"contempt"}
    assert set(mapping) == expected
    assert set(mapping.values()) <= set(CLASS_NAMES)
    assert len(set(mapping.values())) == len(mapping), "two folders of one dataset map to one class"


def test_label_spellings_and_contempt_choice():
    natural = get_dataset("natural-faces")
    assert natural.label_map()["happiness"] == "happy"
    assert natural.label_map()["neutrality"] == "neutral"
    assert "contempt" not in natural.label_map(contempt=None)
    assert natural.label_map(contempt="disgust")["contempt"] == "disgust"
    assert get_dataset("emotion-detection").label_map()["fearful"] == "fear"


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(ValueError, match="fer2013"):
        get_dataset("imagenet")


def test_original_split_from_fer2013_prefix_and_from_folders():
    assert original_split(PurePosixPath("test/angry/PrivateTest_1.jpg")) == "PrivateTest"
    assert original_split(PurePosixPath("test/angry/PublicTest_1.jpg")) == "PublicTest"
    assert original_split(PurePosixPath("train/angry/Training_1.jpg")) == "Training"
    assert original_split(PurePosixPath("Micro_Expressions/Train/anger/anger1.jpg")) == "train"
    assert original_split(PurePosixPath("anger/face (1).png")) == "unsplit"


def test_unpack_fer2013_layout(tmp_path):
    archive = make_fer2013_archive(tmp_path / "fer2013.zip", per_split=2)
    rows, skipped = unpack_archive(archive, get_dataset("fer2013"), tmp_path / "out", contempt=None)
    assert len(rows) == 7 * 3 * 2 and not skipped
    assert Counter(row["split"] for row in rows) == {"Training": 14, "PublicTest": 14, "PrivateTest": 14}
    assert {row["label"] for row in rows} == set(CLASS_NAMES)
    for row in rows:
        assert (tmp_path / "out" / row["path"]).is_file()
        assert row["path"].startswith(f"fer2013/{row['split']}/{row['label']}/")
    write_manifest(rows, tmp_path / "manifest.csv")
    assert read_manifest(tmp_path / "manifest.csv") == sorted(rows, key=lambda row: row["path"])


def test_unpack_discovers_wrapper_folders_capitals_and_skips_what_is_not_a_face(tmp_path):
    archive = tmp_path / "natural.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Wrapper/Happiness/face (1).png", encode(face_image(3, 1), ".png"))
        zf.writestr("Wrapper/CONTEMPT/face (2).png", encode(face_image(1, 2), ".png"))
        zf.writestr("Wrapper/Happiness/notes.txt", b"not an image")
        zf.writestr("Wrapper/unrelated/face.png", encode(face_image(0, 3), ".png"))
        zf.writestr("Other/happiness/face (1).png", encode(face_image(3, 4), ".png"))
    rows, skipped = unpack_archive(archive, get_dataset("natural-faces"), tmp_path / "out", contempt=None)
    assert [(row["label"], row["split"]) for row in rows] == [("happy", "unsplit")]
    assert (tmp_path / "out" / "natural-faces/unsplit/happy/face (1).png").is_file()
    assert skipped == {"dropped_label": 1, "not_an_image": 1, "no_label_folder": 1, "duplicate_name": 1}


def test_corrupt_archive_error_names_the_file(tmp_path):
    archive = tmp_path / "fer2013.zip"
    archive.write_bytes(b"PK\x03\x04 this is not really a zip archive")
    with pytest.raises(ArchiveError, match="fer2013.zip"):
        unpack_archive(archive, get_dataset("fer2013"), tmp_path / "out", contempt=None)


def test_unpack_real_fer2013_archive(shared_datasets, tmp_path):
    rows, skipped = unpack_archive(shared_datasets / "fer2013.zip", get_dataset("fer2013"), tmp_path, contempt=None)
    counts = Counter((row["label"], row["split"]) for row in rows)
    assert len(rows) == 35887 and not skipped
    assert counts["happy", "Training"] == 7215 and counts["disgust", "PrivateTest"] == 55
    assert sum(n for (_, split), n in counts.items() if split == "PublicTest") == 3589
    assert {label for label, _ in counts} == set(CLASS_NAMES) == set(FER2013_LABELS)


def test_an_archive_without_any_image_stops_naming_it_and_what_was_skipped(tmp_path):
    archive = tmp_path / "fer2013.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("train/happy/readme.txt", b"no image here")
        zf.writestr("train/unrelated/face.png", encode(face_image(3, 1), ".png"))
    with pytest.raises(ArchiveError, match=r"fer2013.zip: no image of dataset 'fer2013' was found.*"
                                           r"'not_an_image': 1, 'no_label_folder': 1"):
        unpack_archive(archive, get_dataset("fer2013"), tmp_path / "out", contempt=None)
