"""The .npz files that pass between the pipeline's stages: faces, labels, datasets, original splits."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np


def save_arrays(arrays: dict[str, np.ndarray], path: Path) -> None:
    """Writes an .npz file byte for byte the same for the same arrays (np.savez stamps the time),
    so that DVC sees an unchanged output and does not re-run the stages after it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, value in arrays.items():
            member = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(member, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=False)


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {key: data[key] for key in data.files}
