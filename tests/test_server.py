"""`fer serve` as a real process on loopback, called over real HTTP and gRPC by fer.serving.client."""
from __future__ import annotations

import json
import shutil
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
import tensorflow as tf
from tensorflow_serving.apis import get_model_status_pb2, model_service_pb2_grpc

from fer.contract import ServingError
from fer.learn.export import load_signature
from fer.serving.client import GrpcClient, RestClient, connect
from tests.conftest import REPO
from tests.servers import start_server

pytestmark = pytest.mark.slow  # real fer serve processes


@pytest.fixture(scope="module")
def server(served_models, tmp_path_factory):
    """The server, configured by serving/models.config with base paths pointed at the tiny models."""
    models_root, images = served_models
    live = tmp_path_factory.mktemp("live")
    base = live / "fer_model"
    config = (REPO / "serving/models.config").read_text()
    for name in ("fer_model", "fer_fast"):
        shutil.copytree(models_root / name, live / name)
        config = config.replace(f'"/models/{name}"', f'"{live / name}"')
    config_file = base.parent / "models.config"
    config_file.write_text(config)
    process, url, grpc_url = start_server(
        [f"--model_config_file={config_file}", "--file_system_poll_wait_seconds=0.2",
         f"--batching_parameters_file={REPO / 'serving/batching_parameters.txt'}",
         f"--monitoring_config_file={REPO / 'serving/monitoring.config'}"], base.parent / "server.log")
    expected = load_signature(base / "1")(pixels=tf.constant(images[:, ..., None].astype(np.float32)))
    fast = load_signature(live / "fer_fast" / "1")(pixels=tf.constant(images[:, ..., None].astype(np.float32)))
    yield {"url": url, "grpc": grpc_url, "base": base, "images": images,
           "expected": expected["probabilities"].numpy(), "expected_fast": fast["probabilities"].numpy()}
    process.terminate()
    process.wait(10)


def post(server, body, path="/v1/models/fer_model:predict") -> requests.Response:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(server["url"] + path, data=data, timeout=60)


def faces(server, n: int) -> list:
    return server["images"][:n, ..., None].astype(float).tolist()


def test_model_status_matches_tf_serving(server):
    expected = {"model_version_status": [{"version": "1", "state": "AVAILABLE",
                                          "status": {"error_code": "OK", "error_message": ""}}]}
    for path in ("", "/versions/1", "/labels/stable"):
        reply = requests.get(f"{server['url']}/v1/models/fer_model{path}", timeout=10)
        assert reply.status_code == 200 and reply.json() == expected


def test_both_models_of_the_config_are_served_each_under_its_name(server):
    accurate = post(server, {"instances": faces(server, 4)}).json()["predictions"]
    fast = post(server, {"instances": faces(server, 4)}, "/v1/models/fer_fast/labels/stable:predict")
    assert fast.status_code == 200
    fast = np.array(fast.json()["predictions"])
    np.testing.assert_allclose(fast, server["expected_fast"][:4], atol=1e-5)
    np.testing.assert_allclose(accurate, server["expected"][:4], atol=1e-5)
    # the tiny model reads every face almost alike, so its two exports differ by a few 1e-6 only: each name
    # must answer with its own export's probabilities, closer to them than to the other's
    for served, own, other in ((fast, "expected_fast", "expected"), (np.array(accurate), "expected", "expected_fast")):
        assert np.abs(served - server[own][:4]).max() < np.abs(served - server[other][:4]).max()


