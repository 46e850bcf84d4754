"""Training: a compiled model, a shuffled input pipeline, a learning-rate schedule, a DVCLive log per epoch.

Training is resumable: Keras' BackupAndRestore keeps the last finished epoch in ``backup_dir``,
and a run that was cut off continues from there when started again with the same params. Nothing
here needs TensorFlow: with ``KERAS_BACKEND=jax`` the same code trains on JAX (the GPU profile).
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
import warnings
from pathlib import Path

import keras
import numpy as np

from fer.contract import NUM_CLASSES
from fer.cpu import cpuinfo, has_native_bfloat16, training_precision
from fer.data.split import class_weights
from fer.learn.models import build_model


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
    """Prints each epoch's training images per second (validation excluded), so that the log shows where
    an epoch's time goes; a speed is a log line, never a metric."""

    def __init__(self, images_per_epoch: int):
        super().__init__()
        self.images_per_epoch = images_per_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.started, self.train_seconds = time.perf_counter(), None

    def on_test_begin(self, logs=None):
        self.train_seconds = self.train_seconds or time.perf_counter() - self.started

    def on_epoch_end(self, epoch, logs=None):
        seconds = self.train_seconds or time.perf_counter() - self.started
        print(f"epoch {epoch + 1}: {self.images_per_epoch / seconds:.1f} training images/s", flush=True)


class LiveLog(keras.callbacks.Callback):
    """Logs each epoch with DVCLive, one step per epoch: ``train/`` and ``eval/`` (validation) loss and
    accuracy as curves and as the last values in metrics.json. A resumed run first drops the steps that
    its backup does not hold, so the curves go on where the restored weights left off."""

    def __init__(self, live_dir: Path, resume: bool):
        super().__init__()
        from dvclive import Live
        self.live = Live(str(live_dir), resume=resume, dvcyaml=None, save_dvc_exp=False, report=None)
        self.first_epoch: int | None = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.first_epoch is None:
            self.first_epoch = epoch
            drop_steps_from(Path(self.live.plots_dir) / "metrics", epoch)

    def on_epoch_end(self, epoch, logs=None):
        self.live.step = epoch
        for name, value in sorted((logs or {}).items()):
            if name in ("loss", "accuracy", "val_loss", "val_accuracy"):
                split, metric = ("eval", name[4:]) if name.startswith("val_") else ("train", name)
                self.live.log_metric(f"{split}/{metric}", float(value))
        self.live.summary["epochs"] = epoch + 1
        self.live.next_step()

    def on_train_end(self, logs=None):
        self.live.end()


def drop_steps_from(curves_dir: Path, first_step: int) -> None:
    """Cuts DVCLive's curve files (TSV: step, value) back to the steps before ``first_step``."""
    for curve in curves_dir.rglob("*.tsv"):
        header, *rows = curve.read_text().splitlines()
        kept = [row for row in rows if int(row.split("\t")[0]) < first_step]
        curve.write_text("\n".join([header, *kept]) + "\n")


def publish_log(live_dir: Path, metrics_path: Path, curves_dir: Path) -> None:
    """Puts a finished run's DVCLive log in place: its metrics.json, and its curves (one TSV per split
    and metric), replacing the previous run's."""
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(live_dir / "metrics.json", metrics_path)
    shutil.rmtree(curves_dir, ignore_errors=True)
    shutil.copytree(live_dir / "plots" / "metrics", curves_dir)


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


def warn_if_bfloat16_is_emulated(precision: str, cpuinfo: str, devices: list[str]) -> None:
    """Warns when mixed_bfloat16 would run on CPUs only, without bfloat16 instructions: there it is
    emulated, and measured 3x slower than float32 (10 against 31 images/s for vgg_small on AVX2)."""
    if precision != "mixed_bfloat16" or not cpuinfo or has_native_bfloat16(cpuinfo):
        return
    if all(device.lower().startswith("cpu") for device in devices):
        warnings.warn("train.precision is mixed_bfloat16, but this CPU has neither AVX512-BF16 nor AMX-BF16 (or"
                      " ONEDNN_MAX_CPU_ISA hides them), so bfloat16 is emulated and slow; let training choose:"
                      " dvc exp run -S train.precision=auto",
                      stacklevel=2)


def training_subset(train_set: dict, size: int, seed: int) -> dict:
    """``size`` faces of the training split drawn at random with ``seed`` (in their order there), or all of them
    where ``size`` is 0 or not smaller: a quick experiment's training data."""
    count = len(train_set["labels"])
    if not 0 < size < count:
        return train_set
    chosen = np.sort(np.random.default_rng(seed).choice(count, size, replace=False))
    print(f"training on {size} of the {count} training faces (train.subset)")
    return {key: value[chosen] if len(value) == count else value for key, value in train_set.items()}


def train(train_set: dict, validation_set: dict, params: dict, model_options: dict, balance: str,
          backup_dir: Path, start_from: Path | None = None) -> tuple[keras.Model, Path]:
    """Trains the model named in params on the training split; returns it and the folder of its DVCLive log
    (loss and accuracy per epoch, see ``publish_log``). ``start_from``: a saved model of the same network whose
    weights training starts from (a warm start, to fine-tune), else new random weights.

    Training computes in ``params["precision"]`` (mixed_bfloat16 saves a sixth to a quarter of the time
    on CPUs with AVX512-BF16 or AMX; ``auto`` picks it there and float32 elsewhere); the returned model
    computes in float32, as evaluation and serving expect.
    """
    params = dict(params, precision=training_precision(params["precision"]))
    keras.utils.set_random_seed(params["seed"])
    warn_if_bfloat16_is_emulated(params["precision"], cpuinfo(), keras.distribution.list_devices())
    keras.mixed_precision.set_global_policy(params["precision"])
    try:
        model = build_model(params["model"], params["augment"], **model_options)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    if start_from is not None:
        model.set_weights(keras.models.load_model(start_from).get_weights())
        print(f"starting from the weights of {start_from}")
    train_set = training_subset(train_set, params["subset"], params["seed"])
    train_data = Batches(train_set["images"], train_set["labels"], params["batch_size"], params["seed"])
    validation_data = Batches(validation_set["images"], validation_set["labels"], 512)
    compile_model(model, params, steps_per_epoch=len(train_data))

    # One backup per set of params: a cut-off run never resumes another experiment's weights.
    # BackupAndRestore deletes its folder when training ends, so the running log lives beside it.
    run_key = hashlib.sha256(json.dumps([params, model_options, balance, str(start_from)],
                                        sort_keys=True).encode()).hexdigest()[:16]
    backup_dir.mkdir(parents=True, exist_ok=True)
    live_dir = backup_dir / f"{run_key}-log"
    run_backup = backup_dir / run_key
    model.fit(
        train_data,
        validation_data=validation_data,
        epochs=params["epochs"],
        class_weight=class_weights(train_set["labels"]) if balance == "class_weights" else None,
        callbacks=[keras.callbacks.BackupAndRestore(str(run_backup)), Throughput(len(train_set["labels"])),
                   LiveLog(live_dir, resume=run_backup.exists())],
        verbose=2,
    )
    return as_float32(model, params, model_options), live_dir


def as_float32(model: keras.Model, params: dict, model_options: dict) -> keras.Model:
    """The same network and weights with float32 compute (variables are float32 in every policy)."""
    if params["precision"] == "float32":
        return model
    twin = build_model(params["model"], params["augment"], **model_options)
    twin.set_weights(model.get_weights())
    return twin
