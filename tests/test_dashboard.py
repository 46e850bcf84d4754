"""`fer dashboard` in real headless Chromium (Debian's, driven by Playwright's Python API; every request but the
dashboard's own is aborted): a real server process over real results of real recordings."""
from __future__ import annotations

import json
import re

import pytest

from fer.insight.aggregate import write_aggregate
from fer.insight.compare import side_rows, write_comparison
from fer.insight.summaries import load_summaries
from fer.playtest.settings import AnalysisSettings
from fer.playtest.sessions import analyze_many
from tests.dashboard_fixtures import MODEL, Tab, builds_from, one_hour_session, start_dashboard, stop, write_recording

pytestmark = pytest.mark.slow  # fer dashboard in Chromium

SETTINGS = AnalysisSettings(sample_fps=2.0, smoothing_s=1.0, reaction_window_s=2.0)
EVENTS = "time,event,end,level\n0,intro,6,1\n6,boss,12,1\n7,death,,1\n"
SCHEDULE = [(6, True), (2, False), (4, True)]  # 12 s: a face, nobody, the face again


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    """Results folders: "webcam" (VP8 webm, build 41) and "oldcam" (MPEG-4 part 2 mp4, build 42) analysed with
    the committed model; "one-hour" (7,200 rows per player, recording missing); "broken" (corrupt summary);
    an aggregate and an A/B comparison of 8 + 8 sessions."""
    from fer.serving.client import LocalModel
    folder = tmp_path_factory.mktemp("dashboard")
    recordings = folder / "recordings"
    recordings.mkdir()
    webcam = write_recording(recordings / "webcam.webm", SCHEDULE, "VP80")
    oldcam = write_recording(recordings / "oldcam.mp4", SCHEDULE, "mp4v")
    for video in (webcam, oldcam):
        (recordings / f"{video.stem}.events.csv").write_text(EVENTS)
    model = LocalModel(MODEL)
    out = folder / "results"
    for video, build in ((webcam, "41"), (oldcam, "42")):
        done = analyze_many([video], out, model, SETTINGS, model_name=str(MODEL), build=build, progress=False)
        assert done["done"] == [str(video)], done
    one_hour_session(out)
    (out / "broken").mkdir()
    (out / "broken" / "summary.json").write_text('{"session": "broken", "per_player": ')
    summary = json.loads((out / "webcam" / "summary.json").read_text())
    build_a, build_b = builds_from(summary, folder / "builds")
    write_aggregate(load_summaries([out]), folder / "reports" / "aggregate")
    sides = {"41": load_summaries([build_a]), "42": load_summaries([build_b])}
    write_comparison(*side_rows(sides), folder / "reports" / "ab", ["41", "42"])
    return {"folder": folder, "out": out, "reports": folder / "reports", "builds": [build_a, build_b]}


@pytest.fixture(scope="module")
def dashboard(results):
    process, url = start_dashboard([results["out"], results["reports"], *results["builds"]])
    yield url
    stop(process)


@pytest.fixture
def tab(browser, dashboard):
    opened = Tab(browser, dashboard)
    yield opened
    opened.close()


def wait_for_lanes(page, players: int = 1):
    page.wait_for_function(f"() => window.__lanes && window.__lanes.charts.length >= {players + 3}")


# Per chart: its canvas size and how many differently coloured pixels it painted (a blank canvas has one).
CANVAS_COLOURS = """() => window.__lanes.charts.map(chart => {
  const canvas = chart.ctx.canvas, data = chart.ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  const seen = new Set();
  for (let i = 0; i < data.length && seen.size < 50; i += 4 * 11) seen.add(data[i] << 16 | data[i + 1] << 8 | data[i + 2]);
  return {width: canvas.width, height: canvas.height, colours: seen.size, points: chart.data[0].length};
})"""


def test_sessions_list_loads_and_filters_by_build(tab, tmp_path):
    page = tab.open("/")
    page.wait_for_selector("tr[data-session='webcam']")
    listed = page.eval_on_selector_all("tr[data-session]", "rows => rows.map(r => r.dataset.session)")
    assert set(listed) == {"webcam", "oldcam", "one-hour", "broken", *(f"b{b}-{i}" for b in (41, 42) for i in range(8))}
    broken = page.inner_text("tr[data-session='broken']")
    assert "not a readable JSON file" in broken
    assert "webcam.webm" in page.inner_text("tr[data-session='webcam']")
    tab.screenshot("dashboard-sessions.png", tmp_path)
    page.select_option("#build-filter", "41")
    page.wait_for_function("() => document.querySelectorAll('tr[data-session]').length === 9")
    shown = page.eval_on_selector_all("tr[data-session]", "rows => rows.map(r => r.dataset.session)")
    assert set(shown) == {"webcam", *(f"b41-{i}" for i in range(8))}
    page.click("a[href='/session/webcam']")
    page.wait_for_url("**/session/webcam")
    wait_for_lanes(page)


