"""Training: a compiled model, a shuffled input pipeline, a learning-rate schedule, a CSV log per epoch.

Training is resumable: Keras' BackupAndRestore keeps the last finished epoch in ``backup_dir``,
and a run that was cut off continues from there when started again with the same params. Nothing
here needs TensorFlow: with ``KERAS_BACKEND=jax`` the same code trains on JAX (the GPU profile).
"""
from __future__ import annotations

import hashlib
import json
import re
import time
import warnings
from pathlib import Path

import keras
import numpy as np

from fer.models import NUM_CLASSES, build_model
from fer.split import class_weights


class Batches(keras.utils.PyDataset):
    """Batches of (float32 pixels [N,48,48,1] 0..255, one-hot labels), reshuffled every epoch with a
    seeded generator; uint8 images stay uint8 in memory until batched."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int, shuffle_seed: int | None = None):
        super().__init__()
        self.images, self.labels, self.batch_size = images, labels, batch_size
        self.rng = np.random.default_rng(shuffle_seed) if shuffle_seed is not None else None
        self.order = self.rng.permutation(len(labels)) if self.rng is not None else np.arange(len(labels))

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    def __getitem__(self, index: int):
        rows = np.sort(self.order[index * self.batch_size:(index + 1) * self.batch_size])
        return (self.images[rows][..., None].astype(np.float32),
                np.eye(NUM_CLASSES, dtype=np.float32)[self.labels[rows]])

    def on_epoch_end(self) -> None:
        if self.rng is not None:
            self.order = self.rng.permutation(len(self.labels))


class Throughput(keras.callbacks.Callback):
    """Adds ``images_per_second`` to each epoch's logs: training images over the time of the training
    steps (validation excluded), so that the log shows where an epoch's time goes."""

    def __init__(self, images_per_epoch: int):
        super().__init__()
        self.images_per_epoch = images_per_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.started, self.train_seconds = time.perf_counter(), None

    def on_test_begin(self, logs=None):
        self.train_seconds = self.train_seconds or time.perf_counter() - self.started

    def on_epoch_end(self, epoch, logs=None):
        seconds = self.train_seconds or time.perf_counter() - self.started
        logs["images_per_second"] = round(self.images_per_epoch / seconds, 1)


def learning_rate(lr: float, schedule: str, steps_per_epoch: int, epochs: int, warmup_epochs: float):
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        warmup = int(warmup_epochs * steps_per_epoch)
        return keras.optimizers.schedules.CosineDecay(
            0.0 if warmup else lr, decay_steps=max(1, epochs * steps_per_epoch - warmup),
            warmup_target=lr if warmup else None, warmup_steps=warmup)
    raise ValueError(f"unknown train.lr_schedule {schedule!r}; use 'constant' or 'cosine'")


def make_optimizer(name: str, schedule, weight_decay: float, ema: float | None) -> keras.optimizers.Optimizer:
    """AdamW, or SGD with Nesterov momentum 0.9; both decay weights decoupled from the gradient
    (by ``weight_decay`` times the learning rate per step) and optionally keep an EMA of the weights."""
    options = {"weight_decay": weight_decay}
    if ema:
        options.update(use_ema=True, ema_momentum=ema)
    if name == "adamw":
        return keras.optimizers.AdamW(schedule, **options)
    if name == "sgd":
        return keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True, **options)
    raise ValueError(f"unknown train.optimizer {name!r}; use 'adamw' or 'sgd'")


def compile_model(model: keras.Model, params: dict, steps_per_epoch: int) -> None:
    schedule = learning_rate(params["lr"], params["lr_schedule"], steps_per_epoch, params["epochs"],
                             params["warmup_epochs"])
    model.compile(
        optimizer=make_optimizer(params["optimizer"], schedule, params["weight_decay"], params.get("ema")),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=params["label_smoothing"]),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )


def cpu_has_native_bfloat16(cpuinfo: str) -> bool:
    """Whether /proc/cpuinfo's flags name AVX512-BF16 or AMX-BF16, the instructions that make bfloat16 fast."""
    return re.search(r"\b(avx512_bf16|amx_bf16)\b", cpuinfo) is not None


def warn_if_bfloat16_is_emulated(precision: str, cpuinfo: str, devices: list[str]) -> None:
    """Warns when mixed_bfloat16 would run on CPUs only, without bfloat16 instructions: there it is
    emulated, and measured 3x slower than float32 (10 against 31 images/s for vgg_small on AVX2)."""
    if precision != "mixed_bfloat16" or not cpuinfo or cpu_has_native_bfloat16(cpuinfo):
        return
    if all(device.lower().startswith("cpu") for device in devices):
        warnings.warn("train.precision is mixed_bfloat16, but this CPU has neither AVX512-BF16 nor AMX-BF16, so"
                      " bfloat16 is emulated and slow; train in float32 here: dvc exp run -S train.precision=float32",
                      stacklevel=2)


def train(train_set: dict, validation_set: dict, params: dict, model_options: dict, balance: str,
          log_path: Path, backup_dir: Path) -> keras.Model:
    """Trains the model named in params on the training split; logs loss and accuracy per epoch.

    Training computes in ``params["precision"]`` (mixed_bfloat16 saves a sixth to a quarter of the time
    on CPUs with AVX512-BF16 or AMX); the returned model computes in float32, as evaluation and
    serving expect.
    """
    keras.utils.set_random_seed(params["seed"])
    cpuinfo = Path("/proc/cpuinfo")
    warn_if_bfloat16_is_emulated(params["precision"], cpuinfo.read_text() if cpuinfo.is_file() else "",
                                 keras.distribution.list_devices())
    keras.mixed_precision.set_global_policy(params["precision"])
    try:
        model = build_model(params["model"], params["augment"], **model_options)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    train_data = Batches(train_set["images"], train_set["labels"], params["batch_size"], params["seed"])
    validation_data = Batches(validation_set["images"], validation_set["labels"], 512)
    compile_model(model, params, steps_per_epoch=len(train_data))

    # One backup per set of params: a cut-off run never resumes another experiment's weights.
    # BackupAndRestore deletes its folder when training ends, so the running log lives beside it.
    run_key = hashlib.sha256(json.dumps([params, model_options, balance], sort_keys=True).encode()).hexdigest()[:16]
    backup_dir.mkdir(parents=True, exist_ok=True)
    running_log = backup_dir / f"{run_key}.csv"
    run_backup = backup_dir / run_key
    if not run_backup.exists():
        running_log.unlink(missing_ok=True)  # a fresh run: no epochs of an older run in the log
    model.fit(
        train_data,
        validation_data=validation_data,
        epochs=params["epochs"],
        class_weight=class_weights(train_set["labels"]) if balance == "class_weights" else None,
        callbacks=[keras.callbacks.BackupAndRestore(str(run_backup)), Throughput(len(train_set["labels"])),
                   keras.callbacks.CSVLogger(str(running_log), append=True)],
        verbose=2,
    )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    running_log.replace(log_path)
    return as_float32(model, params, model_options)


def as_float32(model: keras.Model, params: dict, model_options: dict) -> keras.Model:
    """The same network and weights with float32 compute (variables are float32 in every policy)."""
    if params["precision"] == "float32":
        return model
    twin = build_model(params["model"], params["augment"], **model_options)
    twin.set_weights(model.get_weights())
    return twin
