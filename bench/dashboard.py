"""How smooth `fer dashboard` stays with a long session: a generated one-hour session at 2 samples per
second (two players, 7,200 rows each) opened in headless Chromium (Debian's `chromium`).

Prints the seconds from opening the page to every lane drawn, and the milliseconds from one zoom of all
the lanes to the next painted frame (the mean of 20 zooms in and out; uPlot redraws on the next animation
frame, so this includes the wait for it), beside the goal of 100 ms (a zoom that feels immediate).
Usage: python bench/dashboard.py
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.dashboard_fixtures import (NON_LOCAL_ABORTED, chromium_path, one_hour_session,  # noqa: E402
                                      start_dashboard, stop)

GOAL_MS = 100.0
ZOOMS = """async () => {
  const painted = () => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  await painted();
  const started = performance.now();
  for (let i = 0; i < 20; i++) {
    window.__lanes.zoom(i < 10 ? 0.5 : 2, 1800);
    await painted();
  }
  return (performance.now() - started) / 20;
}"""


def main() -> None:
    chromium = chromium_path()
    if chromium is None:
        sys.exit("bench/dashboard.py needs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory() as folder:
        results = one_hour_session(Path(folder))
        process, url = start_dashboard([results])
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                                     args=["--disable-gpu", *NON_LOCAL_ABORTED])
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                started = time.perf_counter()
                page.goto(f"{url}/session/one-hour")
                page.wait_for_function("() => window.__lanes && window.__lanes.charts.length >= 5", timeout=60_000)
                drawn_s = time.perf_counter() - started
                zoom_ms = page.evaluate(ZOOMS)
                browser.close()
        finally:
            stop(process)
    print("one-hour session, 2 players x 7,200 rows, headless Chromium")
    print(f"page open to every lane drawn: {drawn_s:.2f} s")
    print(f"one zoom of every lane, to the next painted frame: {zoom_ms:.1f} ms (goal: under {GOAL_MS:g} ms)")


if __name__ == "__main__":
    main()
