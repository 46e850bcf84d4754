"""Clients for a served model: TensorFlow Serving's REST and gRPC APIs, chosen by URL.

``connect("http://host:8501")`` talks REST, ``connect("grpc://host:8500")`` gRPC (a URL may name the
model: ``http://host:8501/v1/models/fer_fast``, ``grpc://host:8500/fer_fast``); both answer
``predict(pixels)`` with the probabilities, whichever server (TF Serving or `fer serve`) is behind
the URL. Large requests are cut into batches; a refused connection, 503 and UNAVAILABLE are retried
with back-off for ``retry_for_s`` (long enough for a restarting server to load its model); every
other failure raises ServingError carrying the server's own message.

Neither client imports TensorFlow or Keras: REST is JSON, and gRPC uses the wire-compatible
messages of fer.serving.protos rather than ``tensorflow_serving.apis`` (whose protos import all of
TensorFlow). Only LocalModel, which runs the SavedModel in-process, imports TensorFlow, when made (except in int8, which
runs on LiteRT's interpreter).
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import grpc
import numpy as np
import requests
from requests.adapters import HTTPAdapter

from fer.contract import (ANALYSIS_MODEL_NAME, INPUT_NAME, MODEL_NAME, OUTPUT_NAME, SIGNATURE, ServingError,
                          versions_on_disk)
from fer.serving import protos
from fer.serving.int8 import INT8_FILE, Int8Model

log = logging.getLogger(__name__)
RETRYABLE = ("UNAVAILABLE", "503")


class ModelClient(Protocol):
    def predict(self, pixels: np.ndarray) -> np.ndarray: ...


def retrying(call: Callable[[], object], retry_for_s: float, what: str):
    """``call()``, tried again after UNAVAILABLE (refused connection, 503, queue full) with a back-off
    from 0.1 s doubling to 2 s, until ``retry_for_s`` seconds have passed; then its last error."""
    deadline, delay = time.monotonic() + retry_for_s, 0.1
    while True:
        try:
            return call()
        except ServingError as error:
            if error.code not in RETRYABLE or time.monotonic() + delay > deadline:
                raise
            log.warning("%s: %s; retrying in %.1f s", what, error.message, delay)
        time.sleep(delay)
        delay = min(2 * delay, 2.0)


def _batches(pixels: np.ndarray, batch_size: int):
    pixels = np.asarray(pixels, dtype=np.float32)
    for start in range(0, len(pixels), batch_size):
        yield pixels[start:start + batch_size]


class RestClient:
    """TensorFlow Serving's REST API: ``instances`` (row) or ``inputs`` (columnar) requests."""

    def __init__(self, url: str, model: str = MODEL_NAME, version: int | None = None, label: str | None = None,
                 signature_name: str = SIGNATURE, columnar: bool = False, timeout_s: float = 30.0,
                 retry_for_s: float = 60.0, batch_size: int = 256):
        self.base = url.rstrip("/") + f"/v1/models/{model}"
        if version is not None:
            self.base += f"/versions/{version}"
        elif label is not None:
            self.base += f"/labels/{label}"
        self.signature_name, self.columnar = signature_name, columnar
        self.timeout_s, self.retry_for_s, self.batch_size = timeout_s, retry_for_s, batch_size
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(pool_maxsize=64))
        self.session.mount("https://", HTTPAdapter(pool_maxsize=64))

    def _call(self, method: str, suffix: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body)
        return retrying(lambda: self._request(method, self.base + suffix, data), self.retry_for_s, self.base)

    def _request(self, method: str, url: str, data: str | None) -> dict:
        try:
            reply = self.session.request(method, url, data=data, headers={"Content-Type": "application/json"},
                                         timeout=self.timeout_s)
        except requests.ConnectionError as error:
            raise ServingError("UNAVAILABLE", f"{url}: {error}") from None
        except requests.RequestException as error:  # a timeout: the server is up but too slow; not retried
            raise ServingError("DEADLINE_EXCEEDED", f"{url}: {error}") from None
        try:
            content = reply.json()
        except ValueError:
            content = {"error": reply.text[:500]}
        if not reply.ok:
            raise ServingError(str(reply.status_code), f"{url}: HTTP {reply.status_code}: "
                                                       f"{content.get('error', content)}")
        return content

    def status(self) -> dict:
        return self._call("GET", "")

    def metadata(self) -> dict:
        return self._call("GET", "/metadata")

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        results = []
        for batch in _batches(pixels, self.batch_size):
            key = "inputs" if self.columnar else "instances"
            reply = self._call("POST", ":predict", {"signature_name": self.signature_name, key: batch.tolist()})
            results.append(np.asarray(reply["outputs" if self.columnar else "predictions"], dtype=np.float32))
        return np.concatenate(results) if results else np.zeros((0, 7), np.float32)


