"""Fetch stage: bring each dataset's archive into data/raw, from a local mirror or from Kaggle."""
from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from pathlib import Path

from fer.data.datasets import Dataset


class FetchError(RuntimeError):
    pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_zip(path: Path, origin: str) -> None:
    """FetchError naming ``origin`` unless ``path`` opens as a zip archive (its central directory reads)."""
    try:
        with zipfile.ZipFile(path):
            pass
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise FetchError(f"{origin} is not a readable zip archive ({error}); replace it with the archive as"
                         " Kaggle serves it") from None


def kaggle_credentials_available() -> bool:
    config_dir = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle"))
    has_env = bool(os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY")
                   or os.environ.get("KAGGLE_API_TOKEN"))
    return has_env or (config_dir / "kaggle.json").is_file() or (config_dir / "access_token").is_file()


def download_from_kaggle(dataset: Dataset, out_dir: Path, version: int | None = None) -> Path:
    """Downloads the archive exactly as Kaggle serves it (not unzipped), at a pinned version if given."""
    from kaggle.api.kaggle_api_extended import KaggleApi  # imported late: it reads credentials on import

    api = KaggleApi()
    api.authenticate()
    reference = f"{dataset.kaggle_slug}/versions/{version}" if version else dataset.kaggle_slug
    api.dataset_download_files(reference, path=str(out_dir), unzip=False, quiet=False)
    downloaded = out_dir / f"{dataset.kaggle_slug.split('/')[1]}.zip"
    if not downloaded.is_file():
        raise FetchError(f"Kaggle download of {dataset.kaggle_slug} did not produce {downloaded}")
    check_zip(downloaded, f"the Kaggle download of {reference}, {downloaded},")
    target = out_dir / dataset.archive
    if downloaded != target:
        downloaded.replace(target)
    return target


def repository_root() -> Path:
    """The repository the user ran DVC in, where a relative ``fetch.mirror`` starts.

    An experiment run with ``--temp`` or from DVC's queue runs its stages in a copy of the repository under
    ``.dvc/tmp/exps/``, where ``../shared`` would name another folder; DVC gives every stage the original
    root as ``DVC_ROOT``. Without DVC (the stage run by hand) it is the working directory.
    """
    return Path(os.environ.get("DVC_ROOT", "."))


def fetch_dataset(dataset: Dataset, out_dir: Path, mirror: Path | None, version: int | None = None,
                  root: Path = Path(".")) -> dict:
    """Copies the archive from the mirror folder if it holds it, else downloads it from Kaggle
    (``version``: the Kaggle dataset version to pin, None for the latest). A relative ``mirror`` is
    looked for below ``root`` and recorded as given, so the record is the same wherever the stage runs.

    Returns a record of where it came from, its size and its sha256.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    candidates = [mirror / name for name in (dataset.archive, *dataset.mirror_names)] if mirror else []
    mirrored = next((path for path in candidates if (root / path).is_file()), None)
    if mirrored is not None:
        check_zip(root / mirrored, f"the mirror's {mirrored}")
        target = out_dir / dataset.archive
        shutil.copyfile(root / mirrored, target)
        source = f"mirror:{mirrored}"
    elif kaggle_credentials_available():
        target = download_from_kaggle(dataset, out_dir, version)
        source = f"kaggle:{dataset.kaggle_slug}" + (f"/versions/{version}" if version else "")
    else:
        where = (f"the mirror folder {mirror} ({(root / mirror).absolute()}) has no {dataset.archive}" if mirror
                 else "no mirror folder is set")
        raise FetchError(
            f"cannot fetch dataset {dataset.name!r}: {where}, and no Kaggle credentials were found.\n"
            f"Either put {dataset.archive} (as downloaded from https://www.kaggle.com/datasets/{dataset.kaggle_slug})"
            f" into the folder named by fetch.mirror in params.yaml,\n"
            f"or give Kaggle API credentials: ~/.kaggle/kaggle.json (or access_token), or the KAGGLE_USERNAME"
            f" and KAGGLE_KEY (or KAGGLE_API_TOKEN) environment variables."
        )
    return {"archive": target.name, "source": source, "bytes": target.stat().st_size, "sha256": sha256_of(target)}
