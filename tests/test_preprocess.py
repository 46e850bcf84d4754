import hashlib

import cv2
import numpy as np
import pytest

from fer.arrays import load_arrays, save_arrays
from fer.data.preprocess import UnreadableImage, load_face, preprocess
from fer.faces import FaceDetector
from tests.conftest import encode, face_image
from tests.test_faces import fer_faces


def test_color_image_of_any_size_becomes_48x48_gray():
    image = cv2.resize(face_image(3, 1, channels=3), (224, 224))
    face, found, whole = load_face(encode(image, ".png"), 48)
    assert face.shape == (48, 48) and face.dtype == np.uint8 and not found  # no detector, no face looked for
    assert np.array_equal(face, whole)


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


def test_real_face_crops_are_aligned_by_the_analysis_detector_and_kept_whole_where_none_is_found(
        shared_datasets, tmp_path):
    """detect_faces: always on FER-2013's own 48x48 faces: upscaled, YuNet finds the face and its eyes and the
    crop is the analysis' aligned one; a face crop without a findable face (here a blank square) stays whole."""
    faces = fer_faces(shared_datasets, count=20)
    manifest = []
    for index, face in enumerate([*faces, np.full((48, 48), 128, np.uint8)]):
        (tmp_path / f"{index}.png").write_bytes(encode(face, ".png"))
        manifest.append({"path": f"{index}.png", "dataset": "fer2013", "split": "PrivateTest", "label": "happy"})
    arrays, report, skipped = preprocess(manifest, tmp_path, 48, detect_faces="always", detector="yunet", align=True)
    assert len(arrays["images"]) == len(manifest) and not skipped  # no FER-2013 face is lost
    whole = report.get("kept_whole_without_a_face", {}).get("fer2013", 0)
    assert 1 <= whole <= 1 + 20 // 10  # the blank one, and at most a tenth of the real faces (94% found)
    assert np.array_equal(arrays["images"][-1], np.full((48, 48), 128, np.uint8))
    detector = FaceDetector("yunet")
    aligned = load_face(encode(faces[0], ".png"), 48, detector, align=True, face_crop_image=True)
    assert aligned.found and not np.array_equal(aligned.face, faces[0])  # cropped and aligned, not passed through
    assert np.array_equal(aligned.whole, faces[0])  # what duplicates are found by
    with pytest.raises(UnreadableImage, match="no face found"):  # an image that is not a face crop is refused
        load_face(encode(np.full((48, 48), 128, np.uint8), ".png"), 48, detector, align=True)


def test_the_committed_settings_leave_face_crops_untouched(tmp_path):
    """detect_faces: auto never runs the detector on a face-crop dataset: the committed data does not move."""
    image = face_image(3, 1)
    (tmp_path / "a.png").write_bytes(encode(image, ".png"))
    manifest = [{"path": "a.png", "dataset": "fer2013", "split": "Training", "label": "happy"}]
    arrays, report, _ = preprocess(manifest, tmp_path, 48, detect_faces="auto", detector="yunet", align=True)
    assert np.array_equal(arrays["images"][0], image) and "kept_whole_without_a_face" not in report

