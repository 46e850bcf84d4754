import hashlib

import pytest

from fer.data.datasets import get_dataset
from fer.data.fetch import FetchError, fetch_dataset


def test_fetch_copies_from_the_mirror_and_records_size_and_sha256(fer2013_mirror, tmp_path):
    record = fetch_dataset(get_dataset("fer2013"), tmp_path / "raw", fer2013_mirror)
    data = (fer2013_mirror / "fer2013.zip").read_bytes()
    assert (tmp_path / "raw" / "fer2013.zip").read_bytes() == data
    assert record["bytes"] == len(data)
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    assert record["source"].startswith("mirror:")


def test_missing_source_without_credentials_names_both_ways(tmp_path, monkeypatch):
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    monkeypatch.delenv("KAGGLE_API_TOKEN", raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "no-kaggle-here"))
    with pytest.raises(FetchError) as error:
        fetch_dataset(get_dataset("fer2013"), tmp_path / "raw", tmp_path / "empty-mirror")
    message = str(error.value)
    assert "fer2013.zip" in message and "fetch.mirror" in message
    assert "kaggle.json" in message and "KAGGLE_USERNAME" in message and "KAGGLE_KEY" in message


def test_a_mirror_file_that_is_not_a_zip_is_refused_naming_it(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "fer2013.zip").write_bytes(b"<html>a login page saved instead of the archive</html>")
    with pytest.raises(FetchError, match=f"{mirror / 'fer2013.zip'} is not a readable zip archive"):
        fetch_dataset(get_dataset("fer2013"), tmp_path / "raw", mirror)
    assert not (tmp_path / "raw" / "fer2013.zip").exists()  # nothing recorded
