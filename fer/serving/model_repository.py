"""The models a server serves: SavedModel versions found on disk, loaded, batched and kept up to date.

Follows TensorFlow Serving's file-system source: each model has a base path whose numeric
sub-folders are versions; a version policy (latest N, all, specific) picks the ones to serve; a
poller loads versions that appear and unloads those the policy drops, without a restart.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
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


class _Request:
    """One request's inputs, cut into batch pieces as the batcher reaches them, and its result."""

    def __init__(self, inputs: dict[str, np.ndarray]):
        self.inputs, self.rows, self.taken = inputs, len(next(iter(inputs.values()))), 0
        self.outputs: list[dict[str, np.ndarray]] = []
        self.future: Future = Future()

    def take(self, rows: int) -> dict[str, np.ndarray]:
        piece = {name: value[self.taken:self.taken + rows] for name, value in self.inputs.items()}
        self.taken += rows
        return piece

    def finish_piece(self, outputs: dict[str, np.ndarray]) -> None:
        self.outputs.append(outputs)
        if sum(len(next(iter(o.values()))) for o in self.outputs) == self.rows:
            self.future.set_result({name: np.concatenate([o[name] for o in self.outputs]) for name in outputs})


class Batcher:
    """Runs one signature on batches of at most ``max_batch_size`` faces (TF Serving's batching).

    Concurrent requests are merged into one batch (unless ``merge_requests`` is off); a request larger
    than a batch is cut into pieces, served in turn with the other requests (round robin), so memory
    stays bounded by the batch size and a small request never waits for a large one to finish.
    """

    def __init__(self, signature: Signature, max_batch_size: int = 64, timeout_s: float = 0.002,
                 max_enqueued: int = 6400, merge_requests: bool = True):
        self.signature, self.max_batch_size, self.timeout_s = signature, max_batch_size, timeout_s
        self.max_enqueued, self.merge_requests = max_enqueued, merge_requests
        self._pending: deque[_Request] = deque()
        self._queued_rows, self._closed = 0, False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"batcher-{signature.name}")
        self._thread.start()

    def submit(self, inputs: dict[str, np.ndarray]) -> Future:
        request = _Request(inputs)
        with self._changed:
            if self._closed:
                raise ServingError("UNAVAILABLE", "this model version was just unloaded; retry")
            if self._queued_rows and self._queued_rows + request.rows > self.max_enqueued:
                raise ServingError("UNAVAILABLE", f"the request queue is full ({self._queued_rows} faces waiting);"
                                                  " retry later")
            self._pending.append(request)
            self._queued_rows += request.rows
            self._changed.notify()
        return request.future

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()

    def _next_batch(self) -> list[tuple[_Request, dict[str, np.ndarray]]] | None:
        """Pieces of the waiting requests, up to a full batch: the first piece as soon as there is one, more
        while the batch timeout lasts. A request with faces left goes to the back of the line."""
        with self._changed:
            while not self._pending and not self._closed:
                self._changed.wait()
            if not self._pending:  # closed, and every request before the close served
                return None
            batch, space = [], self.max_batch_size
            deadline = time.monotonic() + self.timeout_s
            while space:
                if not self._pending:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self.merge_requests or self._closed:
                        break
                    self._changed.wait(left)
                    continue
                request = self._pending.popleft()
                rows = min(space, request.rows - request.taken)
                batch.append((request, request.take(rows)))
                space -= rows
                self._queued_rows -= rows
                if request.taken < request.rows:
                    self._pending.append(request)
                if not self.merge_requests:
                    break
            return batch

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            self._run_batch(batch)

    def _run_batch(self, batch: list[tuple[_Request, dict[str, np.ndarray]]]) -> None:
        try:
            joined = {name: tf.constant(np.concatenate([piece[name] for _, piece in batch]))
                      for name in self.signature.inputs}
            outputs = {name: value.numpy() for name, value in self.signature.function(**joined).items()}
        except Exception as error:  # the model failed on this batch: every caller hears why
            for request, _ in batch:
                if not request.future.done():
                    request.future.set_exception(ServingError("INTERNAL", f"the model failed: {error}"))
            return
        start = 0
        for request, piece in batch:
            rows = len(next(iter(piece.values())))
            if not request.future.done():
                request.finish_piece({name: value[start:start + rows] for name, value in outputs.items()})
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
    state = []
    for file in folder.rglob("*"):
        try:
            stat = file.stat()
        except OSError:  # removed while being looked at
            continue
        if file.is_file():
            state.append((str(file.relative_to(folder)), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(state))


def versions_to_serve(config: ModelConfig, available: list[int]) -> list[int]:
    """TensorFlow Serving's version policy: latest N (default 1), all, or specific versions."""
    policy = config.model_version_policy
    kind = policy.WhichOneof("policy_choice")
    if kind == "all":
        return available
    if kind == "specific":
        return [v for v in available if v in set(policy.specific.versions)]
    return available[-(policy.latest.num_versions or 1):] if available else []


@dataclass
class LoadFailure:
    """Why a version did not load, and when it is tried again: at once if any of its files changes, else
    after ``load_retry_interval_s`` while retries are left (TF Serving's --max_num_load_retries)."""
    files: tuple
    code: str  # TF Serving's error code name, as the model status API shows it
    message: str
    attempts: int
    retry_at: float | None  # time.monotonic(); None once the retries are spent


def _error_code(error: Exception) -> str:
    if isinstance(error, (FileNotFoundError, tf.errors.NotFoundError)):
        return "NOT_FOUND"
    if "corrupt" in str(error).lower() or "parse" in str(error).lower():
        return "DATA_LOSS"
    return "UNKNOWN"


class ModelRepository:
    """Every configured model, its loaded versions and labels, refreshed from disk by ``poll``."""

    def __init__(self, configs: list[ModelConfig], batching: dict | None = None, max_num_load_retries: int = 5,
                 load_retry_interval_s: float = 60.0):
        self.configs = {config.name: config for config in configs}
        self.batching = batching or {}
        self.max_num_load_retries, self.load_retry_interval_s = max_num_load_retries, load_retry_interval_s
        self.servables: dict[str, dict[int, Servable]] = {name: {} for name in self.configs}
        self.load_failures: dict[tuple[str, int], LoadFailure] = {}
        self._base_path_notes: dict[str, str] = {}
        self._lock = threading.Lock()

    def poll(self) -> None:
        for name, config in self.configs.items():
            on_disk = versions_on_disk(Path(config.base_path))
            self._note_base_path(config, on_disk)
            self._load_aspired(config, on_disk)
            # TF Serving's availability-preserving rule: the policy picks among the versions that loaded, so
            # a version that fails to load never unloads one that serves
            with self._lock:
                wanted = versions_to_serve(config, [v for v in on_disk if v in self.servables[name]])
                dropped = [v for v in self.servables[name] if v not in wanted]
                removed = [self.servables[name].pop(v) for v in dropped]
                current = set(versions_to_serve(config, on_disk))
                for key in [k for k in self.load_failures if k[0] == name and k[1] not in current]:
                    del self.load_failures[key]
            for servable in removed:
                log.info("unloaded %s version %d", name, servable.version)
                servable.unload()

    def _load_aspired(self, config: ModelConfig, on_disk: list[int]) -> None:
        """Loads the versions the policy picks among those not waiting out a failed load, so that while the
        newest version cannot load, the newest one that can is served."""
        for _ in on_disk:
            usable = [v for v in on_disk if v in self.servables[config.name] or self._time_to_try(config, v)]
            missing = [v for v in versions_to_serve(config, usable) if v not in self.servables[config.name]]
            if not missing:
                return
            for version in missing:
                self._load(config, version)

    def _note_base_path(self, config: ModelConfig, on_disk: list[int]) -> None:
        """Logs, once each time it becomes so, that a base path is missing or holds no version."""
        base = Path(config.base_path)
        note = "" if on_disk else (f"the base path {base} of model {config.name} does not exist" if not base.is_dir()
                                   else f"no version of model {config.name} found under its base path {base}:"
                                        " versions are numbered folders holding saved_model.pb (e.g. 1/)")
        if note and note != self._base_path_notes.get(config.name):
            log.warning("%s", note)
        self._base_path_notes[config.name] = note

    def _time_to_try(self, config: ModelConfig, version: int) -> bool:
        failure = self.load_failures.get((config.name, version))
        if failure is None or failure.files != _files_state(config, version):
            return True
        return failure.retry_at is not None and time.monotonic() >= failure.retry_at

    def _load(self, config: ModelConfig, version: int) -> None:
        path = Path(config.base_path) / str(version)
        try:
            servable = Servable.load(config.name, version, path, self.batching)
        except Exception as error:  # a broken version must not take the others down
            self._record_failure(config, version, path, error)
            return
        self.load_failures.pop((config.name, version), None)
        with self._lock:
            self.servables[config.name][version] = servable
        log.info("serving %s version %d from %s", config.name, version, path)

    def _record_failure(self, config: ModelConfig, version: int, path: Path, error: Exception) -> None:
        files = _files_state(config, version)
        previous = self.load_failures.get((config.name, version))
        attempts = previous.attempts + 1 if previous is not None and previous.files == files else 1
        retries_left = attempts <= self.max_num_load_retries
        retry_at = time.monotonic() + self.load_retry_interval_s if retries_left else None
        message = f"cannot load {config.name} version {version} from {path}: {error}"
        self.load_failures[(config.name, version)] = LoadFailure(files, _error_code(error), message, attempts,
                                                                 retry_at)
        then = (f"retry {attempts} of {self.max_num_load_retries} in {self.load_retry_interval_s:g} s"
                if retries_left else "no retry left")
        log.error("%s (%s, or as soon as any of its files changes; the versions already loaded keep serving)",
                  message, then)

    def version_states(self, name: str) -> dict[int, tuple[str, str, str]]:
        """Per version the model status API reports: (state, error code, error message), as TF Serving:
        AVAILABLE for a loaded version, END with the load error for one that failed."""
        if name not in self.configs:
            raise ServingError("NOT_FOUND", f"Could not find any versions of model {name}")
        with self._lock:
            states = {v: ("AVAILABLE", "OK", "") for v in self.servables[name]}
            for (model, version), failure in self.load_failures.items():
                if model == name and version not in states:
                    states[version] = ("END", failure.code, failure.message)
        return dict(sorted(states.items()))

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
            version = self.label_version(name, label)
        with self._lock:
            loaded = self.servables[name]
            if version is None:
                if not loaded:
                    raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({name})")
                return loaded[max(loaded)]
            if version not in loaded:
                raise ServingError("NOT_FOUND", f"Servable not found for request: Specific({name}, {version})")
            return loaded[version]

    def label_version(self, name: str, label: str) -> int:
        labels = self.configs[name].version_labels if name in self.configs else {}
        if label not in labels:
            raise ServingError("INVALID_ARGUMENT", f"Unrecognized servable version label: {label}")
        return labels[label]

    def close(self) -> None:
        for versions in self.servables.values():
            for servable in versions.values():
                servable.unload()