def test_session_plays_and_clicking_a_lane_seeks_the_video(tab, tmp_path):
    page = tab.open("/session/webcam")
    wait_for_lanes(page)
    page.wait_for_function("() => document.querySelector('video#recording').readyState >= 1")
    assert page.evaluate("document.querySelector('video#recording').duration") == pytest.approx(12, abs=0.5)
    page.evaluate("document.querySelector('video#recording').play()")
    page.wait_for_function("() => document.querySelector('video#recording').currentTime > 0.3")
    page.evaluate("document.querySelector('video#recording').pause()")
    lane = page.locator(".lane").first.locator(".u-over")
    box = lane.bounding_box()
    lane.click(position={"x": box["width"] * 0.75, "y": box["height"] / 2})
    expected = page.evaluate(f"window.__lanes.charts[0].posToVal({box['width'] * 0.75}, 'x')")
    assert 8 < expected < 10
    page.wait_for_function(f"() => Math.abs(document.querySelector('video#recording').currentTime - {expected}) < 0.2")
    playhead = page.evaluate("parseFloat(window.__lanes.charts[0].playhead.style.left)")
    assert playhead == pytest.approx(box["width"] * 0.75, abs=3)
    tab.screenshot("dashboard-session.png", tmp_path)


def test_charts_are_drawn_with_data(tab):
    page = tab.open("/session/webcam")
    wait_for_lanes(page)
    page.wait_for_timeout(300)
    charts = page.evaluate(CANVAS_COLOURS)
    assert len(charts) == 4  # one player's emotions, valence and arousal, faces visible, events
    for chart in charts[:3]:
        assert chart["width"] > 300 and chart["colours"] > 5 and chart["points"] >= 20, chart
    assert page.evaluate("window.__lanes.data.players['1'].p_happy.length") >= 18


def test_clicking_a_strongest_moment_seeks_there(tab):
    page = tab.open("/session/webcam")
    wait_for_lanes(page)
    page.wait_for_function("() => document.querySelector('video#recording').readyState >= 1")
    moments = page.locator("tr.moment")
    assert moments.count() >= 1
    last = moments.nth(moments.count() - 1)
    target = float(last.get_attribute("data-time"))
    last.click()
    page.wait_for_function(f"() => Math.abs(document.querySelector('video#recording').currentTime - {target}) < 0.2")
    page.locator("tr.segment").nth(1).click()  # the boss fight, 6 s
    page.wait_for_function("() => Math.abs(document.querySelector('video#recording').currentTime - 6) < 0.2")


def test_zooming_narrows_every_lane_to_the_range(tab):
    page = tab.open("/session/webcam")
    wait_for_lanes(page)
    page.evaluate("window.__lanes.setTime(6)")
    page.click("#zoom-in")
    ranges = page.evaluate("window.__lanes.charts.map(c => [c.scales.x.min, c.scales.x.max])")
    assert all(r == ranges[0] for r in ranges) and ranges[0][1] - ranges[0][0] == pytest.approx(6, abs=0.01)
    page.click("#zoom-all")
    assert page.evaluate("window.__lanes.charts[0].scales.x.max") == pytest.approx(12, abs=0.1)


def test_an_annotation_added_in_the_page_is_saved_and_survives_a_reload(tab, results):
    page = tab.open("/session/webcam")
    wait_for_lanes(page)
    page.evaluate("window.__lanes.onSeek(4.5)")
    page.fill("#annotation-text", "she laughs at the boss intro")
    page.click("#annotation-add")
    page.wait_for_selector("tr.annotation")
    saved = json.loads((results["out"] / "webcam.annotations.json").read_text())
    assert saved["format"] == "fer-annotations/1" and saved["session"] == "webcam"
    [note] = [a for a in saved["annotations"] if a["text"] == "she laughs at the boss intro"]
    assert note["time_s"] == pytest.approx(4.5, abs=0.05) and note["kind"] == "marker" and note["revision"] == 1
    page.reload()
    page.wait_for_selector(f"tr.annotation[data-id='{note['id']}']")
    assert page.evaluate("window.__lanes.annotations.map(a => a.text)") == ["she laughs at the boss intro"]
    row = page.locator(f"tr.annotation[data-id='{note['id']}']")
    row.locator("input.annotation-edit").fill("laughs, then frowns")
    row.locator("button.annotation-save").click()
    page.wait_for_function("() => window.__lanes.annotations[0].text === 'laughs, then frowns'")
    edited = json.loads((results["out"] / "webcam.annotations.json").read_text())["annotations"]
    assert [(a["text"], a["revision"]) for a in edited] == [("laughs, then frowns", 2)]
    page.locator(f"tr.annotation[data-id='{note['id']}'] button.annotation-delete").click()
    page.wait_for_function("() => window.__lanes.annotations.length === 0")
    assert json.loads((results["out"] / "webcam.annotations.json").read_text())["annotations"] == []


