"""Training pieces: the backend-agnostic batches, EMA, and the GPU profile run for a few steps here."""
from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

from fer.cpu import training_precision
from fer.learn.profiles import apply_profile, load_profile, set_flags
from fer.learn.training import (Batches, make_optimizer, publish_log, train, training_subset,
                                warn_if_bfloat16_is_emulated)
from fer.params import load_params
from tests.conftest import REPO, face_image, fit_tiny_model


def test_batches_cover_every_row_once_per_epoch_and_reshuffle_with_the_seed():
    images = np.zeros((10, 48, 48), np.uint8)
    images[:, 0, 0] = np.arange(10)  # each image recognisable by its first pixel
    labels = np.arange(10) % 7
    batches = Batches(images, labels, batch_size=4, shuffle_seed=3)
    assert len(batches) == 3

    def epoch(data):
        rows = [data[i] for i in range(len(data))]
        assert all(x.dtype == np.float32 and x.shape[1:] == (48, 48, 1) for x, _ in rows)
        return [tuple(int(v) for v in x[:, 0, 0, 0]) for x, _ in rows]

    first = epoch(batches)
    assert sorted(v for batch in first for v in batch) == sorted(images[:, 0, 0].tolist())
    batches.on_epoch_end()
    assert epoch(batches) != first
    assert epoch(Batches(images, labels, 4, shuffle_seed=3)) == first
    x, y = Batches(images, labels, 10)[0]
    assert (y.argmax(axis=1) == labels).all() and (x[..., 0] == images).all()


AVX2_FLAGS = "flags\t\t: fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2"


@pytest.mark.parametrize("precision, cpuinfo, devices, warns", [
    ("mixed_bfloat16", AVX2_FLAGS, ["cpu:0"], True),
    ("mixed_bfloat16", AVX2_FLAGS + " avx512f avx512_bf16 avx512_fp16", ["cpu:0"], False),
    ("mixed_bfloat16", AVX2_FLAGS + " amx_bf16 amx_tile amx_int8", ["cpu:0"], False),
    ("mixed_bfloat16", AVX2_FLAGS, ["cpu:0", "gpu:0"], False),  # the GPU computes; its bfloat16 is its own
    ("mixed_bfloat16", "", ["cpu:0"], False),  # no /proc/cpuinfo (macOS, Windows): nothing to go on
    ("float32", AVX2_FLAGS, ["cpu:0"], False),
])
def test_bfloat16_on_a_cpu_without_bfloat16_instructions_is_warned_about(precision, cpuinfo, devices, warns):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_if_bfloat16_is_emulated(precision, cpuinfo, devices)
    assert len(caught) == int(warns)
    if warns:
        assert "train.precision=auto" in str(caught[0].message)


@pytest.mark.parametrize("flags, isa_cap, expected", [
    (AVX2_FLAGS, "", "float32"),
    (AVX2_FLAGS + " avx512f avx512_bf16", "", "mixed_bfloat16"),
    (AVX2_FLAGS + " amx_bf16 amx_tile", "avx512_core_amx", "mixed_bfloat16"),
    (AVX2_FLAGS + " avx512f avx512_bf16", "AVX2", "float32"),  # oneDNN told to compute as an AVX2 CPU does
    (AVX2_FLAGS + " avx512f avx512_bf16", "AVX512_CORE_VNNI", "float32"),
])
def test_auto_precision_trains_in_bfloat16_only_where_the_cpu_and_onednn_have_it(flags, isa_cap, expected,
                                                                                 monkeypatch):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", isa_cap)
    assert training_precision("auto", flags) == expected
    assert training_precision("float32", flags) == "float32"  # a named precision is kept


