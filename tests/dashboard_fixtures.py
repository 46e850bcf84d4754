"""Real results for the dashboard tests: recordings of a real face (Grace Hopper's photograph, shipped with
matplotlib, so no dataset is needed) written with OpenCV, analysed by the real `fer analyze` code with the
committed model; a one-hour two-player session made by the analysis' own smoothing and summary from
generated probabilities; A/B builds made from the real summary; `fer dashboard` started as a process."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import matplotlib.cbook
import numpy as np
import pandas as pd

from tests.conftest import REPO

FPS, SIZE = 10, (640, 480)
MODEL = REPO / "serving/models/fer_model"
NON_LOCAL_ABORTED = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


def face_photo() -> np.ndarray:
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as file:
        return cv2.imdecode(np.frombuffer(file.read(), np.uint8), cv2.IMREAD_COLOR)


def frame_with_face(face: np.ndarray | None, size=SIZE, shift: int = 0) -> np.ndarray:
    frame = np.full((size[1], size[0], 3), 110, np.uint8)
    if face is not None:
        side = size[1] * 5 // 8
        x, y = (size[0] - side) // 2 + shift, (size[1] - side) // 2
        frame[y:y + side, x:x + side] = cv2.resize(face, (side, side))
    return frame


def write_recording(path: Path, schedule: list[tuple[float, bool]], fourcc: str, size=SIZE, fps: int = FPS) -> Path:
    """``schedule``: (seconds, face shown?) in order; the face moves a little so frames differ."""
    face = face_photo()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert writer.isOpened(), f"OpenCV cannot write {fourcc}"
    index = 0
    for seconds, shown in schedule:
        for _ in range(int(seconds * fps)):
            writer.write(frame_with_face(face if shown else None, size, shift=(index % 20) - 10))
            index += 1
    writer.release()
    return path


def one_hour_session(folder: Path, players: int = 2, sample_fps: float = 2.0) -> Path:
    """A one-hour session at 2 samples/s (7,200 rows per player), through the analysis' smoothing and summary;
    its recording is named but missing, as when results are copied without the videos."""
    from fer.playtest.analytics import FRAME_COLUMNS, PROBABILITY_COLUMNS, smooth, summarize
    from fer.playtest.settings import AnalysisSettings
    from fer.playtest.events import Event
    from fer.playtest.quality import OK
    rng = np.random.default_rng(7)
    times = np.arange(0, 3600, 1 / sample_fps)
    rows = []
    for player in range(1, players + 1):
        logits = np.cumsum(rng.normal(0, 0.15, (len(times), 7)), axis=0)
        probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        part = pd.DataFrame(probabilities, columns=PROBABILITY_COLUMNS)
        part.insert(0, "time_s", times.round(3))
        part.insert(1, "player", player)
        rows.append(part)
    frames = pd.concat(rows).sort_values(["time_s", "player"], kind="stable").reset_index(drop=True)
    frames = frames.reindex(columns=FRAME_COLUMNS).assign(quality=OK)  # no box or pose: generated faces
    settings = AnalysisSettings(sample_fps=sample_fps)
    events = [Event(600.0 * i, f"level{i + 1}", 600.0 * (i + 1), "1") for i in range(6)]
    timeline = smooth(frames, settings.smoothing_s)
    summary = summarize(frames, timeline, events, 3600.0, settings)
    summary.update(session="one-hour", source=str(folder / "missing-hour.mp4"), build="42")
    out = folder / "one-hour"
    out.mkdir(parents=True)
    frames.to_csv(out / "frames.csv", index=False, float_format="%.5f")
    timeline.to_csv(out / "timeline.csv", index=False, float_format="%.5f")
    (out / "summary.json").write_text(json.dumps(summary))
    return out


def builds_from(summary: dict, folder: Path) -> tuple[Path, Path]:
    """Build 41 and build 42, eight sessions each, copies of ``summary`` with noise; in build 42 the valence of
    the segment "1 / boss" is 0.5 lower (a seeded difference that the test must find, and only it)."""
    rng = np.random.default_rng(0)
    paths = []
    for build, shift in (("41", 0.0), ("42", -0.5)):
        root = folder / f"build{build}"
        for index in range(8):
            copy = json.loads(json.dumps(summary))
            copy.update(session=f"b{build}-{index}", build=build)
            for player in copy["per_player"].values():
                for segment in player["segments"]:
                    if segment["valence"] is not None:
                        segment["valence"] += (shift if segment["event"] == "boss" else 0) + rng.normal(0, 0.05)
            (root / f"s{index}").mkdir(parents=True)
            (root / f"s{index}" / "summary.json").write_text(json.dumps(copy))
        paths.append(root)
    return paths[0], paths[1]


def chromium_path() -> str | None:
    return shutil.which("chromium")


def start_dashboard(roots: list[Path], *extra: str, cwd: Path = REPO) -> tuple[subprocess.Popen, str]:
    """`fer dashboard ROOTS --port 0` as a process, and the address it prints."""
    process = subprocess.Popen([sys.executable, "-m", "fer.cli", "dashboard", *map(str, roots), "--port", "0", *extra],
                               cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+", line)
    if not match:
        process.kill()
        raise AssertionError(f"fer dashboard did not start: {line}{process.stdout.read()}")
    return process, match.group(0)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


SCREENSHOTS = os.environ.get("FER_DASHBOARD_SCREENSHOTS")  # a folder (docs/) to keep the screenshots in
TIMEOUT_MS = 30_000


class Tab:
    """A page of the dashboard, with the requests to anywhere else aborted and its errors collected."""

    def __init__(self, browser, base: str, width: int = 1400):
        self.base, self.outside, self.errors = base, [], []
        self.context = browser.new_context(viewport={"width": width, "height": 1000}, service_workers="block")
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.set_default_timeout(TIMEOUT_MS)

    def _route(self, route):
        if route.request.url.startswith(self.base):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def open(self, path: str):
        self.page.goto(self.base + path, wait_until="load")
        return self.page

    def screenshot(self, name: str, tmp_path: Path) -> Path:
        return self.keep(self.page, name, tmp_path)

    @staticmethod
    def keep(page, name: str, tmp_path: Path) -> Path:
        """A full-page screenshot of ``page``, also copied into FER_DASHBOARD_SCREENSHOTS where that is set."""
        shot = tmp_path / name
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        if SCREENSHOTS:
            shutil.copy(shot, Path(SCREENSHOTS) / name)
        return shot

    def close(self):
        assert not self.outside, f"the page asked the network for {self.outside}"
        assert not self.errors, f"errors in the page: {self.errors}"
        self.context.close()
