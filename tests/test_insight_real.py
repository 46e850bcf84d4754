"""The studio's whole path on real faces: the clips of ../shared/videos as a made-up study of three builds
(tests/real_footage.py), analysed by `fer analyze`, compared by `fer compare` with a participants table, handed
on by `fer report` and `fer clips`, and reviewed in `fer dashboard` in headless Chromium. The screenshots made
here (docs/, with FER_DASHBOARD_SCREENSHOTS=docs) blur every face."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import pytest

from fer.insight.measures import RANGES
from fer.playtest.sessions import model_identity
from tests.conftest import REPO
from tests.dashboard_fixtures import Tab, start_dashboard, stop
from tests.real_footage import BUILDS, VIDEOS, make_study

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not VIDEOS.is_dir(), reason=f"the real clips {VIDEOS} are not on this machine (they"
                                 " exist only on the developers' machines)")]
BLUR_FACES = "video, img.flipbook, .moment img { filter: blur(24px); }"
SEGMENTS = {"1 / intro", "3 / boss", "4 / outro"}


def fer(*arguments, cwd) -> subprocess.CompletedProcess:
    run = subprocess.run([sys.executable, "-m", "fer.cli", *map(str, arguments)], capture_output=True, text=True,
                         cwd=cwd, timeout=600)
    assert run.returncode == 0, run.stderr
    return run


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = make_study(tmp_path_factory.mktemp("study"))
    for build in BUILDS:
        fer("analyze", *sorted((folder / f"build{build}").glob("*.mp4")), "--build", build, "--out",
            folder / "results" / f"build{build}", "--quiet", cwd=folder)
    # p11's gameplay capture: another real clip, 0.5 s ahead (attached to the finished session: no analysis)
    attached = fer("analyze", "build43/p11.mp4", "--build", "43", "--out", folder / "results" / "build43",
                   "--gameplay", VIDEOS / "liveportrait_d14.mp4", "--gameplay-offset", "0.5", "--quiet", cwd=folder)
    assert "1 already done" in attached.stdout and "gameplay capture" in attached.stdout
    fer("compare", "results", "--participants", "participants.csv", "--participant-pattern", r"p\d+",
        "--out", "comparison", cwd=folder)
    return folder


def test_three_builds_of_real_sessions_are_compared_with_every_interval_in_range(study):
    content = json.loads((study / "comparison" / "comparison.json").read_text())
    assert content["groups"] == ["41", "42", "43"] and content["participants"] == 11
    assert content["models"] == [model_identity(str(REPO / "serving/models/fer_fast"))] and not content["warnings"]
    assert content["models"][0].startswith("fer_fast/1@")
    boss = [e for e in content["estimates"] if e["segment"] == "3 / boss" and e["measure"] == "valence"]
    assert [e["n"] for e in boss] == [4, 4, 3] and all(e["small"] for e in boss)
    assert SEGMENTS <= {e["segment"] for e in content["estimates"]}
    for row in content["estimates"]:
        if row["ci_low"] is not None:
            assert RANGES[row["measure"]][0] <= row["ci_low"] <= row["ci_high"] <= RANGES[row["measure"]][1]
    assert all(r["design"] == "independent" for r in content["rows"])  # one clip a participant: nobody is paired


def test_the_report_opens_offline_with_its_charts_and_stills(study, browser, tmp_path):
    run = fer("report", "comparison", "--out", "report/report.html", "--moments", "4", cwd=study)
    assert "opens offline" in run.stdout
    charts = sorted(p.name for p in (study / "report" / "report_charts").iterdir())
    assert charts == sorted(f"{stem}.{kind}" for stem in ("emotion_mix", "forest_41_42", "forest_42_43",
                                                           "heat_strip", "trend") for kind in ("png", "svg"))
    context = browser.new_context(offline=True)
    page = context.new_page()
    page.goto((study / "report" / "report.html").as_uri(), wait_until="load")
    loaded = page.eval_on_selector_all("img", "images => images.map(i => i.naturalWidth)")
    assert page.locator(".moment").count() == 4 and "Findings" in page.inner_text("body")
    # five charts, four face stills and, for p11's moment (among the four), its gameplay capture's
    assert page.locator(".moment", has_text="p11").locator("img").count() == 2
    assert len(loaded) == 5 + 4 + 1 and all(width > 100 for width in loaded)
    page.add_style_tag(content=BLUR_FACES)
    Tab.keep(page, "insight-report.png", tmp_path)
    context.close()


def test_clips_of_the_strongest_moments_are_webm_files_that_decode(study):
    run = fer("clips", "results", "--moments", "3", "--seconds", "2", "--out", "clips", cwd=study)
    clips = sorted((study / "clips").glob("*.webm"))
    assert len(clips) == 3 + 1 and "3 of 3:" in run.stdout  # p11's moment has a gameplay clip too
    for clip in clips:
        capture = cv2.VideoCapture(str(clip))
        frames, fps = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), capture.get(cv2.CAP_PROP_FPS)
        ok, frame = capture.read()
        capture.release()
        assert ok and frame.shape[1] <= 640 and frames >= 1.5 * fps, (clip.name, frames, fps)


def test_a_sessions_gameplay_capture_gives_its_own_stills_and_clips(study):
    from fer.insight.clips import strongest_moments, with_stills
    from fer.insight.summaries import load_summaries
    run = fer("clips", "results/build43/p11", "--moments", "1", "--seconds", "2", "--out", "p11_clips", cwd=study)
    names = sorted(p.name for p in (study / "p11_clips").glob("*.webm"))
    assert len(names) == 2 and names[0].endswith("_face.webm") and names[1].endswith("_gameplay.webm"), run.stdout
    (moment,) = with_stills(strongest_moments(load_summaries([study / "results" / "build43" / "p11"]), 1))
    assert moment["gameplay_offset_s"] == 0.5 and moment["face"][:2] == moment["gameplay"][:2] == b"\xff\xd8"


@pytest.fixture(scope="module")
def dashboard(study):
    process, url = start_dashboard([study / "results", study / "comparison"], cwd=study)
    yield url
    stop(process)


def test_the_dashboard_draws_every_chart_of_the_real_comparison(study, browser, dashboard, tmp_path):
    tab = Tab(browser, dashboard)
    page = tab.open("/comparison/comparison")
    page.wait_for_selector("svg.forest g.forest-row")
    segments = set(page.eval_on_selector_all("svg.forest g.forest-row", "rows => rows.map(r => r.dataset.segment)"))
    assert SEGMENTS <= segments
    heat = page.locator("svg.heat rect.heat-cell")
    assert heat.count() == 11 * len(page.eval_on_selector_all("svg.heat text.tick", "t => t"))
    filled = page.eval_on_selector_all("svg.heat rect.heat-cell", "cells => cells.filter(c => c.getAttribute('fill')"
                                       " !== '#eee').length")
    assert filled >= 11 * 3
    assert not tab.errors, tab.errors
    assert page.locator("svg.trend g.trend-line").count() >= 4 and page.locator("svg.mix rect").count() >= 7 * 12
    tab.screenshot("insight-comparison.png", tmp_path)
    page.click("svg.forest g.forest-row[data-segment='3 / boss']")
    assert page.locator("#picked a").count() == 8  # builds 41 and 42
    longest = page.locator("#picked a", has_text="p02")  # liveportrait_d6, 33.6 s
    href = longest.get_attribute("href")
    assert "?t=" in href
    longest.click()
    page.wait_for_function("() => window.__lanes && window.__lanes.charts.length >= 4")
    start = float(href.split("?t=")[1])
    page.wait_for_function(f"() => Math.abs(document.querySelector('video#recording')"
                           f".currentTime - {start}) < 0.3")
    page.add_style_tag(content=BLUR_FACES)
    tab.screenshot("insight-session.png", tmp_path)
    tab.close()


def test_the_dashboard_plays_the_attached_capture_and_exports_clips(study, browser, dashboard):
    tab = Tab(browser, dashboard)
    page = tab.open("/session/p11")
    page.wait_for_function("() => window.__lanes")
    assert "which=gameplay" in page.get_attribute("video#gameplay", "src")
    assert page.input_value("#gameplay-offset") == "0.5"
    page.fill("#gameplay-offset", "1.25")
    page.click("#gameplay-save")
    page.wait_for_selector("#gameplay-saved:has-text('saved')")
    saved = json.loads((study / "results" / "build43" / "p11.gameplay.json").read_text())
    assert saved["offset_s"] == 1.25 and saved["source"] == str((VIDEOS / "liveportrait_d14.mp4").resolve())
    assert page.request.put(f"{dashboard}/api/gameplay?id=p11", data='{"offset_s": "soon"}',
                            headers={"Origin": dashboard}).status == 400
    assert page.request.put(f"{dashboard}/api/gameplay?id=p11", data='{"offset_s": 3}',
                            headers={"Origin": "http://evil.example"}).status == 403
    page.reload()
    page.wait_for_function("() => window.__lanes")
    assert page.input_value("#gameplay-offset") == "1.25"
    for which in ("face", "gameplay"):
        response = page.request.get(f"{dashboard}/api/clip?id=p11&t=4&seconds=2&which={which}")
        assert response.status == 200 and response.headers["content-type"] == "video/webm"
        assert response.body()[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a WebM file
        assert "attachment" in response.headers["content-disposition"]
    with page.expect_download() as download:
        page.click("a.clip >> nth=0")
    assert download.value.suggested_filename.endswith("_face.webm")
    for query, status in (("t=abc", 400), ("t=4&seconds=300", 400), ("t=4&which=other", 400), ("t=999", 404)):
        assert page.request.get(f"{dashboard}/api/clip?id=p11&{query}").status == status, query
    tab.close()
