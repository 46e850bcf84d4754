import hashlib

import cv2
import numpy as np
import pytest

from fer.arrays import load_arrays, save_arrays
from fer.data.preprocess import UnreadableImage, load_face, preprocess
from tests.conftest import encode, face_image


def test_color_image_of_any_size_becomes_48x48_gray():
    image = cv2.resize(face_image(3, 1, channels=3), (224, 224))
    face = load_face(encode(image, ".png"), 48)
    assert face.shape == (48, 48) and face.dtype == np.uint8


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (encode(face_image(0, 1))[:300], "truncated"),
    (encode(face_image(0, 1), ".png")[:200], "truncated"),
    (b"GIF89a not really", "not a decodable image"),
])
def test_unreadable_images_are_refused_with_a_reason(data, reason):
    with pytest.raises(UnreadableImage, match=reason):
        load_face(data, 48)


def test_preprocess_skips_and_counts_bad_files_and_keeps_the_rest(tmp_path):
    (tmp_path / "good.jpg").write_bytes(encode(face_image(3, 1)))
    (tmp_path / "cut.jpg").write_bytes(encode(face_image(3, 2))[:250])
    (tmp_path / "empty.png").write_bytes(b"")
    manifest = [{"path": name, "dataset": "fer2013", "split": "Training", "label": "happy"}
                for name in ("good.jpg", "cut.jpg", "empty.png")]
    arrays, report, skipped_files = preprocess(manifest, tmp_path, 48)
    assert arrays["images"].shape == (1, 48, 48)
    assert list(arrays["ids"]) == ["good.jpg"] and list(arrays["labels"]) == [3]
    assert report["skipped"] == 2
    assert report["skipped_by_reason"] == {"fer2013: empty file": 1, "fer2013: truncated file": 1}
    assert sorted(line.split(":")[0] for line in skipped_files) == ["cut.jpg", "empty.png"]


def test_saved_arrays_round_trip_and_are_byte_identical(tmp_path):
    arrays = {"images": np.arange(48 * 48 * 2, dtype=np.uint8).reshape(2, 48, 48), "ids": np.array(["a", "b"])}
    save_arrays(arrays, tmp_path / "one.npz")
    save_arrays(arrays, tmp_path / "two.npz")
    digests = {hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() for name in ("one.npz", "two.npz")}
    assert len(digests) == 1
    loaded = load_arrays(tmp_path / "one.npz")
    assert np.array_equal(loaded["images"], arrays["images"]) and list(loaded["ids"]) == ["a", "b"]
