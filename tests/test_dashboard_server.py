"""`fer dashboard` as a server: no path traversal (raw HTTP requests), the token, no TensorFlow, and a live
`fer analyze --live` whose lanes grow in Chromium while the test video is analysed."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import requests

from tests.conftest import REPO
from tests.dashboard_fixtures import (MODEL, NON_LOCAL_ABORTED, chromium_path, one_hour_session, start_dashboard, stop,
                                      write_recording)

pytestmark = pytest.mark.slow  # real fer dashboard processes

SECRET = "TOP-SECRET-NOT-A-RESULT"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A dashboard over a results folder holding the one-hour session, with a secret file beside the folder."""
    folder = tmp_path_factory.mktemp("served")
    one_hour_session(folder / "results")
    (folder / "secret.txt").write_text(SECRET)
    process, url = start_dashboard([folder / "results"])
    yield folder, url
    stop(process)


def raw_get(url: str, target: str, headers: str = "") -> tuple[int, bytes]:
    """Sends ``GET target`` exactly as written (no client-side normalisation of ``..``)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n\r\n".encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1]), answer


TRAVERSALS = [
    "/static/../../../../../../etc/passwd", "/static/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/static/%2e%2e/%2e%2e/server.py", "/static//etc/passwd", "/static/..\\..\\server.py",
    "/api/video?id=../../../../etc/passwd", "/api/video?id=/etc/passwd", "/api/frame?id=../secret.txt&t=0",
    "/api/session?id=../secret.txt", "/api/annotations?id=../../secret", "/../secret.txt", "/%2e%2e/secret.txt",
    "/static/../../secret.txt", "/api/video?id=one-hour/../../secret.txt", "/api/video?id=ABSOLUTE",
    "/static/ABSOLUTE", "/sessionABSOLUTE",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_paths_outside_what_is_served_are_refused(served, target):
    folder, url = served
    status, answer = raw_get(url, target.replace("ABSOLUTE", str(folder / "secret.txt")))
    page = target.startswith("/session") and status == 200 and b"<!DOCTYPE html>" in answer  # the page, no file
    assert status in (400, 403, 404) or page, (target, answer[:300])
    assert SECRET.encode() not in answer and b"root:x:0:0" not in answer and b"def make_app" not in answer


def test_what_is_served_is_served(served):
    _, url = served
    assert raw_get(url, "/static/uPlot.iife.min.js")[0] == 200
    assert raw_get(url, "/session/one-hour")[0] == 200
    status, answer = raw_get(url, "/api/session?id=one-hour")
    assert status == 200 and b'"one-hour"' in answer
    status, answer = raw_get(url, "/api/video?id=one-hour")  # its recording was not copied: an error, no file
    assert status == 404 and b"missing-hour.mp4 is missing" in answer


def test_another_interface_needs_a_token_and_requests_must_carry_it(served):
    folder, _ = served
    refused = subprocess.run([sys.executable, "-m", "fer.cli", "dashboard", str(folder / "results"), "--host",
                              "0.0.0.0", "--port", "0"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "--token" in refused.stderr
    process, url = start_dashboard([folder / "results"], "--token", "s3cret")
    try:
        assert raw_get(url, "/api/list")[0] == 401
        assert raw_get(url, "/api/list?token=wrong")[0] == 401
        status, answer = raw_get(url, "/?token=s3cret")
        assert status == 200 and b"fer_dashboard_token=s3cret" in answer and b"HttpOnly" in answer
        assert raw_get(url, "/api/list", "Cookie: fer_dashboard_token=s3cret\r\n")[0] == 200
        assert raw_get(url, "/api/list", "Authorization: Bearer s3cret\r\n")[0] == 200
    finally:
        stop(process)


HEAVY = ("tensorflow", "keras", "tensorflow_serving")
IMPORTS = f"""
import json, sys
from pathlib import Path
from fer.cli.main import build_parser
from fer.dashboard.server import make_app
from fer.dashboard.catalog import Catalog
build_parser()
make_app([Path(sys.argv[1])])
sessions = Catalog([Path(sys.argv[1])]).sessions()
print(json.dumps([len(sessions), sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})]))
"""


def test_the_dashboard_imports_no_tensorflow(served):
    folder, _ = served
    done = subprocess.run([sys.executable, "-c", IMPORTS, str(folder / "results")], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [1, []]


def test_a_live_analysis_grows_in_the_page_and_then_reads_as_finished(tmp_path):
    chromium = chromium_path()
    if chromium is None:
        pytest.skip("no `chromium` on PATH (.ci/run installs Debian's chromium with apt-get)")
    from playwright.sync_api import sync_playwright
    video = write_recording(tmp_path / "playtest.webm", [(50, True), (10, False), (60, True)], "VP80", size=(320, 240))
    out = tmp_path / "results"
    out.mkdir()
    process, url = start_dashboard([out])
    analysis = subprocess.Popen([sys.executable, "-m", "fer.cli", "analyze", str(video), "--out", str(out), "--live",
                                 "--model", str(MODEL), "--sample-fps", "10", "--batch-size", "2", "--quiet"],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not any(s["live"] for s in _listing(url)["sessions"]):
            assert analysis.poll() is None, f"the analysis ended before it was seen live:\n{analysis.stdout.read()}"
            assert time.monotonic() < deadline, "no live session appeared"
            time.sleep(0.2)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                                 args=["--disable-gpu", *NON_LOCAL_ABORTED])
            page = browser.new_page()
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.set_default_timeout(120_000)
            page.goto(f"{url}/session/playtest")
            page.wait_for_selector("#live-badge")
            page.wait_for_function("() => window.__lanes && window.__lanes.data.visibility.time_s.length > 0")
            first = page.evaluate("window.__lanes.data.visibility.time_s.length")
            page.wait_for_function(f"() => window.__lanes.data.visibility.time_s.length > {first + 20}"
                                   " && document.querySelector('#live-badge')")
            grown = page.evaluate("""() => ({frames: window.__lanes.data.visibility.time_s.length,
              points: window.__lanes.charts[0].data[0].length, status: document.querySelector('#status').textContent})""")
            assert grown["points"] > 0 and "live" in grown["status"]
            # the analysis ends: the page reloads as the finished session, read like any other
            page.wait_for_function("() => !document.querySelector('#live-badge') && window.__lanes"
                                   " && document.querySelector('video#recording')")
            summary = json.loads((out / "playtest" / "summary.json").read_text())
            assert page.evaluate("window.__lanes.data.visibility.time_s.length") == summary["sampled_frames"] == 1200
            assert not (out / ".live" / "playtest").exists() and not errors, errors
            browser.close()
        assert analysis.wait(60) == 0
    finally:
        if analysis.poll() is None:
            analysis.kill()
        stop(process)


def _listing(url: str) -> dict:
    try:
        with urllib.request.urlopen(f"{url}/api/list", timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.URLError:
        return {"sessions": []}


def test_another_site_can_neither_write_nor_read_through_dns_rebinding(served):
    _, url = served
    note = {"time_s": 1.0, "kind": "marker", "text": "from a web page"}
    target = f"{url}/api/annotations?id=one-hour"
    cross = requests.post(target, data=json.dumps(note), headers={"Origin": "http://evil.example",
                                                                  "Content-Type": "text/plain"}, timeout=10)
    assert cross.status_code == 403 and "evil.example" in cross.json()["error"]
    fetched = requests.post(target, json=note, headers={"Sec-Fetch-Site": "cross-site"}, timeout=10)
    assert fetched.status_code == 403
    assert requests.get(target, timeout=10).json()["annotations"] == []  # nothing was written
    host, port = url.removeprefix("http://").split(":")
    for name in ("evil.example", "192.168.1.20"):  # a page's own name, rebound to 127.0.0.1
        rebound = requests.get(f"{url}/api/session?id=one-hour", headers={"Host": f"{name}:{port}"}, timeout=10)
        assert rebound.status_code == 403 and "one-hour" not in rebound.text
    own = requests.post(target, json=note, headers={"Origin": url}, timeout=10)
    assert own.status_code == 201
    assert requests.get(f"http://localhost:{port}/api/list", timeout=10).status_code == 200


@pytest.mark.parametrize("body,reason", [(b'{"time_s": ' + b"9" * 5000 + b"}", "Exceeds the limit"),
                                         (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
                                         (b'{"time_s": 1', "Expecting")])
def test_malformed_annotation_bodies_get_400_with_a_reason(served, body, reason):
    _, url = served
    reply = requests.post(f"{url}/api/annotations?id=one-hour", data=body, timeout=10)
    assert reply.status_code == 400 and reason in reply.json()["error"], reply.text[:300]


@pytest.mark.parametrize("offset", ["abc", "-5", "1.5"])
def test_a_malformed_stream_offset_gets_400(served, offset):
    _, url = served
    reply = requests.get(f"{url}/api/stream?id=one-hour&offset={offset}", timeout=10)
    assert reply.status_code == 400 and "offset" in reply.json()["error"]
