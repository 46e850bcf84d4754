"""fer.serving.client imports no TensorFlow or Keras, neither at import nor calling a real `fer serve`
over REST or gRPC; its answers are the ones TensorFlow Serving's own protos get from that server."""
from __future__ import annotations

import json
import subprocess
import sys

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

from tests.conftest import REPO
from tests.servers import start_server

HEAVY = ("tensorflow", "keras", "tensorflow_serving")

# Run in a fresh interpreter: imports the client, maybe calls the server, then prints which heavy
# modules were imported, and saves the predictions to argv[3].
CLIENT = f"""
import json, sys
import numpy as np
from fer.serving.client import connect
url, pixels, out = sys.argv[1], sys.argv[2], sys.argv[3]
answers = {{}}
if url:
    client = connect(url, batch_size=8)
    answers["probabilities"] = client.predict(np.load(pixels))
    if url.startswith("grpc://"):
        metadata = client.metadata()
        signature = client.signature_defs().signature_def["serving_default"]
        answers["version"] = np.asarray(metadata.model_spec.version.value)
        answers["input_dims"] = np.asarray([d.size for d in signature.inputs["pixels"].tensor_shape.dim])
        answers["input_dtype"] = np.asarray(signature.inputs["pixels"].dtype)
    else:
        answers["version"] = np.asarray(int(client.metadata()["model_spec"]["version"]))
        answers["state"] = np.asarray(client.status()["model_version_status"][0]["state"])
    np.savez(out, **answers)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r}
                        or m.startswith("fer.learn"))))
"""


def run_client(tmp_path, url: str = "", pixels: np.ndarray | None = None) -> tuple[list[str], dict]:
    """The modules a fresh client process imported, and what it got from ``url``."""
    np.save(tmp_path / "pixels.npy", np.zeros((1, 48, 48, 1), np.float32) if pixels is None else pixels)
    done = subprocess.run([sys.executable, "-c", CLIENT, url, str(tmp_path / "pixels.npy"), str(tmp_path / "out.npz")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    answers = dict(np.load(tmp_path / "out.npz")) if url else {}
    return json.loads(done.stdout.splitlines()[-1]), answers


@pytest.fixture(scope="module")
def live(served_models, tmp_path_factory):
    """`fer serve` (which itself uses TensorFlow) on the tiny model, and its gRPC answers for 20 faces
    obtained with tensorflow_serving's protos, as the client did before."""
    models_root, images = served_models
    log = tmp_path_factory.mktemp("imports") / "server.log"
    process, url, grpc_url = start_server(["--model_name=fer_model", f"--model_base_path={models_root / 'fer_model'}"],
                                          log)
    pixels = images[:20, ..., None].astype(np.float32)
    with grpc.insecure_channel(grpc_url.removeprefix("grpc://")) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = predict_pb2.PredictRequest()
        request.model_spec.name, request.model_spec.signature_name = "fer_model", "serving_default"
        request.inputs["pixels"].CopyFrom(tf.make_tensor_proto(pixels))
        reply = stub.Predict(request, timeout=60)
        metadata_request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        metadata_request.model_spec.name = "fer_model"
        signatures = get_model_metadata_pb2.SignatureDefMap()
        assert stub.GetModelMetadata(metadata_request, timeout=60).metadata["signature_def"].Unpack(signatures)
    yield {"url": url, "grpc": grpc_url, "pixels": pixels,
           "expected": tf.make_ndarray(reply.outputs["probabilities"]),
           "signature": signatures.signature_def["serving_default"]}
    process.terminate()
    process.wait(10)


def test_importing_the_client_imports_no_tensorflow_or_keras(tmp_path):
    imported, _ = run_client(tmp_path)
    assert imported == []


def test_rest_client_imports_no_tensorflow_and_gets_the_servers_answers(live, tmp_path):
    imported, answers = run_client(tmp_path, live["url"], live["pixels"])
    assert imported == []
    np.testing.assert_allclose(answers["probabilities"], live["expected"], atol=1e-5)
    assert answers["version"] == 1 and answers["state"] == "AVAILABLE"


def test_grpc_client_imports_no_tensorflow_and_gets_the_servers_answers(live, tmp_path):
    imported, answers = run_client(tmp_path, live["grpc"], live["pixels"])
    assert imported == []
    np.testing.assert_allclose(answers["probabilities"], live["expected"], atol=1e-5)
    assert answers["probabilities"].shape == (20, 7) and answers["probabilities"].dtype == np.float32
    pixels = live["signature"].inputs["pixels"]
    assert answers["version"] == 1 and answers["input_dtype"] == pixels.dtype == tf.float32.as_datatype_enum
    assert answers["input_dims"].tolist() == [d.size for d in pixels.tensor_shape.dim] == [-1, 48, 48, 1]
