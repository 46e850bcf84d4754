"""`fer serve` meeting what breaks servers: broken, half-copied and missing versions, requests that would
take the machine's memory, slow clients, connection bursts, and a restart under a waiting client."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
import requests
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from fer.serving.client import GrpcClient, RestClient
from tests.conftest import REPO
from tests.servers import served_version, start_server, stop, wait_for_version

pytestmark = pytest.mark.slow  # real fer serve processes, restarted

COMMITTED_MODEL = REPO / "serving" / "models" / "fer_model"


def model_status(url: str) -> list[dict]:
    return requests.get(f"{url}/v1/models/fer_model", timeout=10).json()["model_version_status"]


def copy_version(source: Path, target: Path) -> None:
    staging = target.with_name(target.name + ".staging")
    shutil.copytree(source, staging)
    staging.rename(target)  # appears at once, as a deploy should


def test_a_broken_or_half_copied_newest_version_never_unloads_the_served_one(served_models, tmp_path):
    """TF Serving's rule: a version that fails to load leaves the available one serving, and the status API
    says why it failed; it is tried again once any of its files changes (a half-copied version's variables
    arriving)."""
    models_root, images = served_models
    base = tmp_path / "fer_model"
    shutil.copytree(models_root / "fer_model" / "1", base / "2")
    process, url, _ = start_server([f"--model_base_path={base}", "--file_system_poll_wait_seconds=0.2"],
                                   tmp_path / "server.log")
    try:
        wait_for_version(url, "2")
        (base / "3").mkdir()
        (base / "3" / "saved_model.pb").write_bytes((base / "2" / "saved_model.pb").read_bytes()[:1000])  # truncated
        time.sleep(2)  # ten polls
        assert served_version(url) == "2"
        body = json.dumps({"instances": images[:2, ..., None].astype(float).tolist()})
        assert requests.post(f"{url}/v1/models/fer_model:predict", data=body, timeout=30).status_code == 200
        assert f"cannot load fer_model version 3 from {base / '3'}" in (tmp_path / "server.log").read_text()
        available, failed = model_status(url)
        assert available == {"version": "2", "state": "AVAILABLE", "status": {"error_code": "OK",
                                                                             "error_message": ""}}
        assert failed["version"] == "3" and failed["state"] == "END"
        assert failed["status"]["error_code"] != "OK" and str(base / "3") in failed["status"]["error_message"]

        shutil.copy(base / "2" / "saved_model.pb", base / "3" / "saved_model.pb")  # half-copied: no variables yet
        time.sleep(2)
        assert served_version(url) == "2"
        for item in (base / "2").iterdir():  # then the rest arrives
            if item.is_dir():
                shutil.copytree(item, base / "3" / item.name)
            elif item.name != "saved_model.pb":
                shutil.copy(item, base / "3" / item.name)
        wait_for_version(url, "3")
        assert [s["version"] for s in model_status(url)] == ["3"]
    finally:
        stop(process)


def test_a_version_that_failed_is_retried_after_the_back_off(served_models, tmp_path):
    """A failure that goes away without any file changing (the files look the same: same sizes and times) is
    cured by the retry after --load_retry_interval_micros."""
    models_root, _ = served_models
    base = tmp_path / "fer_model"
    shutil.copytree(models_root / "fer_model" / "1", base / "1")
    good = (base / "1" / "saved_model.pb").read_bytes()
    staging = tmp_path / "2"
    shutil.copytree(base / "1", staging)
    (staging / "saved_model.pb").write_bytes(bytes(len(good)))  # the same size, unreadable
    stat = (staging / "saved_model.pb").stat()
    staging.rename(base / "2")
    process, url, _ = start_server([f"--model_base_path={base}", "--file_system_poll_wait_seconds=0.2",
                                    "--load_retry_interval_micros=3000000"], tmp_path / "server.log")
    try:
        assert [s["state"] for s in model_status(url)] == ["AVAILABLE", "END"]
        (base / "2" / "saved_model.pb").write_bytes(good)
        os.utime(base / "2" / "saved_model.pb", ns=(stat.st_atime_ns, stat.st_mtime_ns))
        wait_for_version(url, "2", timeout_s=30)
        assert "retry 1 of 5 in 3 s" in (tmp_path / "server.log").read_text()
    finally:
        stop(process)


def test_a_missing_base_path_is_logged_and_served_once_it_appears(served_models, tmp_path):
    models_root, _ = served_models
    base = tmp_path / "models" / "fer_model"
    process, url, _ = start_server([f"--model_base_path={base}", "--file_system_poll_wait_seconds=0.2"],
                                   tmp_path / "server.log", ready="any")
    try:
        reply = requests.get(f"{url}/v1/models/fer_model", timeout=10)
        assert reply.status_code == 404 and "Could not find any versions" in reply.json()["error"]
        assert f"the base path {base} of model fer_model does not exist" in (tmp_path / "server.log").read_text()
        base.mkdir(parents=True)
        time.sleep(1)
        assert "no version of model fer_model found under its base path" in (tmp_path / "server.log").read_text()
        copy_version(models_root / "fer_model" / "1", base / "1")
        wait_for_version(url, "1")
    finally:
        stop(process)


def memory_kib(process, field: str) -> int:
    """VmRSS (resident now) or VmHWM (the highest resident so far) of a process, from /proc."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{process.pid}/status")


