"""Serving latency and throughput: `fer serve` over REST and gRPC against the SavedModel in-process.

One face per request, at 1, 8 and 32 concurrent clients; the in-process rows call the SavedModel's
signature directly from the same number of threads, the floor that server overhead is measured
against. Usage: python bench/serving.py [--requests 400] [--model serving/models/fer_model]
"""
from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fer.tf import import_tensorflow  # noqa: E402

import_tensorflow(verbose=False)  # without TensorFlow's start-up lines (oneDNN, CUDA); TF_CPP_MIN_LOG_LEVEL=0 shows them
import tensorflow as tf  # noqa: E402
from fer.learn.export import load_signature  # noqa: E402
from fer.serving.client import connect  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(call, concurrency: int, requests_total: int) -> tuple[float, float, float]:
    """p50 and p99 latency (ms) and faces/s of ``call(i)`` run ``requests_total`` times."""
    def timed(i: int) -> float:
        started = time.perf_counter()
        call(i)
        return time.perf_counter() - started

    for i in range(concurrency * 2):  # warm-up: connections, graph tracing
        call(i)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = np.array(list(pool.map(timed, range(requests_total))))
    elapsed = time.perf_counter() - started
    return float(np.percentile(latencies, 50) * 1e3), float(np.percentile(latencies, 99) * 1e3), requests_total / elapsed


def start_server(model: Path) -> tuple[subprocess.Popen, str, str]:
    rest, grpc_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "fer.cli", "serve", f"--model_base_path={model}", f"--port={grpc_port}",
         f"--rest_api_port={rest}", "--host=127.0.0.1",
         f"--batching_parameters_file={REPO / 'serving/batching_parameters.txt'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    url = f"http://127.0.0.1:{rest}"
    for _ in range(300):
        try:
            if requests.get(f"{url}/v1/models/fer_model", timeout=1).ok:
                return process, url, f"grpc://127.0.0.1:{grpc_port}"
        except requests.ConnectionError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400, help="requests per row")
    parser.add_argument("--model", type=Path, default=REPO / "serving/models/fer_model")
    args = parser.parse_args()
    version = max(int(p.name) for p in args.model.iterdir() if p.name.isdigit())
    faces = np.random.default_rng(0).integers(0, 256, (64, 48, 48, 1)).astype(np.float32)

    signature = load_signature(args.model / str(version))
    rows = []
    for concurrency in (1, 8, 32):
        rows.append(("in-process SavedModel", concurrency, *measure(
            lambda i: signature(pixels=tf.constant(faces[i % 64:i % 64 + 1])), concurrency, args.requests)))
    process, rest_url, grpc_url = start_server(args.model)
    try:
        for name, url in (("fer serve, REST", rest_url), ("fer serve, gRPC", grpc_url)):
            for concurrency in (1, 8, 32):
                clients = [connect(url) for _ in range(concurrency)]
                rows.append((name, concurrency, *measure(
                    lambda i: clients[i % concurrency].predict(faces[i % 64:i % 64 + 1]), concurrency, args.requests)))
    finally:
        process.terminate()
    print(f"model {args.model.name} version {version}, one face per request, {args.requests} requests per row")
    print(f"{'server':24} {'clients':>7} {'p50 ms':>8} {'p99 ms':>8} {'faces/s':>8}")
    for name, concurrency, p50, p99, rate in rows:
        print(f"{name:24} {concurrency:7d} {p50:8.1f} {p99:8.1f} {rate:8.0f}")


if __name__ == "__main__":
    main()
