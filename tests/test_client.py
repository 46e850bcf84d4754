"""fer.serving.client against small real HTTP servers on loopback that misbehave on purpose, and the
committed SavedModels run in-process in bfloat16 and int8."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading

import numpy as np
import pytest
from aiohttp import web

from fer.contract import ServingError
from fer.cpu import has_native_bfloat16
from fer.serving.client import LocalModel, connect, local_precision, needs_tensorflow, open_model
from fer.serving.int8 import INT8_FILE
from tests.conftest import REPO
from tests.test_faces import fer_faces
from tests.servers import free_port


def start(app: web.Application) -> str:
    """Runs ``app`` on a loopback port in a background thread; returns its URL."""
    port, ready = free_port(), threading.Event()

    def run() -> None:
        loop = asyncio.new_event_loop()
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    assert ready.wait(10)
    return f"http://127.0.0.1:{port}"


def test_rest_client_retries_503_then_succeeds():
    calls = []

    async def predict(request: web.Request) -> web.Response:
        calls.append(len((await request.json())["instances"]))
        if len(calls) <= 2:
            return web.json_response({"error": "warming up"}, status=503)
        return web.json_response({"predictions": [[1.0] + [0.0] * 6] * calls[-1]})

    app = web.Application()
    app.router.add_post("/v1/models/fer_model:predict", predict)
    probabilities = connect(start(app), retry_for_s=5).predict(np.zeros((3, 48, 48, 1)))
    assert probabilities.shape == (3, 7) and calls == [3, 3, 3]


def test_rest_client_gives_up_after_retry_for_s_with_the_server_message():
    async def predict(request: web.Request) -> web.Response:
        return web.json_response({"error": "model is reloading"}, status=503)

    app = web.Application()
    app.router.add_post("/v1/models/fer_model:predict", predict)
    with pytest.raises(ServingError, match="503.*model is reloading"):
        connect(start(app), retry_for_s=0.5).predict(np.zeros((1, 48, 48, 1)))


def test_a_url_may_name_the_model_and_analysis_asks_for_fer_fast_otherwise():
    asked = []

    async def predict(request: web.Request) -> web.Response:
        asked.append(request.match_info["name"])
        return web.json_response({"predictions": [[1.0] + [0.0] * 6] * len((await request.json())["instances"])})

    app = web.Application()
    app.router.add_post("/v1/models/{name}:predict", predict)
    url = start(app)
    for where in (url, f"{url}/v1/models/fer_model", f"{url}/v1/models/fer_model/"):
        connect(where).predict(np.zeros((1, 48, 48, 1)))
    open_model(url)
    open_model(f"{url}/v1/models/fer_model")
    assert asked == ["fer_model", "fer_model", "fer_model", "fer_fast", "fer_model"]
    assert connect("grpc://127.0.0.1:1/fer_fast").model == "fer_fast" and connect("grpc://127.0.0.1:1").model == "fer_model"
    with pytest.raises(ValueError, match="/v1/models/NAME"):
        connect(f"{url}/predict")


def test_unreachable_server_and_bad_url_are_named():
    with pytest.raises(ServingError, match=f"127.0.0.1:{(port := free_port())}"):
        connect(f"http://127.0.0.1:{port}", retry_for_s=0, timeout_s=2).predict(np.zeros((1, 48, 48, 1)))
    with pytest.raises(ServingError, match="UNAVAILABLE"):
        connect(f"grpc://127.0.0.1:{port}", retry_for_s=0, timeout_s=2).predict(np.zeros((1, 48, 48, 1)))
    with pytest.raises(ValueError, match="ftp://x"):
        connect("ftp://x")


def same_fields(mine, theirs, seen: set) -> None:
    """Every field of one of fer.serving.protos' messages (and of its nested messages) is TensorFlow's
    field of that name: number, type, repetition, packing, oneof and message or enum type."""
    assert mine.full_name == theirs.full_name
    if mine.full_name in seen or mine.full_name.startswith("google.protobuf."):
        return
    seen.add(mine.full_name)
    assert mine.GetOptions().map_entry == theirs.GetOptions().map_entry, mine.full_name
    for field in mine.fields:
        other = theirs.fields_by_name[field.name]
        assert (field.number, field.type, field.is_repeated, field.is_packed, field.has_presence) == \
               (other.number, other.type, other.is_repeated, other.is_packed, other.has_presence), field.full_name
        assert (field.containing_oneof and field.containing_oneof.name) == \
               (other.containing_oneof and other.containing_oneof.name), field.full_name
        assert (field.enum_type and field.enum_type.full_name) == (other.enum_type and other.enum_type.full_name)
        if field.message_type is not None:
            same_fields(field.message_type, other.message_type, seen)


def test_grpc_protos_have_tensorflow_servings_names_and_field_numbers():
    from tensorflow.core.framework import types_pb2
    from tensorflow.core.protobuf import meta_graph_pb2
    from tensorflow_serving.apis import get_model_metadata_pb2, model_pb2, predict_pb2

    from fer.serving import protos
    pairs = [(protos.ModelSpec, model_pb2.ModelSpec), (protos.PredictRequest, predict_pb2.PredictRequest),
             (protos.PredictResponse, predict_pb2.PredictResponse),
             (protos.GetModelMetadataRequest, get_model_metadata_pb2.GetModelMetadataRequest),
             (protos.GetModelMetadataResponse, get_model_metadata_pb2.GetModelMetadataResponse),
             (protos.SignatureDefMap, get_model_metadata_pb2.SignatureDefMap),
             (protos.SignatureDef, meta_graph_pb2.SignatureDef)]
    seen: set = set()
    for mine, theirs in pairs:
        same_fields(mine.DESCRIPTOR, theirs.DESCRIPTOR, seen)
    assert {"tensorflow.TensorProto", "tensorflow.TensorShapeProto.Dim", "tensorflow.TensorInfo",
            "tensorflow.serving.PredictRequest.InputsEntry"} <= seen
    for name, number in protos.DATA_TYPES.items():
        assert types_pb2.DataType.Value(name) == number
    # a private pool and other file names: TensorFlow's own protos, loaded here too, are untouched
    assert protos.TensorProto.DESCRIPTOR.file.name != "tensorflow/core/framework/tensor.proto"
    assert protos.TensorProto.DESCRIPTOR.file.pool is not predict_pb2.DESCRIPTOR.pool


def test_grpc_protos_read_and_write_what_tensorflow_does():
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    from fer.serving import protos
    batch = np.random.default_rng(0).uniform(0, 255, (3, 48, 48, 1)).astype(np.float32)
    request = protos.PredictRequest()
    request.model_spec.name, request.model_spec.version.value = "fer_model", 7
    request.model_spec.signature_name = "serving_default"
    request.inputs["pixels"].CopyFrom(protos.tensor_proto(batch))
    theirs = predict_pb2.PredictRequest.FromString(request.SerializeToString())
    assert (theirs.model_spec.name, theirs.model_spec.version.value, theirs.model_spec.signature_name) == \
           ("fer_model", 7, "serving_default")
    assert theirs.model_spec.WhichOneof("version_choice") == "version"
    np.testing.assert_array_equal(tf.make_ndarray(theirs.inputs["pixels"]), batch)
    assert theirs.inputs["pixels"] == tf.make_tensor_proto(batch)  # the very bytes TensorFlow writes
    labelled = protos.PredictRequest(model_spec=protos.ModelSpec(name="fer_model", version_label="stable"))
    labelled_theirs = predict_pb2.PredictRequest.FromString(labelled.SerializeToString())
    assert labelled_theirs.model_spec.WhichOneof("version_choice") == "version_label"
    assert labelled_theirs.model_spec.version_label == "stable"

    probabilities = np.random.default_rng(1).dirichlet(np.ones(7), 5).astype(np.float32)
    as_values = tf.make_tensor_proto(probabilities)
    as_values.ClearField("tensor_content")
    as_values.float_val.extend(probabilities.ravel().tolist())
    replies = {"tensor_content": tf.make_tensor_proto(probabilities), "float_val": as_values,
               "one float_val, broadcast": tf.make_tensor_proto(0.25, tf.float32, [2, 7]),
               "float64": tf.make_tensor_proto(probabilities.astype(np.float64))}
    for case, tensor in replies.items():
        reply = predict_pb2.PredictResponse()
        reply.outputs["probabilities"].CopyFrom(tensor)
        reply.model_spec.version.value = 1
        mine = protos.PredictResponse.FromString(reply.SerializeToString())
        assert mine.model_spec.version.value == 1
        np.testing.assert_array_equal(protos.to_ndarray(mine.outputs["probabilities"]), tf.make_ndarray(tensor),
                                      err_msg=case)


BFLOAT16_CHECK = """
import json, sys
import numpy as np
from fer.serving.client import LocalModel
faces = np.random.default_rng(0).integers(0, 255, (64, 48, 48, 1)).astype("float32")
exact = LocalModel(sys.argv[1]).predict(faces)  # float32 first: the bfloat16 pass is process-wide from then on
rounded = LocalModel(sys.argv[1], precision="bfloat16").predict(faces)
print(json.dumps({"agree": float((exact.argmax(1) == rounded.argmax(1)).mean()),
                  "difference": float(np.abs(exact - rounded).max())}))