def grpc_predict(grpc_url: str, tensor_shape: list[int], values: np.ndarray | None = None):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "fer_model"
    tensor = request.inputs["pixels"]
    tensor.dtype = 1  # DT_FLOAT
    for size in tensor_shape:
        tensor.tensor_shape.dim.add(size=size)
    if values is not None:
        tensor.tensor_content = values.astype("<f4").tobytes()
    with grpc.insecure_channel(grpc_url.removeprefix("grpc://")) as channel:
        return prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=60)


def test_requests_are_capped_and_split_so_memory_stays_bounded_and_small_ones_are_not_starved(tmp_path):
    """The committed model: a 46-byte gRPC request promising 5,000 faces, one promising 1,000 with no values,
    and a request over the face cap are refused before any array is made; the largest allowed request is run
    in batches while a one-face request is answered long before it; resident memory stays bounded."""
    process, url, grpc_url = start_server([f"--model_base_path={COMMITTED_MODEL}"], tmp_path / "server.log")
    rng = np.random.default_rng(0)
    try:
        assert RestClient(url).predict(rng.integers(0, 255, (64, 48, 48, 1))).shape == (64, 7)  # warm
        baseline = memory_kib(process, "VmRSS")

        for shape, message in (([5000, 48, 48, 1], "holds 5000 faces; a request may hold at most 1024"),
                               ([1000, 48, 48, 1], "needs 2304000 values, but carries 0")):
            with pytest.raises(grpc.RpcError) as refused:
                grpc_predict(grpc_url, shape)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert message in refused.value.details()
        with pytest.raises(grpc.RpcError, match="but carries 2303"):
            grpc_predict(grpc_url, [1, 48, 48, 1], np.zeros(2303))

        finished = {}

        def predict(name: str, faces: int) -> None:
            body = json.dumps({"instances": rng.integers(0, 255, (faces, 48, 48, 1)).tolist()})
            reply = requests.post(f"{url}/v1/models/fer_model:predict", data=body, timeout=300)
            finished[name] = (time.monotonic(), reply.status_code, len(reply.json().get("predictions", [])))

        large = threading.Thread(target=predict, args=("large", 1024))
        large.start()
        time.sleep(1.5)  # the large request is being run, batch after batch
        predict("small", 1)
        large.join()
        assert finished["large"][1:] == (200, 1024) and finished["small"][1:] == (200, 1)
        assert finished["small"][0] < finished["large"][0]
        over = requests.post(f"{url}/v1/models/fer_model:predict",
                             data=json.dumps({"instances": np.zeros((1025, 48, 48, 1), int).tolist()}), timeout=60)
        assert over.status_code == 400 and "at most 1024" in over.json()["error"]
        peak = memory_kib(process, "VmHWM")
        print(f"server memory: {baseline / 1024:.0f} MiB after warm-up, peak {peak / 1024:.0f} MiB")
        assert peak - baseline < 1024 * 1024, "the requests raised the server's memory by over 1 GiB"
    finally:
        stop(process)


