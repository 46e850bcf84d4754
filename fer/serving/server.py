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
from dataclasses import dataclass, field
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
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import error_codes_pb2
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
    """TF Serving's model status: each version AVAILABLE, or END with the error that stopped it loading."""
    states = repository.version_states(name)
    if label is not None:
        version = repository.label_version(name, label)
    if version is not None:
        if version not in states:
            raise ServingError("NOT_FOUND", f"Servable not found for request: Specific({name}, {version})")
        states = {version: states[version]}
    if not states:
        raise ServingError("NOT_FOUND", f"Could not find any versions of model {name}")
    reply = get_model_status_pb2.GetModelStatusResponse()
    for number, (state, code, message) in states.items():
        status = reply.model_version_status.add(version=number)
        status.state = get_model_status_pb2.ModelVersionStatus.State.Value(state)
        status.status.SetInParent()  # error_code OK is printed, as TF Serving does
        status.status.error_code = error_codes_pb2.Code.Value(code)
        status.status.error_message = message
    return reply


def signature_def_map(servable: Servable) -> get_model_metadata_pb2.SignatureDefMap:
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for key, signature_def in servable.signature_defs.items():
        signature_map.signature_def[key].CopyFrom(signature_def)
    return signature_map


@dataclass
class RequestLimits:
    """What one predict request may ask for: faces (checked before any array is made) and time."""
    max_faces: int = 1024
    timeout_s: float = 30.0

    def check_faces(self, faces: int, name: str) -> None:
        if faces > self.max_faces:
            raise ServingError("INVALID_ARGUMENT", f"input {name!r} holds {faces} faces; a request may hold at most"
                                                   f" {self.max_faces} (--max_faces_per_request): send fewer per"
                                                   " request")


def to_array(value, name: str) -> np.ndarray:
    """A JSON value as float32; refuses strings, nulls, ragged and too deeply nested lists."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError, RecursionError) as error:
        raise ServingError("INVALID_ARGUMENT", f"input {name!r} is not a tensor: {error}") from None
    if array.dtype.kind not in "iuf":
        raise ServingError("INVALID_ARGUMENT", f"input {name!r} must hold only numbers (got JSON values that"
                                               f" make a {array.dtype} tensor)")
    return array.astype(np.float32)


_NUMERIC_FIELDS = {types_pb2.DT_FLOAT: "float_val", types_pb2.DT_DOUBLE: "double_val",
                   types_pb2.DT_HALF: "half_val", types_pb2.DT_BFLOAT16: "half_val",
                   types_pb2.DT_INT8: "int_val", types_pb2.DT_INT16: "int_val", types_pb2.DT_INT32: "int_val",
                   types_pb2.DT_UINT8: "int_val", types_pb2.DT_UINT16: "int_val", types_pb2.DT_INT64: "int64_val",
                   types_pb2.DT_UINT32: "uint32_val", types_pb2.DT_UINT64: "uint64_val"}


def tensor_to_array(tensor, name: str, limits: RequestLimits) -> np.ndarray:
    """A gRPC TensorProto as float32, checked before anything is allocated: its face count against the
    limit, and the values it carries against the number its shape promises. TensorFlow would zero-fill
    (or repeat the last value of) a tensor that carries fewer; here that is a broken request."""
    if tensor.dtype not in _NUMERIC_FIELDS:
        raise ServingError("INVALID_ARGUMENT", f"input {name!r} has dtype {types_pb2.DataType.Name(tensor.dtype)};"
                                               " expected DT_FLOAT (or another number type)")
    dims = [d.size for d in tensor.tensor_shape.dim]
    if tensor.tensor_shape.unknown_rank or any(d < 0 for d in dims):
        raise ServingError("INVALID_ARGUMENT", f"input {name!r} has no fully known shape: {dims}")
    if dims:
        limits.check_faces(dims[0], name)
    promised = int(np.prod(dims, dtype=np.int64))
    itemsize = tf.dtypes.as_dtype(tensor.dtype).size
    if tensor.tensor_content:
        carried, remainder = divmod(len(tensor.tensor_content), itemsize)
        if remainder:
            raise ServingError("INVALID_ARGUMENT", f"input {name!r}: tensor_content holds {len(tensor.tensor_content)}"
                                                   f" bytes, not a whole number of {itemsize}-byte values")
    else:
        carried = len(getattr(tensor, _NUMERIC_FIELDS[tensor.dtype]))
    if carried != promised:
        raise ServingError("INVALID_ARGUMENT", f"input {name!r} has shape {dims}, which needs {promised} values,"
                                               f" but carries {carried}")
    return tf.make_ndarray(tensor).astype(np.float32)


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
        except Exception as error:  # a bug here: the client still gets JSON, and the log the traceback
            log.exception("%s %s failed", request.method, request.path)
            reply = _json_reply({"error": f"internal error: {type(error).__name__}: {error}"}, 500)
        match = _MODEL_PATH.match(request.match_info.get("path", ""))
        if match:
            method = {None: "status", "/metadata": "metadata"}.get(match["action"], (match["action"] or ":")[1:])
            metrics.observe(match["name"], "rest", method, str(reply.status), time.perf_counter() - started)
        return reply
    return middleware


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_JSON_BOOLEAN = re.compile(rb"\b(?:true|false)\b")


def _json_body(raw: bytes) -> dict:
    """The request's JSON object; booleans are refused (Python would take true as 1), deep nesting too."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError is one; so is a 5,000-digit integer's
        raise ServingError("INVALID_ARGUMENT", f"JSON Parse error: {error}") from None
    except RecursionError:
        raise ServingError("INVALID_ARGUMENT", "JSON Parse error: the JSON is nested too deeply") from None
    if not isinstance(body, dict):
        raise ServingError("INVALID_ARGUMENT", "the request body must be a JSON object")
    if (b"true" in raw or b"false" in raw) and _JSON_BOOLEAN.search(_JSON_STRING.sub(b'""', raw)):
        raise ServingError("INVALID_ARGUMENT", "the request holds a JSON boolean (true or false); the model's inputs"
                                               " are numbers")
    return body


