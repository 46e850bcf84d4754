"""A TensorFlow-Serving-compatible model server, for machines where the official image cannot run.

REST on ``rest_api_port`` (aiohttp) and gRPC on ``port`` (grpcio with the ``tensorflow-serving-api``
protos), answering as TensorFlow Serving documents: model status, metadata and predict in row
(``instances``) and columnar (``inputs``) formats; errors as ``{"error": "..."}`` with TF Serving's
HTTP codes. Where TF Serving accepts NaN and Infinity, this server refuses them: faces are grey
levels, and a non-finite pixel is a broken client.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import tensorflow as tf
from aiohttp import web
from google.protobuf import json_format
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_service_pb2_grpc,
                                     predict_pb2, prediction_service_pb2_grpc)
from tensorflow_serving.config.model_server_config_pb2 import ModelConfig

from fer.contract import ServingError
from fer.serving.model_repository import ModelRepository, Servable

log = logging.getLogger(__name__)

HTTP_STATUS = {"INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "NOT_FOUND": 404, "UNIMPLEMENTED": 501,
               "UNAVAILABLE": 503, "RESOURCE_EXHAUSTED": 429, "DEADLINE_EXCEEDED": 504, "INTERNAL": 500}
MAX_REQUEST_BYTES = 32 * 1024 * 1024  # about 1,400 faces as JSON; clients send 256 per request
_MODEL_PATH = re.compile(r"^(?P<name>[^/:]+)(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
                         r"(?P<action>/metadata|:[a-z]+)?$")


# ---------------------------------------------------------------- replies shared by REST and gRPC

class ServingMetrics:
    """Prometheus metrics of one server: requests by model, API, method and outcome, and latencies."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("fer_serving_requests", "Requests answered", ["model", "api", "method", "code"],
                                registry=self.registry)
        self.latency = Histogram("fer_serving_request_latency_seconds", "Time to answer a request",
                                 ["model", "api", "method"], registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))

    def observe(self, model: str, api: str, method: str, code: str, seconds: float) -> None:
        self.requests.labels(model, api, method, code).inc()
        self.latency.labels(model, api, method).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def model_status(repository: ModelRepository, name: str, version: int | None,
                 label: str | None) -> get_model_status_pb2.GetModelStatusResponse:
    if label is not None or version is not None:
        versions = [repository.resolve(name, version, label).version]
    else:
        versions = repository.versions(name)
        if not versions:
            raise ServingError("NOT_FOUND", f"Could not find any versions of model {name}")
    reply = get_model_status_pb2.GetModelStatusResponse()
    for number in versions:
        status = reply.model_version_status.add(version=number)
        status.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
        status.status.SetInParent()  # error_code OK, printed as TF Serving does
    return reply


def signature_def_map(servable: Servable) -> get_model_metadata_pb2.SignatureDefMap:
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for key, signature_def in servable.signature_defs.items():
        signature_map.signature_def[key].CopyFrom(signature_def)
    return signature_map