def test_metadata_describes_the_signature(server):
    reply = requests.get(f"{server['url']}/v1/models/fer_model/metadata", timeout=10).json()
    assert reply["model_spec"] == {"name": "fer_model", "signature_name": "", "version": "1"}
    signature = reply["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["method_name"] == "tensorflow/serving/predict"
    assert signature["inputs"]["pixels"]["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in signature["inputs"]["pixels"]["tensor_shape"]["dim"]] == ["-1", "48", "48", "1"]
    assert [d["size"] for d in signature["outputs"]["probabilities"]["tensor_shape"]["dim"]] == ["-1", "7"]


def test_predict_row_and_columnar_formats_match_the_savedmodel(server):
    rows = post(server, {"instances": faces(server, 5)})
    assert rows.status_code == 200
    np.testing.assert_allclose(rows.json()["predictions"], server["expected"][:5], atol=1e-5)
    named_rows = post(server, {"signature_name": "serving_default",
                               "instances": [{"pixels": face} for face in faces(server, 3)]})
    np.testing.assert_allclose(named_rows.json()["predictions"], server["expected"][:3], atol=1e-5)
    columns = post(server, {"inputs": {"pixels": faces(server, 4)}})
    np.testing.assert_allclose(columns.json()["outputs"], server["expected"][:4], atol=1e-5)
    by_version = post(server, {"inputs": faces(server, 2)}, "/v1/models/fer_model/versions/1:predict")
    np.testing.assert_allclose(by_version.json()["outputs"], server["expected"][:2], atol=1e-5)


BAD_REQUESTS = {
    "malformed JSON": (b'{"instances": [1, 2', 400, "JSON Parse error"),
    "not an object": ([1, 2], 400, "JSON object"),
    "no instances or inputs": ({"signature_name": "serving_default"}, 400, "Missing 'inputs' or 'instances'"),
    "both instances and inputs": ({"instances": [[1]], "inputs": [[1]]}, 400, "Not both"),
    "wrong rank": ({"instances": [[1.0, 2.0]]}, 400, "shape [1, 2]"),
    "wrong size": ({"instances": np.zeros((1, 32, 32, 1)).tolist()}, 400, "shape [1, 32, 32, 1]"),
    "non-numeric values": ({"instances": [[["a"] * 1] * 48] * 1}, 400, "only numbers"),
    "ragged lists": ({"instances": [[[0]] * 48, [[0]] * 47]}, 400, "input 'pixels'"),
    "NaN": (b'{"instances": [' + json.dumps(np.zeros((48, 48, 1)).tolist()).replace("0.0", "NaN", 1).encode()
            + b"]}", 400, "NaN"),
    "wrong input name": ({"inputs": {"image": np.zeros((1, 48, 48, 1)).tolist()}}, 400, "takes inputs"),
    "wrong signature": ({"signature_name": "classify", "instances": np.zeros((1, 48, 48, 1)).tolist()},
                        400, 'Serving signature name: "classify" not found'),
    "JSON nested too deeply to parse": (b'{"instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400,
                                        "nested too deeply"),
    "JSON nested deeper than a tensor": (b'{"instances": ' + b"[" * 500 + b"0" + b"]" * 500 + b"}", 400,
                                         "input 'pixels'"),
    "a boolean among the pixels": (b'{"instances": [' + json.dumps(np.zeros((48, 48, 1)).tolist())
                                   .replace("0.0", "true", 1).encode() + b"]}", 400, "boolean"),
    "over the face cap": ({"instances": [[[[0]]]] * 1025}, 400, "at most 1024 (--max_faces_per_request)"),
}


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_bad_request_gets_a_clear_400_and_the_server_keeps_serving(server, case):
    body, status, message = BAD_REQUESTS[case]
    reply = post(server, body)
    assert reply.status_code == status and message in reply.json()["error"], reply.text
    assert post(server, {"instances": faces(server, 1)}).status_code == 200


def test_unknown_model_version_or_label_is_404(server):
    body = {"instances": faces(server, 1)}
    unknown_model = post(server, body, "/v1/models/nobody:predict")
    assert unknown_model.status_code == 404
    assert unknown_model.json() == {"error": "Servable not found for request: Latest(nobody)"}
    unknown_version = post(server, body, "/v1/models/fer_model/versions/7:predict")
    assert unknown_version.status_code == 404 and "Specific(fer_model, 7)" in unknown_version.json()["error"]
    assert requests.get(f"{server['url']}/v1/models/fer_model/labels/beta", timeout=10).status_code == 400
    assert requests.get(f"{server['url']}/v1/models/nobody", timeout=10).status_code == 404


def test_a_100_mb_body_is_refused_with_413(server):
    reply = post(server, b'{"instances": [' + b"0," * (50 * 1024 * 1024) + b"0]}")
    assert reply.status_code == 413 and "Maximum request body size" in reply.json()["error"]
    assert post(server, {"instances": faces(server, 1)}).status_code == 200


def test_grpc_predict_metadata_and_status(server):
    client = GrpcClient(server["grpc"].removeprefix("grpc://"))
    np.testing.assert_allclose(client.predict(server["images"][:6, ..., None]), server["expected"][:6], atol=1e-5)
    metadata = client.metadata()
    assert metadata.model_spec.version.value == 1 and "signature_def" in metadata.metadata
    stub = model_service_pb2_grpc.ModelServiceStub(client.channel)
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "fer_model"
    status = stub.GetModelStatus(request, timeout=10)
    assert [(s.version, s.state) for s in status.model_version_status] == [(1, 30)]  # 30: AVAILABLE


def test_grpc_errors_carry_the_server_message(server):
    with pytest.raises(ServingError, match="NOT_FOUND.*Latest\\(nobody\\)"):
        GrpcClient(server["grpc"].removeprefix("grpc://"), model="nobody").predict(np.zeros((1, 48, 48, 1)))
    with pytest.raises(ServingError, match="INVALID_ARGUMENT.*shape"):
        GrpcClient(server["grpc"].removeprefix("grpc://")).predict(np.zeros((1, 40, 48, 1)))


def test_clients_batch_large_requests_and_agree_over_rest_and_grpc(server):
    pixels = np.repeat(server["images"][..., None], 4, axis=0)[:530]
    expected = np.repeat(server["expected"], 4, axis=0)[:530]
    for url in (server["url"], server["grpc"]):
        np.testing.assert_allclose(connect(url, batch_size=128).predict(pixels), expected, atol=1e-5)
    columnar = RestClient(server["url"], columnar=True, label="stable")
    np.testing.assert_allclose(columnar.predict(pixels[:10]), expected[:10], atol=1e-5)
    with pytest.raises(ServingError, match="404.*Specific\\(fer_model, 9\\)"):
        RestClient(server["url"], version=9).predict(pixels[:1])


def test_32_concurrent_clients_lose_no_request(server):
    client = RestClient(server["url"])
    indices = [i % len(server["images"]) for i in range(32 * 8)]

    def one(index: int) -> np.ndarray:
        return client.predict(server["images"][index:index + 1, ..., None])[0]

    with ThreadPoolExecutor(32) as pool:
        replies = list(pool.map(one, indices, timeout=300))
    np.testing.assert_allclose(np.stack(replies), server["expected"][indices], atol=1e-5)


def test_a_new_version_is_served_without_restart(server):
    staging = server["base"].parent / "staging"
    shutil.copytree(server["base"] / "1", staging)
    staging.rename(server["base"] / "2")  # appear at once, as a deploy should
    deadline = time.time() + 60
    while requests.get(f"{server['url']}/v1/models/fer_model/versions/2", timeout=5).status_code != 200:
        assert time.time() < deadline, "version 2 was not picked up"
        time.sleep(0.3)
    metadata = requests.get(f"{server['url']}/v1/models/fer_model/metadata", timeout=10).json()
    assert metadata["model_spec"]["version"] == "2"
    stable = requests.get(f"{server['url']}/v1/models/fer_model/labels/stable/metadata", timeout=10).json()
    assert stable["model_spec"]["version"] == "1"
    status = requests.get(f"{server['url']}/v1/models/fer_model", timeout=10).json()
    assert [s["version"] for s in status["model_version_status"]] == ["1", "2"]


def test_prometheus_metrics_count_requests_by_outcome(server):
    post(server, {"instances": faces(server, 1)})
    post(server, {"instances": [1]})
    metrics = requests.get(f"{server['url']}/monitoring/prometheus/metrics", timeout=10)
    assert metrics.status_code == 200 and metrics.headers["Content-Type"].startswith("text/plain")
    counted = {line.split(" ")[0]: float(line.split(" ")[1]) for line in metrics.text.splitlines()
               if line.startswith("fer_serving_requests_total")}
    assert counted['fer_serving_requests_total{api="rest",code="200",method="predict",model="fer_model"}'] >= 1
    assert counted['fer_serving_requests_total{api="rest",code="400",method="predict",model="fer_model"}'] >= 1
    assert "fer_serving_request_latency_seconds_bucket" in metrics.text


def test_sigterm_stops_the_server_cleanly_with_connections_open(served_models, tmp_path):
    """As docker stop and Kubernetes do: SIGTERM with a keep-alive REST connection and a gRPC channel open ends
    the process with status 0 and frees both ports (the time it took is printed, not asserted)."""
    models_root, images = served_models
    process, url, grpc_url = start_server([f"--model_base_path={models_root / 'fer_model'}"], tmp_path / "server.log")
    session = requests.Session()
    assert session.post(f"{url}/v1/models/fer_model:predict", timeout=60,
                        json={"instances": images[:2, ..., None].astype(float).tolist()}).status_code == 200
    connect(f"{grpc_url}/fer_model").predict(images[:2, ..., None].astype(np.float32))
    started = time.time()
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0, (tmp_path / "server.log").read_text()
    print(f"fer serve stopped {time.time() - started:.2f} s after SIGTERM")
    for port in (int(url.rsplit(":", 1)[1]), int(grpc_url.rsplit(":", 1)[1])):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a server binds: TIME_WAIT is no listener
            probe.bind(("127.0.0.1", port))  # nobody listens there any more