def test_sgd_decays_weights_and_learns_the_synthetic_faces():
    with pytest.raises(ValueError, match="train.optimizer 'lion'"):
        make_optimizer("lion", 1e-3, 0.0, None)
    model, _, losses = fit_tiny_model(optimizer="sgd", lr=0.05, weight_decay=5e-4, epochs=4)
    assert model.optimizer.nesterov and model.optimizer.momentum == 0.9 and model.optimizer.weight_decay == 5e-4
    assert losses[-1] < losses[0]


def test_the_gpu_profile_trains_a_few_steps_on_cpu(tmp_path, capsys):
    params = apply_profile(load_params(REPO / "params.yaml"), load_profile("gpu"))
    flags = set_flags(load_profile("gpu"))
    assert flags[:2] == ["-S", "train.model=\"vgg_small\""] and all(" " not in f for f in flags)
    options = dict(params["train"], seed=0, epochs=1, batch_size=8)
    assert options["ema"] and options["augment"]["erasing"] > 0 and options["precision"] == "mixed_float16"
    images = np.stack([face_image(i % 7, i) for i in range(16)])
    data = {"images": images, "labels": np.arange(16) % 7}
    model, live_dir = train(data, data, options, params["models"]["vgg_small"], "none", tmp_path / "backup")
    assert model.count_params() > 10_000_000 and model.dtype_policy.name == "float32"
    probabilities = model.predict(images[:2, ..., None].astype(np.float32), verbose=0)
    assert probabilities.shape == (2, 7) and np.isfinite(probabilities).all()
    speed = re.search(r"epoch 1: ([0-9.]+) training images/s", capsys.readouterr().out)
    assert speed and float(speed.group(1)) > 0
    assert "images_per_second" not in (live_dir / "metrics.json").read_text()  # a speed is a log line


def tiny_training(epochs: int, tmp_path: Path, lr: float = 1e-3, seed: int = 0, start_from: Path | None = None):
    images = np.stack([face_image(i % 7, i) for i in range(28)])
    data = {"images": images, "labels": np.arange(28) % 7}
    options = dict(seed=seed, model="vgg_small", epochs=epochs, batch_size=14, precision="float32", lr=lr,
                   lr_schedule="cosine", warmup_epochs=0, optimizer="adamw", weight_decay=0.0, ema=None,
                   label_smoothing=0.0, augment={}, subset=0)
    return train(data, data, options, dict(widths=[4], convs=[1], dropout=0.0), "none", tmp_path / "backup",
                 start_from)


def test_a_warm_start_begins_from_the_saved_networks_weights(tmp_path):
    """train.warm_start: with a learning rate of 0 the weights cannot move, so a warm-started network ends with
    the saved one's weights, and a network started afresh (another seed) does not."""
    trained, _ = tiny_training(2, tmp_path / "first")
    trained.save(tmp_path / "fer.keras")
    saved = [weight.numpy() for weight in trained.trainable_weights]
    warm, _ = tiny_training(1, tmp_path / "warm", lr=0.0, seed=5, start_from=tmp_path / "fer.keras")
    cold, _ = tiny_training(1, tmp_path / "cold", lr=0.0, seed=5)
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(saved, warm.trainable_weights))
    assert not all(np.array_equal(a, b.numpy()) for a, b in zip(saved, cold.trainable_weights))


def test_a_training_subset_is_drawn_with_the_seed_and_keeps_rows_together():
    data = {"images": np.arange(50)[:, None, None] * np.ones((1, 48, 48), np.int64), "labels": np.arange(50) % 7,
            "ids": np.array([f"face{i}" for i in range(50)])}
    subset = training_subset(data, 20, seed=3)
    rows = subset["images"][:, 0, 0]
    assert len(rows) == 20 == len(set(rows)) and list(rows) == sorted(rows)
    assert (subset["labels"] == rows % 7).all() and list(subset["ids"]) == [f"face{i}" for i in rows]
    assert np.array_equal(training_subset(data, 20, seed=3)["images"], subset["images"])  # the seed decides
    assert not np.array_equal(training_subset(data, 20, seed=4)["images"], subset["images"])
    assert training_subset(data, 0, seed=3) is data and training_subset(data, 50, seed=3) is data


