"""`fer serve` started as a real process on free loopback ports, for the server tests."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(arguments: list[str], log_path: Path, ready: str = "/v1/models/fer_model",
                 ports: tuple[int, int] | None = None) -> tuple[subprocess.Popen, str, str]:
    """`fer serve` on loopback ports (REST, gRPC; free ones unless given), once GET ``ready`` answers 200, or
    once the model status answers at all if ``ready`` is "any"; returns the process, its REST URL and its
    gRPC URL."""
    rest_port, grpc_port = ports or (free_port(), free_port())
    log = open(log_path, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "fer.cli", "serve", *arguments, f"--port={grpc_port}", f"--rest_api_port={rest_port}",
         "--host=127.0.0.1"], stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    url = f"http://127.0.0.1:{rest_port}"
    deadline = time.time() + 120
    while True:
        try:
            reply = requests.get(f"{url}{'/v1/models/fer_model' if ready == 'any' else ready}", timeout=1)
            if reply.ok or ready == "any":
                return process, url, f"grpc://127.0.0.1:{grpc_port}"
        except requests.ConnectionError:
            pass
        assert process.poll() is None and time.time() < deadline, open(log_path).read()
        time.sleep(0.3)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(10)


def served_version(url: str) -> str:
    return requests.get(f"{url}/v1/models/fer_model/metadata", timeout=10).json()["model_spec"]["version"]


def wait_for_version(url: str, version: str, timeout_s: float = 60) -> None:
    deadline = time.time() + timeout_s
    while (reply := requests.get(f"{url}/v1/models/fer_model/metadata", timeout=10)).status_code != 200 \
            or reply.json()["model_spec"]["version"] != version:
        assert time.time() < deadline, f"version {version} was not served: {reply.status_code} {reply.text[:300]}"
        time.sleep(0.3)