def to_array(value, name: str) -> np.ndarray:
    """A JSON value as float32; refuses strings, booleans, nulls and ragged lists."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise ServingError("INVALID_ARGUMENT", f"input {name!r} is not a tensor: {error}") from None
    if array.dtype.kind not in "iuf":
        raise ServingError("INVALID_ARGUMENT", f"input {name!r} must hold only numbers (got JSON values that"
                                               f" make a {array.dtype} tensor)")
    return array.astype(np.float32)


# ---------------------------------------------------------------- REST

def _json_reply(body: dict, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json")


def _error_reply(error: ServingError) -> web.Response:
    return _json_reply({"error": error.message}, HTTP_STATUS.get(error.code, 500))


def json_errors(metrics: ServingMetrics):
    @web.middleware
    async def middleware(request: web.Request, handler) -> web.StreamResponse:
        """Every error, TensorFlow Serving's or aiohttp's (413 too large, 405, ...), as {"error": "..."};
        every model request counted and timed."""
        started = time.perf_counter()
        try:
            reply = await handler(request)
        except ServingError as error:
            reply = _error_reply(error)
        except web.HTTPException as error:
            if error.status < 400:
                raise
            reply = _json_reply({"error": error.text or error.reason}, error.status)
        match = _MODEL_PATH.match(request.match_info.get("path", ""))
        if match:
            method = {None: "status", "/metadata": "metadata"}.get(match["action"], (match["action"] or ":")[1:])
            metrics.observe(match["name"], "rest", method, str(reply.status), time.perf_counter() - started)
        return reply
    return middleware


def _json_body(raw: bytes) -> dict:
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ServingError("INVALID_ARGUMENT", f"JSON Parse error: {error}") from None
    if not isinstance(body, dict):
        raise ServingError("INVALID_ARGUMENT", "the request body must be a JSON object")
    return body


def _predict_inputs(body: dict, signature) -> tuple[dict[str, np.ndarray], bool]:
    """Inputs of a predict request, and whether it used the row ("instances") format."""
    if ("instances" in body) == ("inputs" in body):
        raise ServingError("INVALID_ARGUMENT", "Missing 'inputs' or 'instances' key" if "inputs" not in body
                           else "Not both 'inputs' and 'instances' keys can be given")
    names = list(signature.inputs)
    if "instances" in body:
        rows = body["instances"]
        if not isinstance(rows, list) or not rows:
            raise ServingError("INVALID_ARGUMENT", "'instances' must be a non-empty list")
        if all(isinstance(row, dict) for row in rows):
            inputs = {}
            for name in names:
                if any(name not in row for row in rows):
                    raise ServingError("INVALID_ARGUMENT", f"every instance needs the input {name!r}")
                inputs[name] = to_array([row[name] for row in rows], name)
            return inputs, True
        if len(names) != 1:
            raise ServingError("INVALID_ARGUMENT", f"the signature has inputs {names}: give each instance as an"
                                                   " object of named inputs")
        return {names[0]: to_array(rows, names[0])}, True
    columns = body["inputs"]
    if isinstance(columns, dict):
        return {name: to_array(value, name) for name, value in columns.items()}, False
    if len(names) != 1:
        raise ServingError("INVALID_ARGUMENT", f"the signature has inputs {names}: give 'inputs' as an object")
    return {names[0]: to_array(columns, names[0])}, False


def _predict_reply(outputs: dict[str, np.ndarray], row_format: bool) -> dict:
    if row_format:
        if len(outputs) == 1:
            return {"predictions": next(iter(outputs.values())).tolist()}
        rows = len(next(iter(outputs.values())))
        return {"predictions": [{k: v[i].tolist() for k, v in outputs.items()} for i in range(rows)]}
    if len(outputs) == 1:
        return {"outputs": next(iter(outputs.values())).tolist()}
    return {"outputs": {k: v.tolist() for k, v in outputs.items()}}


def rest_app(repository: ModelRepository, metrics: ServingMetrics | None = None,
             metrics_path: str | None = None) -> web.Application:
    async def models(request: web.Request) -> web.Response:
        match = _MODEL_PATH.match(request.match_info["path"])
        if not match:
            raise ServingError("NOT_FOUND", f"Malformed request: {request.method} {request.path}")
        name, label, action = match["name"], match["label"], match["action"]
        version = int(match["version"]) if match["version"] else None
        if request.method == "GET" and action is None:
            return _json_reply(json_format.MessageToDict(
                model_status(repository, name, version, label), preserving_proto_field_name=True,
                always_print_fields_with_no_presence=True))
        if request.method == "GET" and action == "/metadata":
            servable = repository.resolve(name, version, label)
            return _json_reply({
                "model_spec": {"name": name, "signature_name": "", "version": str(servable.version)},
                "metadata": {"signature_def": json_format.MessageToDict(
                    signature_def_map(servable), preserving_proto_field_name=True)}})
        if request.method == "POST" and action == ":predict":
            servable = repository.resolve(name, version, label)
            body = _json_body(await request.read())
            signature = servable.signature(body.get("signature_name"))
            inputs, row_format = _predict_inputs(body, signature)
            outputs = await asyncio.wrap_future(servable.predict(signature.name, inputs))
            return _json_reply(_predict_reply(outputs, row_format))
        if request.method == "POST" and action in (":classify", ":regress"):
            raise ServingError("UNIMPLEMENTED", f"{action[1:]} is not served: the model has a predict signature")
        raise ServingError("NOT_FOUND", f"Malformed request: {request.method} {request.path}")

    metrics = metrics or ServingMetrics()
    app = web.Application(client_max_size=MAX_REQUEST_BYTES, middlewares=[json_errors(metrics)])
    app.router.add_route("*", "/v1/models/{path:.*}", models)
    if metrics_path:
        async def prometheus(request: web.Request) -> web.Response:
            return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})
        app.router.add_get(metrics_path, prometheus)
    return app


# ---------------------------------------------------------------- gRPC

def _grpc_call(context: grpc.ServicerContext, work, metrics: ServingMetrics, model: str, method: str):
    started, code = time.perf_counter(), "OK"
    try:
        return work()
    except ServingError as error:
        code = error.code
        context.abort(getattr(grpc.StatusCode, error.code, grpc.StatusCode.UNKNOWN), error.message)
    finally:
        metrics.observe(model, "grpc", method, code, time.perf_counter() - started)


def _spec_target(spec) -> tuple[str, int | None, str | None]:
    version = spec.version.value if spec.HasField("version") else None
    label = spec.version_label or None
    return spec.name, version, label


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, repository: ModelRepository, metrics: ServingMetrics, timeout_s: float = 60.0):
        self.repository, self.metrics, self.timeout_s = repository, metrics, timeout_s

    def Predict(self, request: predict_pb2.PredictRequest, context) -> predict_pb2.PredictResponse:
        def work():
            servable = self.repository.resolve(*_spec_target(request.model_spec))
            signature = servable.signature(request.model_spec.signature_name)
            inputs = {}
            for name, tensor in request.inputs.items():
                try:
                    inputs[name] = tf.make_ndarray(tensor).astype(np.float32)
                except (TypeError, ValueError) as error:
                    raise ServingError("INVALID_ARGUMENT", f"input {name!r}: {error}") from None
            outputs = servable.predict(signature.name, inputs).result(self.timeout_s)
            wanted = list(request.output_filter) or list(outputs)
            reply = predict_pb2.PredictResponse()
            for name in wanted:
                if name not in outputs:
                    raise ServingError("INVALID_ARGUMENT", f"output_filter names {name!r}, not an output")
                reply.outputs[name].CopyFrom(tf.make_tensor_proto(outputs[name]))
            reply.model_spec.name = servable.name
            reply.model_spec.version.value = servable.version
            reply.model_spec.signature_name = signature.name
            return reply
        return _grpc_call(context, work, self.metrics, request.model_spec.name, "predict")

    def GetModelMetadata(self, request, context) -> get_model_metadata_pb2.GetModelMetadataResponse:
        def work():
            if list(request.metadata_field) != ["signature_def"]:
                raise ServingError("INVALID_ARGUMENT", "metadata_field must be exactly ['signature_def']")
            servable = self.repository.resolve(*_spec_target(request.model_spec))
            reply = get_model_metadata_pb2.GetModelMetadataResponse()
            reply.model_spec.name = servable.name
            reply.model_spec.version.value = servable.version
            reply.metadata["signature_def"].Pack(signature_def_map(servable))
            return reply
        return _grpc_call(context, work, self.metrics, request.model_spec.name, "metadata")


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, repository: ModelRepository, metrics: ServingMetrics):
        self.repository, self.metrics = repository, metrics

    def GetModelStatus(self, request, context) -> get_model_status_pb2.GetModelStatusResponse:
        return _grpc_call(context, lambda: model_status(self.repository, *_spec_target(request.model_spec)),
                          self.metrics, request.model_spec.name, "status")


# ---------------------------------------------------------------- running both

@dataclass
class ServerOptions:
    port: int = 8500  # gRPC; 0 turns it off
    rest_api_port: int = 8501
    host: str = "0.0.0.0"
    poll_wait_s: float = 1.0
    batching: dict | None = None
    metrics_path: str | None = None  # Prometheus metrics on the REST port, as monitoring.config sets


def single_model_config(name: str, base_path: Path) -> ModelConfig:
    return ModelConfig(name=name, base_path=str(Path(base_path).resolve()), model_platform="tensorflow")


def serve(configs: list[ModelConfig], options: ServerOptions) -> None:
    """Loads the models, then serves REST and gRPC until interrupted."""
    repository = ModelRepository(configs, options.batching)
    repository.poll()
    stop = threading.Event()
    repository.watch(options.poll_wait_s, stop)
    metrics = ServingMetrics()
    grpc_server = None
    if options.port:
        grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), options=[
            ("grpc.max_receive_message_length", MAX_REQUEST_BYTES)])
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionService(repository, metrics),
                                                                       grpc_server)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(repository, metrics), grpc_server)
        grpc_server.add_insecure_port(f"{options.host}:{options.port}")
        grpc_server.start()
        log.info("gRPC on %s:%d", options.host, options.port)
    try:
        log.info("REST on %s:%d", options.host, options.rest_api_port)
        web.run_app(rest_app(repository, metrics, options.metrics_path), host=options.host, port=options.rest_api_port, print=None,
                    access_log=None)
    finally:
        stop.set()
        if grpc_server is not None:
            grpc_server.stop(grace=1)
        repository.close()
