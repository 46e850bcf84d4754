"""Where training time goes: training images/s of the default params and of one change at a time.

Rows: the input pipeline alone (fer.learn.training.Batches, no model); the default train step (params.yaml:
model, batch size, augmentation, precision); then the same step without augmentation, in float32,
at half and double the batch size, and compiled with XLA. Every row times `--steps` batches after
warm-up batches, on random faces (speed does not depend on the pixels). The baseline to beat is the
default row; the stage's own per-epoch figure is the `images_per_second` column of
plots/training_log.csv.

Usage: python bench/training_speed.py [--steps 20]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fer.tf import import_tensorflow  # noqa: E402

import_tensorflow(verbose=False)  # without TensorFlow's start-up lines (oneDNN, CUDA); TF_CPP_MIN_LOG_LEVEL=0 shows them
import keras  # noqa: E402
from fer.cpu import training_precision  # noqa: E402
from fer.learn.models import build_model  # noqa: E402
from fer.learn.training import Batches, compile_model  # noqa: E402
from fer.params import load_params  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
WARMUP_STEPS = 3


def random_faces(count: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (count, 48, 48), dtype=np.uint8), np.arange(count) % 7


def training_rate(train: dict, model_options: dict, steps: int, jit_compile: bool = False) -> float:
    """Training images/s of ``train``'s model, precision and batch size over ``steps`` batches."""
    keras.mixed_precision.set_global_policy(training_precision(train["precision"]))
    try:
        model = build_model(train["model"], train["augment"], **model_options)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    compile_model(model, train, steps_per_epoch=100)
    model.jit_compile = jit_compile
    batch = train["batch_size"]
    model.fit(Batches(*random_faces(batch * WARMUP_STEPS), batch, shuffle_seed=0), epochs=1, verbose=0)
    data = Batches(*random_faces(batch * steps), batch, shuffle_seed=0)
    started = time.perf_counter()
    model.fit(data, epochs=1, verbose=0)
    return batch * steps / (time.perf_counter() - started)


def input_rate(batch_size: int, images: int = 28_709) -> float:
    """Images/s that Batches alone delivers (shuffled gather, float conversion, one-hot labels)."""
    data = Batches(*random_faces(images), batch_size, shuffle_seed=0)
    started = time.perf_counter()
    for index in range(len(data)):
        data[index]
    return images / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="training batches timed per row")
    args = parser.parse_args()
    params = load_params(REPO / "params.yaml")
    train = dict(params["train"], seed=params["seed"])
    options = params["models"][train["model"]]
    variants = {
        "no augmentation": dict(train, augment=None),
        "float32": dict(train, precision="float32"),
        f"batch {train['batch_size'] // 2}": dict(train, batch_size=train["batch_size"] // 2),
        f"batch {train['batch_size'] * 2}": dict(train, batch_size=train["batch_size"] * 2),
    }
    print(f"{train['model']}, batch {train['batch_size']}, {training_precision(train['precision'])}"
          f" (train.precision {train['precision']}), {args.steps} steps per row")
    print(f"{'input pipeline alone':28} {input_rate(train['batch_size']):9.0f} images/s")
    baseline = training_rate(train, options, args.steps)
    print(f"{'default train step':28} {baseline:9.0f} images/s  (baseline)")
    for name, variant in variants.items():
        rate = training_rate(variant, options, args.steps)
        print(f"{name:28} {rate:9.0f} images/s  {rate / baseline:5.2f}x baseline")
    try:
        rate = training_rate(train, options, args.steps, jit_compile=True)
        print(f"{'XLA (jit_compile)':28} {rate:9.0f} images/s  {rate / baseline:5.2f}x baseline")
    except Exception as error:  # XLA lacks kernels for some layers on some backends: report, don't hide
        print(f"{'XLA (jit_compile)':28} failed: {type(error).__name__}: {str(error).splitlines()[0][:100]}")


if __name__ == "__main__":
    main()