def test_two_tabs_adding_and_editing_at_once_lose_nothing(browser, dashboard, results):
    tabs = [Tab(browser, dashboard), Tab(browser, dashboard)]
    pages = [t.open("/session/oldcam") for t in tabs]
    for page in pages:
        wait_for_lanes(page)
    for page, (time_s, text) in zip(pages, [(2.0, "from tab one"), (3.0, "from tab two")]):
        page.evaluate(f"window.__lanes.onSeek({time_s})")
        page.fill("#annotation-text", text)
    for page in pages:  # each tab adds without having seen the other's marker
        page.click("#annotation-add")
    for page in pages:
        page.wait_for_function("() => document.querySelectorAll('tr.annotation').length === 2")
    path = results["out"] / "oldcam.annotations.json"
    notes = json.loads(path.read_text())["annotations"]
    assert sorted(a["text"] for a in notes) == ["from tab one", "from tab two"]
    # each where its tab was seeked, also where the seek came before the flip-book replaced the <video>
    assert sorted((a["time_s"], a["text"]) for a in notes) == [(2.0, "from tab one"), (3.0, "from tab two")]
    # Both tabs now edit the marker at 2 s: the second edit is based on an old revision and is refused, not
    # silently written over the first.
    def marker_at_2_s(page):  # by its time, not its place in the table
        return page.locator("tr.annotation", has=page.locator("td.seek", has_text="2.00"))
    for page, text in zip(pages, ["edited in tab one", "edited in tab two"]):
        marker_at_2_s(page).locator("input.annotation-edit").fill(text)
    marker_at_2_s(pages[0]).locator("button.annotation-save").click()
    pages[0].wait_for_function("() => window.__lanes.annotations.some(a => a.text === 'edited in tab one')")
    marker_at_2_s(pages[1]).locator("button.annotation-save").click()
    pages[1].wait_for_selector("#annotations .error")
    assert "revision" in pages[1].inner_text("#annotations .error")
    pages[1].wait_for_function("() => window.__lanes.annotations.some(a => a.text === 'edited in tab one')")
    notes = json.loads(path.read_text())["annotations"]
    assert sorted(a["text"] for a in notes) == ["edited in tab one", "from tab two"]
    for opened in tabs:
        opened.close()


def test_a_recording_chromium_cannot_decode_plays_as_a_flip_book(tab):
    page = tab.open("/session/oldcam")  # OpenCV's mp4v: Debian's Chromium has no MPEG-4 part 2 decoder
    wait_for_lanes(page)
    page.wait_for_selector("#flipbook img.flipbook")
    page.wait_for_function("() => document.querySelector('#flipbook img').naturalWidth === 640")
    assert "cannot play" in page.inner_text("#status")
    page.locator("tr.segment").nth(1).click()
    page.wait_for_function("() => document.querySelector('#flipbook img').src.includes('t=6')")
    page.click("#play")
    page.wait_for_function("() => document.querySelector('#flipbook img').src.match(/t=(7|8)/)")


def test_a_one_hour_session_renders_and_zooms(tab, tmp_path):
    """Every one of its 7,200 rows per player is drawn and zooming works; how fast: bench/dashboard.py."""
    page = tab.open("/session/one-hour")
    wait_for_lanes(page, players=2)
    page.wait_for_timeout(200)
    charts = page.evaluate(CANVAS_COLOURS)
    assert [c["points"] for c in charts[:2]] == [7200, 7200]
    assert all(c["colours"] > 5 for c in charts[:3]), charts
    # an error for the missing recording, and everything else still works
    assert "missing-hour.mp4 is missing" in page.inner_text("#errors")
    assert page.locator("tr.segment").count() == 12  # 6 levels x 2 players
    page.evaluate("window.__lanes.zoom(0.5, 1800)")
    ranges = page.evaluate("window.__lanes.charts.map(c => [c.scales.x.min, c.scales.x.max])")
    assert all(r == ranges[0] for r in ranges) and ranges[0][1] - ranges[0][0] == pytest.approx(1800, rel=0.01)
    page.locator("tr.segment").nth(3).click()  # level 4 at 1800 s: the clock moves, with no recording
    page.wait_for_function("() => Math.abs(window.__lanes.time - 1800) < 0.01")
    tab.screenshot("dashboard-one-hour.png", tmp_path)