class GrpcClient:
    """TensorFlow Serving's gRPC PredictionService.

    The methods are called through grpc's generic API with fer.serving.protos' messages, so no
    TensorFlow is imported; float32 batches travel as ``tensor_content`` (little-endian bytes).
    """

    def __init__(self, target: str, model: str = MODEL_NAME, version: int | None = None,
                 label: str | None = None, signature_name: str = SIGNATURE, timeout_s: float = 30.0,
                 retry_for_s: float = 60.0, batch_size: int = 256):
        options = [("grpc.max_receive_message_length", 64 * 1024 * 1024),
                   ("grpc.max_send_message_length", 64 * 1024 * 1024)]
        self.channel = grpc.insecure_channel(target, options=options)
        self._predict = self.channel.unary_unary(
            protos.PREDICT, request_serializer=protos.PredictRequest.SerializeToString,
            response_deserializer=protos.PredictResponse.FromString)
        self._get_model_metadata = self.channel.unary_unary(
            protos.GET_MODEL_METADATA, request_serializer=protos.GetModelMetadataRequest.SerializeToString,
            response_deserializer=protos.GetModelMetadataResponse.FromString)
        self.target, self.model, self.version, self.label = target, model, version, label
        self.signature_name, self.timeout_s, self.batch_size = signature_name, timeout_s, batch_size
        self.retry_for_s = retry_for_s

    def _spec(self, spec) -> None:
        spec.name = self.model
        if self.version is not None:
            spec.version.value = self.version
        elif self.label is not None:
            spec.version_label = self.label

    def _call(self, method, request):
        return retrying(lambda: self._request(method, request), self.retry_for_s, self.target)

    def _request(self, method, request):
        try:
            return method(request, timeout=self.timeout_s)
        except grpc.RpcError as error:
            raise ServingError(error.code().name, f"{self.target}: {error.code().name}: {error.details()}") from None

    def metadata(self):
        """The GetModelMetadataResponse (a fer.serving.protos message): ``model_spec`` and
        ``metadata["signature_def"]``, a google.protobuf.Any holding a tensorflow.serving.SignatureDefMap;
        ``signature_defs()`` unpacks it."""
        request = protos.GetModelMetadataRequest(metadata_field=["signature_def"])
        self._spec(request.model_spec)
        return self._call(self._get_model_metadata, request)

    def signature_defs(self):
        """The model's SignatureDefMap (protos.SignatureDefMap: each signature's method name, and its inputs'
        and outputs' dtype and shape), unpacked from ``metadata()``."""
        signatures = protos.SignatureDefMap()
        if not self.metadata().metadata["signature_def"].Unpack(signatures):
            raise ServingError("INTERNAL", f"{self.target}: metadata['signature_def'] is not a SignatureDefMap")
        return signatures

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        results = []
        for batch in _batches(pixels, self.batch_size):
            request = protos.PredictRequest()
            self._spec(request.model_spec)
            request.model_spec.signature_name = self.signature_name
            request.inputs[INPUT_NAME].CopyFrom(protos.tensor_proto(batch))
            reply = self._call(self._predict, request)
            if OUTPUT_NAME not in reply.outputs:
                raise ServingError("INTERNAL", f"{self.target}: the reply has outputs {sorted(reply.outputs)},"
                                               f" not {OUTPUT_NAME!r}")
            try:
                results.append(protos.to_ndarray(reply.outputs[OUTPUT_NAME]).astype(np.float32, copy=False))
            except ValueError as error:
                raise ServingError("INTERNAL", f"{self.target}: output {OUTPUT_NAME!r}: {error}") from None
        return np.concatenate(results) if results else np.zeros((0, 7), np.float32)


def connect(url: str, **options) -> RestClient | GrpcClient:
    """A client for ``http(s)://host:port`` (REST) or ``grpc://host:port`` (gRPC), of the model the URL
    names (``http://host:port/v1/models/NAME``, ``grpc://host:port/NAME``), else of ``options["model"]``."""
    if url.startswith("grpc://"):
        target, _, name = url.removeprefix("grpc://").partition("/")
        name = name.strip("/")
        return GrpcClient(target, **(options | {"model": name} if name else options))
    if url.startswith(("http://", "https://")):
        server, _, name = url.rstrip("/").partition("/v1/models/")
        if "/" in name or (not name and url.rstrip("/").count("/") > 2):
            raise ValueError(f"model server URL {url!r} must be http(s)://host:port[/v1/models/NAME]")
        return RestClient(server, **(options | {"model": name} if name else options))
    raise ValueError(f"model server URL {url!r} must start with http://, https:// or grpc://")


