"""Fetch stage: bring each dataset's archive into data/raw, from a local mirror or from Kaggle."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from fer.datasets import Dataset


class FetchError(RuntimeError):
    pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def kaggle_credentials_available() -> bool:
    config_dir = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle"))
    has_env = bool(os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"))
    return has_env or (config_dir / "kaggle.json").is_file()


def download_from_kaggle(dataset: Dataset, out_dir: Path) -> Path:
    """Downloads the archive exactly as Kaggle serves it (not unzipped)."""
    from kaggle.api.kaggle_api_extended import KaggleApi  # imported late: it reads credentials on import

    api = KaggleApi()
    api.authenticate()
    api.dataset_download_files(dataset.kaggle_slug, path=str(out_dir), unzip=False, quiet=False)
    downloaded = out_dir / f"{dataset.kaggle_slug.split('/')[1]}.zip"
    if not downloaded.is_file():
        raise FetchError(f"Kaggle download of {dataset.kaggle_slug} did not produce {downloaded}")
    target = out_dir / dataset.archive
    if downloaded != target:
        downloaded.replace(target)
    return target


def fetch_dataset(dataset: Dataset, out_dir: Path, mirror: Path | None) -> dict:
    """Copies the archive from the mirror folder if it holds it, else downloads it from Kaggle.

    Returns a record of where it came from, its size and its sha256.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    mirrored = mirror / dataset.archive if mirror else None
    if mirrored is not None and mirrored.is_file():
        target = out_dir / dataset.archive
        shutil.copyfile(mirrored, target)
        source = f"mirror:{mirrored}"
    elif kaggle_credentials_available():
        target = download_from_kaggle(dataset, out_dir)
        source = f"kaggle:{dataset.kaggle_slug}"
    else:
        where = f"the mirror folder {mirror} has no {dataset.archive}" if mirror else "no mirror folder is set"
        raise FetchError(
            f"cannot fetch dataset {dataset.name!r}: {where}, and no Kaggle credentials were found.\n"
            f"Either put {dataset.archive} (as downloaded from https://www.kaggle.com/datasets/{dataset.kaggle_slug})"
            f" into the folder named by fetch.mirror in params.yaml,\n"
            f"or give Kaggle API credentials: ~/.kaggle/kaggle.json, or the KAGGLE_USERNAME and KAGGLE_KEY"
            f" environment variables."
        )
    return {"archive": target.name, "source": source, "bytes": target.stat().st_size, "sha256": sha256_of(target)}
