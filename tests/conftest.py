"""Small generated data for the tests, and the shared Kaggle mirror where this machine has it."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO.parent / "shared" / "datasets"
FER2013_LABELS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def face_image(label_index: int, seed: int, size: int = 48, channels: int = 1) -> np.ndarray:
    """A synthetic 'face': noise plus a bright bar whose row depends on the label, so classes differ."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 80, (size, size), dtype=np.uint8)
    row = (label_index * size) // 8 + size // 16
    image[row:row + size // 8, :] = 230
    return image if channels == 1 else np.repeat(image[..., None], channels, axis=2)


def encode(image: np.ndarray, suffix: str = ".jpg") -> bytes:
    ok, buffer = cv2.imencode(suffix, image)
    assert ok
    return buffer.tobytes()


def make_fer2013_archive(path: Path, per_split: int = 4) -> Path:
    """A FER-2013-shaped archive as Kaggle serves it: train/<label>/Training_<id>.jpg, test/<label>/..."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for index, label in enumerate(FER2013_LABELS):
            for prefix, folder in (("Training", "train"), ("PublicTest", "test"), ("PrivateTest", "test")):
                for n in range(per_split):
                    image_id = 1000 * index + 100 * len(prefix) + n
                    archive.writestr(f"{folder}/{label}/{prefix}_{image_id}.jpg", encode(face_image(index, image_id)))
    return path


@pytest.fixture
def fer2013_mirror(tmp_path: Path) -> Path:
    """A mirror folder holding a small FER-2013-shaped fer2013.zip."""
    mirror = tmp_path / "mirror"
    make_fer2013_archive(mirror / "fer2013.zip")
    return mirror


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    if not (SHARED_DATASETS / "fer2013.zip").is_file():
        pytest.skip(f"the Kaggle mirror {SHARED_DATASETS} is not on this machine (it exists only on the"
                    " developers' machines); nothing else needs it")
    return SHARED_DATASETS


def fit_tiny_model(optimizer: str = "adamw", lr: float = 3e-3, weight_decay: float = 0.0, epochs: int = 3):
    """A two-block vgg_small fitted on 140 synthetic faces; returns (model, images, loss per epoch)."""
    from fer.learn.models import build_model
    from fer.learn.training import compile_model
    images = np.stack([face_image(i % 7, i) for i in range(140)])
    labels = np.arange(140) % 7
    model = build_model("vgg_small", widths=(8, 16), dropout=0.0)
    compile_model(model, {"optimizer": optimizer, "lr": lr, "lr_schedule": "constant", "epochs": 1,
                          "warmup_epochs": 0, "weight_decay": weight_decay, "label_smoothing": 0.0},
                  steps_per_epoch=5)
    history = model.fit(images[..., None].astype("float32"), np.eye(7)[labels], batch_size=28, epochs=epochs,
                        verbose=0)
    return model, images, history.history["loss"]


def train_tiny_model():
    """The tiny model fitted for a few steps, with the default test-time views (flip, rotation), and its
    images."""
    from fer.learn.tta import inference_model
    model, images, _ = fit_tiny_model()
    return inference_model(model, tta_flip=True, tta_rotation=12), images


@pytest.fixture(scope="session")
def served_models(tmp_path_factory):
    """serving/models-style folder with version 1 of fer_model (a tiny trained model with the default
    test-time views) and of fer_fast (the same network with other views, so that each name answers its own)."""
    from fer.learn.export import write_savedmodel
    from fer.learn.tta import inference_model
    model, images, _ = fit_tiny_model()
    root = tmp_path_factory.mktemp("models")
    write_savedmodel(inference_model(model, tta_flip=True, tta_rotation=12), root / "fer_model" / "1")
    write_savedmodel(inference_model(model, tta_flip=False, tta_rotation=12), root / "fer_fast" / "1")
    return root, images


@pytest.fixture(scope="module")  # a module at a time: Playwright's sync API runs one instance per thread
def browser():
    from tests.dashboard_fixtures import NON_LOCAL_ABORTED, chromium_path
    chromium = chromium_path()
    if chromium is None:
        pytest.skip("no `chromium` on PATH (.ci/run installs Debian's chromium with apt-get)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                             args=["--disable-gpu", *NON_LOCAL_ABORTED])
        yield browser
        browser.close()