PRECISIONS = ("auto", "float32", "bfloat16", "int8")


class LocalModel:
    """The exported SavedModel called in-process: a version folder, or the highest version under a base path.

    ``precision``: float32, the SavedModel as exported; bfloat16, TensorFlow's oneDNN auto-mixed-precision pass
    runs its convolutions and matrix products in bfloat16 (fast only on AVX512-BF16/AMX; a process-wide
    TensorFlow option, so it then applies to every model this process runs); int8, the version's int8
    TensorFlow Lite model (``model.tflite``, written by export where params ask) run by XNNPACK on
    ``threads`` threads (default: every core this process may use). Speed and accuracy of each:
    docs/training.md#the-int8-model."""

    def __init__(self, path: str | Path, precision: str = "float32", threads: int | None = None):
        if precision not in PRECISIONS[1:]:
            raise ValueError(f"precision {precision!r}: use one of {', '.join(PRECISIONS[1:])}")
        path = Path(path)
        if not (path / "saved_model.pb").is_file():
            versions = versions_on_disk(path)
            if not versions:
                raise ServingError("NOT_FOUND", f"{path}: no SavedModel there (expected saved_model.pb or"
                                                f" numbered version folders)")
            path = path / str(versions[-1])
        self.path, self.precision = path, precision
        if precision == "int8":  # without TensorFlow
            self._int8 = Int8Model(path, threads)
            return
        import tensorflow as tf
        self._tf = tf
        from fer.learn.export import load_signature
        if precision == "bfloat16":
            tf.config.optimizer.set_experimental_options({"auto_mixed_precision_onednn_bfloat16": True})
        self.signature = load_signature(path)

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        if self.precision == "int8":
            return self._int8.predict(pixels)
        pixels = np.asarray(pixels, dtype=np.float32)
        return self.signature(**{INPUT_NAME: self._tf.constant(pixels)})[OUTPUT_NAME].numpy()


def local_precision(setting: str, model: str | Path) -> str:
    """A LocalModel precision for ``setting``; ``auto`` is bfloat16 on AMX, else int8 where the model's newest
    version has an int8 model, else bfloat16 where the CPU has it natively, else float32 (the fastest here:
    docs/training.md#the-int8-model)."""
    if setting != "auto":
        return setting
    from fer.cpu import has_amx, has_native_bfloat16
    if has_amx():
        return "bfloat16"
    path = Path(model)
    versions = versions_on_disk(path) if not (path / "saved_model.pb").is_file() else None
    version = path / str(versions[-1]) if versions else path
    if (version / INT8_FILE).is_file():
        return "int8"
    return "bfloat16" if has_native_bfloat16() else "float32"


SERVER_URL_PREFIXES = ("http://", "https://", "grpc://")


def is_server_url(where: str | Path) -> bool:
    """Whether ``where`` names a model server (open_model connects to it) rather than a SavedModel path."""
    return str(where).startswith(SERVER_URL_PREFIXES)


def needs_tensorflow(where: str | Path, precision: str) -> bool:
    """Whether opening the model at ``where`` in ``precision`` (resolved: not auto) runs TensorFlow in this
    process: a SavedModel's float32 or bfloat16 does; its int8 model runs on LiteRT, a server on its own."""
    return precision != "int8" and not is_server_url(where)


def open_model(where: str | Path, first_contact_s: float = 10.0, precision: str = "float32",
               threads: int | None = None) -> ModelClient:
    """A model server URL (see ``connect``; one that names no model means the analysis model, fer_fast)
    or a SavedModel path (run in ``precision`` on ``threads``: LocalModel), checked with one prediction; a server is
    waited for ``first_contact_s`` at most (later calls retry for the client's ``retry_for_s``)."""
    if not is_server_url(where):
        return _checked(LocalModel(where, precision, threads), where)
    model = connect(str(where), model=ANALYSIS_MODEL_NAME)
    model.retry_for_s, retry_for_s = first_contact_s, model.retry_for_s
    _checked(model, where)
    model.retry_for_s = retry_for_s
    return model


def _checked(model: ModelClient, where: str | Path) -> ModelClient:
    probabilities = model.predict(np.zeros((1, 48, 48, 1), np.float32))
    if probabilities.shape != (1, 7):
        raise ServingError("FAILED_PRECONDITION", f"{where}: the model returns shape {probabilities.shape}, not [1, 7]")
    return model
