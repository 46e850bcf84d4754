"""fer.client against small real HTTP servers on loopback that misbehave on purpose."""
from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from aiohttp import web

from fer.client import connect
from fer.model_repository import ServingError
from tests.test_server import free_port


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
    probabilities = connect(start(app), retries=3).predict(np.zeros((3, 48, 48, 1)))
    assert probabilities.shape == (3, 7) and calls == [3, 3, 3]


def test_rest_client_gives_up_after_its_retries_with_the_server_message():
    async def predict(request: web.Request) -> web.Response:
        return web.json_response({"error": "model is reloading"}, status=503)

    app = web.Application()
    app.router.add_post("/v1/models/fer_model:predict", predict)
    with pytest.raises(ServingError, match="503.*model is reloading"):
        connect(start(app), retries=1).predict(np.zeros((1, 48, 48, 1)))


def test_unreachable_server_and_bad_url_are_named():
    with pytest.raises(ServingError, match=f"127.0.0.1:{(port := free_port())}"):
        connect(f"http://127.0.0.1:{port}", retries=0, timeout_s=2).predict(np.zeros((1, 48, 48, 1)))
    with pytest.raises(ServingError, match="UNAVAILABLE"):
        connect(f"grpc://127.0.0.1:{port}", retries=0, timeout_s=2).predict(np.zeros((1, 48, 48, 1)))
    with pytest.raises(ValueError, match="ftp://x"):
        connect("ftp://x")