def test_a_corrupt_summary_shows_its_error_on_its_page(tab):
    page = tab.open("/session/broken")
    page.wait_for_selector("#errors .error")
    assert "not a readable JSON file" in page.inner_text("#errors")
    page.goto(tab.base + "/session/no-such-session")
    page.wait_for_selector(".error")
    assert "no session" in page.inner_text(".error")


def test_ab_page_opens_on_a_forest_plot_whose_rows_open_their_sessions_at_the_segment(tab, tmp_path):
    page = tab.open("/")
    page.wait_for_selector("a[href='/comparison/ab']")
    page.click("a[href='/comparison/ab']")
    page.wait_for_selector("svg.forest g.forest-row")
    drawn = page.eval_on_selector_all("svg.forest g.forest-row", "rows => rows.map(r => [r.dataset.segment,"
                                      " r.dataset.significant, r.querySelector('line').getAttribute('stroke')])")
    significant = [row for row in drawn if row[1] == "true"]
    assert significant == [["1 / boss", "true", "#c0392b"]]  # the seeded drop, red: valence more negative
    assert len(drawn) >= 3 and all(row[2] == "#a0a7ad" for row in drawn if row[1] != "true")
    assert re.search(r"1 / boss: valence lower in build 42 than 41 by 0\.(49|5), 95% CI", page.inner_text("#findings"))
    for chart in ("svg.mix rect", "svg.heat rect.heat-cell"):
        assert page.locator(chart).count() >= 6, chart
    highlighted = page.eval_on_selector_all("tr.sig", "rows => rows.map(r => [...r.cells].slice(0, 2).map(c => c.textContent))")
    assert highlighted == [["1 / boss", "valence"]]
    assert page.locator("tr.sig details.sessions summary").inner_text() == "8 + 8 sessions"  # folded to a count
    page.click("svg.forest g.forest-row[data-segment='1 / boss']")
    links = page.eval_on_selector_all("#picked a", "links => links.map(a => a.getAttribute('href'))")
    assert len(links) == 16 and all(link.endswith("?t=6") for link in links)
    page.click("#picked a >> nth=0")
    page.wait_for_function("() => window.__lanes")  # a copied summary: no frames.csv behind it, so no lanes
    page.wait_for_function("() => Math.abs(document.querySelector('video#recording').currentTime - 6) < 0.2")


def test_aggregate_page_shows_intervals_and_links_to_sessions(tab, tmp_path):
    page = tab.open("/aggregate/aggregate")
    page.wait_for_selector("tr.aggregate-row")
    page.select_option("#measure", "valence")
    rows = page.locator("tr.aggregate-row")
    assert rows.count() >= 3
    intro = page.locator("tr.aggregate-row", has_text="1 / intro")
    # two sessions: said to be too few, where a t interval drew -4.3 ... 4.3 for a measure in [-1, 1]
    assert intro.locator(".ci span").count() == 0 and "n = 2: too few to test" in intro.inner_text()
    # the sessions the aggregate was made of (not the builds' sessions, also loaded, which have the segment too)
    assert intro.locator("details.sessions summary").inner_text() == "2 sessions"
    assert set(intro.locator("a").evaluate_all("links => links.map(a => a.textContent)")) == {"webcam", "oldcam"}
    tab.screenshot("dashboard-aggregate.png", tmp_path)


def test_the_static_report_links_to_the_dashboards_page_of_the_session(tab, results):
    report = (results["out"] / "webcam" / "report.html").read_text()
    [link] = re.findall(r'<a class="dashboard" href="([^"]+)"', report)
    assert link == "http://127.0.0.1:8765/session/webcam"  # fer dashboard's default address
    page = tab.open(link.removeprefix("http://127.0.0.1:8765"))  # this test's dashboard listens on another port
    wait_for_lanes(page)
    assert page.inner_text("h1").startswith("Session webcam")
