"""The models a server serves: SavedModel versions found on disk, loaded, batched and kept up to date.

Follows TensorFlow Serving's file-system source: each model has a base path whose numeric
sub-folders are versions; a version policy (latest N, all, specific) picks the ones to serve; a
poller loads versions that appear and unloads those the policy drops, without a restart.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2
from tensorflow_serving.config.model_server_config_pb2 import ModelConfig

from fer.contract import SIGNATURE, ServingError, versions_on_disk

log = logging.getLogger(__name__)


@dataclass
class Signature:
    name: str
    function: object  # a TensorFlow concrete function taking named tensors
    inputs: dict[str, tf.TensorSpec]
    outputs: list[str]

    def check(self, inputs: dict[str, np.ndarray]) -> None:
        """Refuses inputs that are missing, extra, of the wrong shape, or not finite."""
        if set(inputs) != set(self.inputs):
            raise ServingError("INVALID_ARGUMENT", f"signature {self.name!r} takes inputs {sorted(self.inputs)},"
                                                   f" got {sorted(inputs)}")
        for name, value in inputs.items():
            spec = self.inputs[name]
            if not spec.shape.is_compatible_with(value.shape):
                raise ServingError("INVALID_ARGUMENT", f"input {name!r} has shape {list(value.shape)}; expected"
                                                       f" {[d if d is not None else -1 for d in spec.shape]}")
            if value.dtype.kind == "f" and not np.isfinite(value).all():
                raise ServingError("INVALID_ARGUMENT", f"input {name!r} contains NaN or Infinity")


class Batcher:
    """Runs one signature on batches formed from concurrent requests (TF Serving's batching)."""

    def __init__(self, signature: Signature, max_batch_size: int = 64, timeout_s: float = 0.002,
                 max_enqueued: int = 1000):
        self.signature, self.max_batch_size, self.timeout_s = signature, max_batch_size, timeout_s
        self._queue: queue.Queue = queue.Queue(max_enqueued)
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"batcher-{signature.name}")
        self._thread.start()

    def submit(self, inputs: dict[str, np.ndarray]) -> Future:
        future: Future = Future()
        try:
            self._queue.put_nowait((inputs, future))
        except queue.Full:
            raise ServingError("UNAVAILABLE", "the request queue is full; retry later") from None
        return future

    def close(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while (first := self._queue.get()) is not None:
            batch, rows = [first], len(next(iter(first[0].values())))
            deadline = time.monotonic() + self.timeout_s
            while rows < self.max_batch_size:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
                rows += len(next(iter(item[0].values())))
            self._run_batch(batch)

    def _run_batch(self, batch: list[tuple[dict[str, np.ndarray], Future]]) -> None:
        try:
            joined = {name: tf.constant(np.concatenate([inputs[name] for inputs, _ in batch]))
                      for name in self.signature.inputs}
            outputs = {name: value.numpy() for name, value in self.signature.function(**joined).items()}
        except Exception as error:  # the model failed on this batch: every caller hears why
            for _, future in batch:
                future.set_exception(ServingError("INTERNAL", f"the model failed: {error}"))
            return
        start = 0
        for inputs, future in batch:
            rows = len(next(iter(inputs.values())))
            future.set_result({name: value[start:start + rows] for name, value in outputs.items()})
            start += rows


@dataclass
class Servable:
    """One loaded version of a model."""
    name: str
    version: int
    path: Path
    signatures: dict[str, Signature]
    signature_defs: dict[str, meta_graph_pb2.SignatureDef]
    batchers: dict[str, Batcher] = field(default_factory=dict)

    @classmethod
    def load(cls, name: str, version: int, path: Path, batching: dict) -> "Servable":
        loaded = tf.saved_model.load(str(path))
        signatures = {}
        for signature_name, function in loaded.signatures.items():
            _, specs = function.structured_input_signature
            signatures[signature_name] = Signature(signature_name, function, dict(specs),
                                                   sorted(function.structured_outputs))
        saved_model = saved_model_pb2.SavedModel.FromString((path / "saved_model.pb").read_bytes())
        servable = cls(name, version, path, signatures, dict(saved_model.meta_graphs[0].signature_def))
        servable._loaded = loaded  # keeps the functions' variables alive
        servable.batchers = {n: Batcher(s, **batching) for n, s in signatures.items()}
        return servable

    def signature(self, name: str) -> Signature:
        name = name or SIGNATURE
        if name not in self.signatures:
            raise ServingError("INVALID_ARGUMENT", f'Serving signature name: "{name}" not found in signature def')
        return self.signatures[name]

    def predict(self, signature_name: str, inputs: dict[str, np.ndarray]) -> Future:
        signature = self.signature(signature_name)
        signature.check(inputs)
        return self.batchers[signature.name].submit(inputs)

    def unload(self) -> None:
        for batcher in self.batchers.values():
            batcher.close()


def _files_state(config: ModelConfig, version: int) -> tuple:
    """What a version folder holds (each file's path, size and modification time): a version that failed to
    load is tried again once any of its files changes, e.g. when its variables arrive after saved_model.pb."""
    folder = Path(config.base_path) / str(version)
    return tuple(sorted((str(f.relative_to(folder)), f.stat().st_size, f.stat().st_mtime_ns)
                        for f in folder.rglob("*") if f.is_file()))


def versions_to_serve(config: ModelConfig, available: list[int]) -> list[int]:
    """TensorFlow Serving's version policy: latest N (default 1), all, or specific versions."""
    policy = config.model_version_policy
    kind = policy.WhichOneof("policy_choice")
    if kind == "all":
        return available
    if kind == "specific":
        return [v for v in available if v in set(policy.specific.versions)]
    return available[-(policy.latest.num_versions or 1):] if available else []


class ModelRepository:
    """Every configured model, its loaded versions and labels, refreshed from disk by ``poll``."""

    def __init__(self, configs: list[ModelConfig], batching: dict | None = None):
        self.configs = {config.name: config for config in configs}
        self.batching = batching or {}
        self.servables: dict[str, dict[int, Servable]] = {name: {} for name in self.configs}
        self.load_errors: dict[tuple[str, int], tuple[tuple, str]] = {}  # (the folder's files, error)
        self._lock = threading.Lock()

    def poll(self) -> None:
        for name, config in self.configs.items():
            on_disk = versions_on_disk(Path(config.base_path))
            for version in versions_to_serve(config, on_disk):
                failed = self.load_errors.get((name, version))
                if version not in self.servables[name] and (failed is None
                                                            or failed[0] != _files_state(config, version)):
                    self._load(config, version)
            # TF Serving's availability-preserving rule: the policy picks among the versions that loaded, so
            # a version that fails to load never unloads one that serves
            with self._lock:
                wanted = versions_to_serve(config, [v for v in on_disk if v in self.servables[name]])
                dropped = [v for v in self.servables[name] if v not in wanted]
                removed = [self.servables[name].pop(v) for v in dropped]
            for servable in removed:
                log.info("unloaded %s version %d", name, servable.version)
                servable.unload()

    def _load(self, config: ModelConfig, version: int) -> None:
        path = Path(config.base_path) / str(version)
        try:
            servable = Servable.load(config.name, version, path, self.batching)
        except Exception as error:  # a broken version must not take the others down
            log.error("cannot load %s version %d from %s: %s", config.name, version, path, error)
            self.load_errors[(config.name, version)] = (_files_state(config, version), str(error))
            return  # tried again once its files change
        self.load_errors.pop((config.name, version), None)
        with self._lock:
            self.servables[config.name][version] = servable
        log.info("serving %s version %d from %s", config.name, version, path)

    def watch(self, interval_s: float, stop: threading.Event) -> threading.Thread:
        def loop() -> None:
            while not stop.wait(interval_s):
                try:
                    self.poll()
                except Exception:
                    log.exception("model poll failed")
        thread = threading.Thread(target=loop, daemon=True, name="model-poller")
        thread.start()
        return thread

    def resolve(self, name: str, version: int | None = None, label: str | None = None) -> Servable:
        """The servable a request names: a version, a label, or else the highest version."""
        if name not in self.configs:
            raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({name})")
        if label is not None:
            labels = self.configs[name].version_labels
            if label not in labels:
                raise ServingError("INVALID_ARGUMENT", f"Unrecognized servable version label: {label}")
            version = labels[label]
        with self._lock:
            loaded = self.servables[name]
            if version is None:
                if not loaded:
                    raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({name})")
                return loaded[max(loaded)]
            if version not in loaded:
                raise ServingError("NOT_FOUND", f"Servable not found for request: Specific({name}, {version})")
            return loaded[version]

    def versions(self, name: str) -> list[int]:
        if name not in self.configs:
            raise ServingError("NOT_FOUND", f"Could not find any versions of model {name}")
        with self._lock:
            return sorted(self.servables[name])

    def close(self) -> None:
        for versions in self.servables.values():
            for servable in versions.values():
                servable.unload()