@pytest.fixture(scope="module")
def quick_server(served_models, tmp_path_factory):
    """The tiny model, served with a 1 s REST timeout."""
    models_root, images = served_models
    folder = tmp_path_factory.mktemp("quick")
    process, url, _ = start_server([f"--model_base_path={models_root / 'fer_model'}", "--rest_api_timeout_in_ms=1000"],
                                   folder / "server.log")
    yield url
    stop(process)


def host_port(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def test_a_client_that_stops_sending_its_body_gets_408(quick_server):
    with socket.create_connection(host_port(quick_server), timeout=10) as connection:
        connection.sendall(b"POST /v1/models/fer_model:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        started = time.monotonic()
        reply = connection.recv(4096).decode()
        assert reply.startswith("HTTP/1.1 408") and "did not arrive within 1 s" in reply
        assert time.monotonic() - started < 5


def test_a_client_that_stops_sending_its_request_head_is_disconnected(quick_server):
    with socket.create_connection(host_port(quick_server), timeout=10) as connection:
        connection.sendall(b"POST /v1/models/fer_model:predict HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        assert connection.recv(4096) == b""  # closed by the server
        assert time.monotonic() - started < 5


def test_a_burst_of_1500_connections_is_answered(quick_server):
    host, port = host_port(quick_server)

    async def status() -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /v1/models/fer_model HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await writer.drain()
        reply = await reader.read()
        writer.close()
        return reply[:12]

    async def burst() -> list:
        return await asyncio.gather(*(status() for _ in range(1500)), return_exceptions=True)

    replies = asyncio.run(burst())
    failures = [r for r in replies if r != b"HTTP/1.1 200"]
    assert not failures, f"{len(failures)} of 1500 failed, e.g. {failures[:3]}"


def test_clients_wait_for_a_restarting_server(served_models, tmp_path):
    """A client that calls while the server is down (restarting) is answered once it is back."""
    models_root, images = served_models
    arguments = [f"--model_base_path={models_root / 'fer_model'}"]
    process, url, grpc_url = start_server(arguments, tmp_path / "first.log")
    stop(process)
    results = {}

    def call(name, client) -> None:
        try:
            results[name] = client.predict(images[:3, ..., None]).shape
        except Exception as error:
            results[name] = error

    callers = [threading.Thread(target=call, args=("rest", RestClient(url, retry_for_s=90))),
               threading.Thread(target=call, args=("grpc", GrpcClient(grpc_url.removeprefix("grpc://"),
                                                                      retry_for_s=90)))]
    for caller in callers:
        caller.start()
    time.sleep(2)
    assert not results, "the clients gave up while the server was down"
    rest_port, grpc_port = host_port(url)[1], int(grpc_url.rsplit(":", 1)[1])
    process, _, _ = start_server(arguments, tmp_path / "second.log", ports=(rest_port, grpc_port))
    try:
        for caller in callers:
            caller.join(120)
        assert results == {"rest": (3, 7), "grpc": (3, 7)}
    finally:
        stop(process)


@pytest.mark.parametrize("body,reason", [(b'{"instances": [' + b"9" * 5000 + b"]}", "Exceeds the limit"),
                                         (b'{"instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
                                         (b'{"instances": [1, 2', "JSON Parse error")])
def test_json_that_pythons_parser_rejects_gets_400_with_a_reason(quick_server, body, reason):
    reply = requests.post(f"{quick_server}/v1/models/fer_model:predict", data=body, timeout=30)
    assert reply.status_code == 400 and reason in reply.json()["error"], reply.text[:300]