def _faces(value) -> int:
    return len(value) if isinstance(value, list) else 1


def _predict_inputs(body: dict, signature, limits: RequestLimits) -> tuple[dict[str, np.ndarray], bool]:
    """Inputs of a predict request, and whether it used the row ("instances") format."""
    if ("instances" in body) == ("inputs" in body):
        raise ServingError("INVALID_ARGUMENT", "Missing 'inputs' or 'instances' key" if "inputs" not in body
                           else "Not both 'inputs' and 'instances' keys can be given")
    names = list(signature.inputs)
    if "instances" in body:
        rows = body["instances"]
        if not isinstance(rows, list) or not rows:
            raise ServingError("INVALID_ARGUMENT", "'instances' must be a non-empty list")
        limits.check_faces(len(rows), "instances")
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
        for name, value in columns.items():
            limits.check_faces(_faces(value), name)
        return {name: to_array(value, name) for name, value in columns.items()}, False
    if len(names) != 1:
        raise ServingError("INVALID_ARGUMENT", f"the signature has inputs {names}: give 'inputs' as an object")
    limits.check_faces(_faces(columns), names[0])
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


async def _read_body(request: web.Request, timeout_s: float) -> bytes:
    try:
        return await asyncio.wait_for(request.read(), timeout_s)
    except TimeoutError:
        raise web.HTTPRequestTimeout(text=f"the request body did not arrive within {timeout_s:g} s"
                                          " (--rest_api_timeout_in_ms)") from None


async def _outputs(future, timeout_s: float) -> dict[str, np.ndarray]:
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout_s)
    except TimeoutError:
        raise ServingError("DEADLINE_EXCEEDED", f"the prediction took longer than {timeout_s:g} s") from None


def rest_app(repository: ModelRepository, metrics: ServingMetrics | None = None,
             metrics_path: str | None = None, limits: RequestLimits | None = None) -> web.Application:
    limits = limits or RequestLimits()

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
            body = _json_body(await _read_body(request, limits.timeout_s))
            signature = servable.signature(body.get("signature_name"))
            inputs, row_format = _predict_inputs(body, signature, limits)
            outputs = await _outputs(servable.predict(signature.name, inputs), limits.timeout_s)
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
    except Exception as error:  # a bug here: the client still hears what failed, and the log has the traceback
        code = "INTERNAL"
        log.exception("gRPC %s failed", method)
        context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(error).__name__}: {error}")
    finally:
        metrics.observe(model, "grpc", method, code, time.perf_counter() - started)


def _spec_target(spec) -> tuple[str, int | None, str | None]:
    version = spec.version.value if spec.HasField("version") else None
    label = spec.version_label or None
    return spec.name, version, label


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, repository: ModelRepository, metrics: ServingMetrics, limits: RequestLimits):
        self.repository, self.metrics, self.limits = repository, metrics, limits

    def Predict(self, request: predict_pb2.PredictRequest, context) -> predict_pb2.PredictResponse:
        def work():
            servable = self.repository.resolve(*_spec_target(request.model_spec))
            signature = servable.signature(request.model_spec.signature_name)
            inputs = {}
            for name, tensor in request.inputs.items():
                try:
                    inputs[name] = tensor_to_array(tensor, name, self.limits)
                except (TypeError, ValueError) as error:
                    raise ServingError("INVALID_ARGUMENT", f"input {name!r}: {error}") from None
            try:
                outputs = servable.predict(signature.name, inputs).result(self.limits.timeout_s)
            except futures.TimeoutError:
                raise ServingError("DEADLINE_EXCEEDED", f"the prediction took longer than"
                                                        f" {self.limits.timeout_s:g} s") from None
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
    limits: RequestLimits = field(default_factory=RequestLimits)
    rest_listen_backlog: int = 1024  # connections the kernel queues before the server accepts them
    max_num_load_retries: int = 5
    load_retry_interval_s: float = 60.0


def single_model_config(name: str, base_path: Path) -> ModelConfig:
    return ModelConfig(name=name, base_path=str(Path(base_path).resolve()), model_platform="tensorflow")


def serve(configs: list[ModelConfig], options: ServerOptions) -> None:
    """Loads the models, then serves REST and gRPC until interrupted."""
    repository = ModelRepository(configs, options.batching, options.max_num_load_retries,
                                 options.load_retry_interval_s)
    repository.poll()
    stop = threading.Event()
    repository.watch(options.poll_wait_s, stop)
    metrics = ServingMetrics()
    grpc_server = None
    if options.port:
        grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), options=[
            ("grpc.max_receive_message_length", MAX_REQUEST_BYTES)])
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionService(repository, metrics, options.limits), grpc_server)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(repository, metrics), grpc_server)
        grpc_server.add_insecure_port(f"{options.host}:{options.port}")
        grpc_server.start()
        log.info("gRPC on %s:%d", options.host, options.port)
    try:
        log.info("REST on %s:%d", options.host, options.rest_api_port)
        # keepalive_timeout also closes a connection whose request head has not arrived by then (slow clients)
        web.run_app(rest_app(repository, metrics, options.metrics_path, options.limits), host=options.host,
                    port=options.rest_api_port, backlog=options.rest_listen_backlog,
                    keepalive_timeout=options.limits.timeout_s, print=None, access_log=None)
    finally:
        stop.set()
        if grpc_server is not None:
            grpc_server.stop(grace=1)
        repository.close()