def test_training_logs_each_epoch_with_dvclive_and_publishes_its_curves(tmp_path):
    model, live_dir = tiny_training(3, tmp_path)
    metrics = json.loads((live_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 3 and metrics["step"] == 2
    assert set(metrics["train"]) == set(metrics["eval"]) == {"accuracy", "loss"}
    publish_log(live_dir, tmp_path / "metrics" / "train.json", tmp_path / "curves")
    assert json.loads((tmp_path / "metrics" / "train.json").read_text()) == metrics
    header, *rows = (tmp_path / "curves" / "eval" / "accuracy.tsv").read_text().splitlines()
    assert header == "step\taccuracy" and [row.split("\t")[0] for row in rows] == ["0", "1", "2"]
    assert float(rows[-1].split("\t")[1]) == pytest.approx(metrics["eval"]["accuracy"])


def test_a_resumed_run_continues_the_dvclive_curves_from_its_backup(tmp_path):
    """A run cut off after epoch 2 of 4 (its backup holds epoch 2, its log one more step) resumes at epoch 3."""
    class CutOff(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    original_fit = keras.Model.fit

    def fit_then_cut(self, *args, callbacks=(), **kwargs):
        return original_fit(self, *args, callbacks=[*callbacks, CutOff()], **kwargs)

    keras.Model.fit = fit_then_cut
    try:
        with pytest.raises(KeyboardInterrupt):
            tiny_training(4, tmp_path)
    finally:
        keras.Model.fit = original_fit
    (live_dir,) = (tmp_path / "backup").glob("*-log")
    assert len((live_dir / "plots/metrics/train/loss.tsv").read_text().splitlines()) == 1 + 2
    _, live_dir = tiny_training(4, tmp_path)
    steps = [row.split("\t")[0] for row in (live_dir / "plots/metrics/train/loss.tsv").read_text().splitlines()[1:]]
    assert steps == ["0", "1", "2", "3"]
    assert json.loads((live_dir / "metrics.json").read_text())["epochs"] == 4


def test_training_runs_on_jax_without_tensorflow(tmp_path):
    """The GPU profile's backend: the same code with KERAS_BACKEND=jax, TensorFlow never imported."""
    import importlib.util
    import subprocess
    import sys
    if importlib.util.find_spec("jax") is None:
        pytest.skip("JAX is not installed here (the GPU machine's image has it; `pip install jax` to run this)")
    script = f"""
import sys
import os

import numpy as np
import pytest
from pathlib import Path
from fer.learn.training import train
data = {{"images": np.random.default_rng(0).integers(0, 256, (32, 48, 48), dtype=np.uint8),
         "labels": np.arange(32) % 7}}
options = dict(seed=0, model="vgg_small", epochs=1, batch_size=16, precision="float32", lr=1e-3,
               lr_schedule="cosine", warmup_epochs=0, optimizer="sgd", weight_decay=5e-4, ema=0.99,
               label_smoothing=0.1, subset=0,
               augment=dict(flip=True, shift=0.1, rotation=0.05, zoom=0.1, erasing=0.5))
model, _ = train(data, data, options, dict(widths=[8, 16], convs=[1, 1], dropout=0.1), "none",
                 Path({str(tmp_path)!r}) / "backup")
assert model.predict(data["images"][:2, ..., None].astype("float32"), verbose=0).shape == (2, 7)
model.save(Path({str(tmp_path)!r}) / "fer.keras")  # as stages/train.py saves it, for evaluate and export
import fer.arrays  # stages/train.py's other import
assert "tensorflow" not in sys.modules, "TensorFlow was imported"
"""
    run = subprocess.run([sys.executable, "-c", script], env={**os.environ, "KERAS_BACKEND": "jax"},
                         capture_output=True, text=True, cwd=REPO, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