"""


@pytest.mark.skipif(not has_native_bfloat16(), reason="this CPU has no AVX512-BF16 or AMX: bfloat16 is emulated here")
def test_a_savedmodel_run_in_bfloat16_agrees_with_float32():
    """The committed model in a fresh process (the oneDNN bfloat16 pass is a process-wide option)."""
    run = subprocess.run([sys.executable, "-c", BFLOAT16_CHECK, str(REPO / "serving/models/fer_model")],
                         capture_output=True, text=True, check=True, cwd=REPO)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["agree"] >= 0.95 and 0 < result["difference"] < 0.05, result


def test_the_committed_fast_model_in_int8_reads_real_faces_as_in_float32(shared_datasets):
    faces = np.stack([face for emotion in ("angry", "happy", "sad", "surprise", "neutral")
                      for face in fer_faces(shared_datasets, f"test/{emotion}/PrivateTest", count=40)])[..., None]
    exact = LocalModel(REPO / "serving/models/fer_fast").predict(faces.astype(np.float32))
    rounded = LocalModel(REPO / "serving/models/fer_fast", precision="int8").predict(faces)
    assert (exact.argmax(1) == rounded.argmax(1)).mean() >= 0.98  # measured: 1.0 (int8 weights, per-batch ranges)
    assert np.abs(exact - rounded).max() < 0.05 and np.allclose(rounded.sum(1), 1, atol=1e-5)


def test_auto_precision_runs_the_int8_model_where_the_export_has_one(tmp_path, monkeypatch):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # as an AVX2-only CPU: no native bfloat16, no AMX
    version = tmp_path / "fer_fast" / "1"
    version.mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"")
    assert local_precision("auto", tmp_path / "fer_fast") == "float32"
    (version / INT8_FILE).write_bytes(b"")
    assert local_precision("auto", tmp_path / "fer_fast") == local_precision("auto", version) == "int8"
    assert local_precision("bfloat16", version) == "bfloat16"  # asked for: kept
    with pytest.raises(ServingError, match="no int8 model"):
        LocalModel(REPO / "serving/models/fer_model", precision="int8")


def test_only_a_savedmodel_in_float32_or_bfloat16_needs_tensorflow_here():
    assert needs_tensorflow("serving/models/fer_model", "float32") and needs_tensorflow("m", "bfloat16")
    assert not needs_tensorflow("serving/models/fer_fast", "int8")
    assert not any(needs_tensorflow(url, "float32") for url in ("http://h:8501", "https://h", "grpc://h:8500"))
