"""`dvc plots show` and `dvc plots diff` draw every chart with no network.

DVC's own page loads Vega from a CDN; .dvc/config points plots.html_template at .dvc/plots/offline.html, which
inlines Vega, Vega-Lite and vega-embed (.dvc/plots/build_offline_template.py regenerates it). These tests run the
real dvc commands in the repository, open each index.html in headless Chromium (Debian's package, driven by the
playwright Python package, no `playwright install`) with every request but file:// aborted, and check that each
plot DVC reports is drawn once.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow  # dvc plots in Chromium

DVC = Path(sys.executable).parent / "dvc"
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
TIMEOUT_MS = 30_000

# Runs before the page's scripts: wraps vegaEmbed (the inlined UMD build assigns window.vegaEmbed) to record, for
# each call, the element it drew into, the spec's title and whether its promise resolved or failed.
RECORD_EMBEDS = """
window.__embeds = [];
(() => {
  let original;
  Object.defineProperty(window, 'vegaEmbed', {
    configurable: true,
    get() { return original; },
    set(fn) {
      original = function (el, spec, opts) {
        const element = typeof el === 'string' ? document.querySelector(el) : el;
        const record = {element, target: String(el), title: spec && spec.title, settled: false, error: null};
        window.__embeds.push(record);
        const promise = fn.apply(this, arguments);
        promise.then(result => { record.view = result.view; record.settled = true; },
                     e => { record.settled = true; record.error = String(e && e.stack || e); });
        return promise;
      };
      Object.assign(original, fn);
    },
  });
})();
"""

# For every plot div: what it holds, its title and whether a chart is really drawn in it.
INSPECT_DIVS = """
() => {
  const container = document.getElementById('dvc-plots');
  const divs = Array.from((container || document.body).children).filter(e => e.tagName === 'DIV');
  const titleText = t => t == null ? '' : typeof t === 'string' ? t : Array.isArray(t) ? t.join(' ')
    : titleText(t.text);
  return {
    container: container !== null,
    cdnScripts: Array.from(document.scripts).map(s => s.src).filter(s => s && !s.startsWith('file:')),
    divs: divs.map(div => {
      const embed = window.__embeds.find(r => r.element === div);
      const canvases = Array.from(div.querySelectorAll('canvas')).map(c => {
        let colours = 0;
        try {
          const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          const seen = new Set();
          for (let i = 0; i < data.length && seen.size < 2; i += 4 * 7) {
            seen.add((data[i] << 24) | (data[i + 1] << 16) | (data[i + 2] << 8) | data[i + 3]);
          }
          colours = seen.size;
        } catch (e) { colours = -1; }
        return {width: c.width, height: c.height, colours};
      });
      const svgs = Array.from(div.querySelectorAll('svg')).map(s => {
        const box = s.getBoundingClientRect();
        return {width: box.width, height: box.height,
                marks: s.querySelectorAll('path, rect, line, circle, text, image').length};
      });
      const images = Array.from(div.querySelectorAll('img')).map(i => ({
        src: i.getAttribute('src'), complete: i.complete, naturalWidth: i.naturalWidth}));
      // Items of the chart's data marks (not axes, legends, titles) that are on the chart and not hidden:
      // a chart with axes but no line, bar or cell drawn has none.
      let dataItems = 0;
      const walk = node => {
        if (!node || !node.items) return;
        if (node.marktype && node.role === 'mark') {
          dataItems += node.items.filter(i => Number.isFinite(i.x) && Number.isFinite(i.y)
                                             && (i.opacity === undefined || i.opacity > 0)).length;
        }
        node.items.forEach(walk);
      };
      if (embed && embed.view) walk(embed.view.scenegraph().root);
      const firstP = div.querySelector('p');
      const kind = embed ? 'vega' : images.length ? 'image' : 'unknown';
      let title = kind === 'vega' ? titleText(embed.title) : kind === 'image' && firstP ? firstP.textContent : '';
      title = title.trim() || (div.id ? '#' + div.id : '(untitled)');
      const painted = canvases.some(c => c.width > 0 && c.height > 0 && c.colours > 1)
        || svgs.some(s => s.width > 0 && s.height > 0 && s.marks > 0);
      const drawn = kind === 'vega'
        ? div.classList.contains('vega-embed') && !embed.error && painted && dataItems > 0
        : kind === 'image' ? images.every(i => i.complete && i.naturalWidth > 0) : false;
      return {id: div.id, kind, title, drawn, painted, dataItems, embedError: embed ? embed.error : null,
              canvases, svgs, images};
    }),
    embedsWithoutDiv: window.__embeds.filter(r => !r.element || !divs.includes(r.element)).map(r => r.target),
  };
}
"""


def _dvc(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    result = subprocess.run([str(DVC), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (f"`dvc {' '.join(args)}` in {REPO} exited {result.returncode}:\n"
                                    f"{result.stdout}\n{result.stderr}")
    return result


def _browser_pieces():
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("no `chromium` on PATH (.ci/run installs Debian's chromium with apt-get)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright Python package is not installed (it is in pyproject.toml's dependencies)")
    return chromium, sync_playwright


def _render(browser, index: Path, screenshot: Path) -> dict:
    """Open index.html with the network refused; what was requested, what failed and what each plot div holds."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, service_workers="block")
    outside: list[str] = []
    errors: list[str] = []

    def route(route):
        if route.request.url.startswith(LOCAL_SCHEMES):
            route.continue_()
        else:
            if route.request.url not in outside:
                outside.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", route)
    context.add_init_script(RECORD_EMBEDS)
    page = context.new_page()
    page.on("request", lambda r: None if r.url.startswith(LOCAL_SCHEMES) or r.url in outside
            else outside.append(r.url))
    page.on("websocket", lambda ws: outside.append(ws.url))
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    try:
        page.goto(index.as_uri(), wait_until="load", timeout=TIMEOUT_MS)
        try:
            page.wait_for_function("() => window.__embeds.every(r => r.settled)"
                                   " && Array.from(document.images).every(i => i.complete)", timeout=TIMEOUT_MS)
        except Exception as error:  # noqa: BLE001 - reported below with what the page holds
            errors.append(f"charts still pending after {TIMEOUT_MS} ms: {error}")
        page.wait_for_timeout(200)  # vega draws on the next animation frame after the promise resolves
        found = page.evaluate(INSPECT_DIVS)
        page.screenshot(path=str(screenshot), full_page=True)
    finally:
        context.close()
    return {**found, "outside": outside, "errors": errors, "screenshot": screenshot}


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict:
    """{'show': ..., 'diff': ...}: the plots DVC reports (--json) and what Chromium found on each index.html."""
    chromium, sync_playwright = _browser_pieces()
    from dvc_render.base import Renderer

    out = tmp_path_factory.mktemp("plots")
    commands = {"show": ["plots", "show"], "diff": ["plots", "diff", "HEAD"]}
    rendered = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                             args=["--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND"])
        try:
            for kind, command in commands.items():
                reported = json.loads(_dvc(*command, "--json", "-o", str(out / f"{kind}-json")).stdout)
                run = _dvc(*command, "-o", str(out / kind))
                index = out / kind / "index.html"
                assert index.is_file(), f"`dvc {' '.join(command)}` wrote no {index}:\n{run.stdout}\n{run.stderr}"
                rendered[kind] = {
                    "command": "dvc " + " ".join(command),
                    "reported": list(reported.get("data", {})),
                    "reported_ids": [Renderer.remove_special_chars(n) for n in reported.get("data", {})],
                    "dvc_errors": reported.get("errors", []),
                    "html": index.read_text(encoding="utf-8"),
                    **_render(browser, index, out / f"{kind}.png"),
                }
        finally:
            browser.close()
    return rendered


def _where(page: dict) -> str:
    return f"`{page['command']}` (screenshot {page['screenshot']})"


def _describe(div: dict) -> str:
    if div["kind"] == "image":
        return f"{div['title']!r} (#{div['id']}, image: {div['images']})"
    if div["kind"] == "vega":
        why = (f"vegaEmbed failed: {div['embedError']}" if div["embedError"]
               else "nothing painted" if not div["painted"] else "axes only, no data mark drawn")
        return f"{div['title']!r} (#{div['id']}, vega: {why}; canvases={div['canvases']}, svgs={div['svgs']})"
    return f"{div['title']!r} (#{div['id']}: neither a vega-embed chart nor an image)"


@pytest.mark.parametrize("kind", ["show", "diff"])
def test_every_plot_is_drawn_offline(pages, kind):
    page, where = pages[kind], _where(pages[kind])
    assert not page["dvc_errors"], f"{where}: DVC could not load some plots: " + "; ".join(
        f"{e.get('name', '?')} at {e.get('rev', '?')}: {e.get('source', '')} {e.get('type', '')} {e.get('msg', '')}"
        for e in page["dvc_errors"])
    assert page["reported"], f"{where}: DVC reports no plots at all"
    assert "cdn.jsdelivr.net" not in page["html"] and page["container"], (
        f"{where}: the page is not .dvc/plots/offline.html (is plots.html_template set in .dvc/config?)")
    assert not page["outside"], f"{where}: the page asked the network for {page['outside']}"
    assert not page["cdnScripts"], f"{where}: scripts loaded from outside: {page['cdnScripts']}"
    assert not page["errors"], f"{where}: errors in the page:\n" + "\n".join(page["errors"])
    divs = page["divs"]
    ids = {d["id"] for d in divs}
    missing = [name for name, div_id in zip(page["reported"], page["reported_ids"]) if div_id not in ids]
    assert not missing, f"{where}: DVC reports plots {missing} that have no div on the page"
    extra = sorted(ids - set(page["reported_ids"]))
    assert not extra, f"{where}: divs {extra} on the page are none of DVC's plots {page['reported']}"
    assert not page["embedsWithoutDiv"], f"{where}: charts drawn outside the plot divs: {page['embedsWithoutDiv']}"
    blank = [d for d in divs if not d["drawn"]]
    assert not blank, f"{where}: {len(blank)} of {len(divs)} plots are blank: " + "; ".join(map(_describe, blank))


@pytest.mark.parametrize("kind", ["show", "diff"])
def test_one_div_per_reported_plot(pages, kind):
    page = pages[kind]
    divs = [(d["id"], d["title"]) for d in page["divs"]]
    assert len(divs) == len(page["reported"]), (
        f"{_where(page)}: {len(divs)} plot divs (id, title) on the page {divs} but DVC reports"
        f" {len(page['reported'])} plots {page['reported']}")


@pytest.mark.parametrize("kind", ["show", "diff"])
def test_no_chart_is_shown_twice(pages, kind):
    page = pages[kind]
    titles = Counter(d["title"] for d in page["divs"])
    twice = {title: n for title, n in titles.items() if n > 1}
    assert not twice, (f"{_where(page)}: charts with the same title on the page: {twice};"
                       f" all titles: {[d['title'] for d in page['divs']]}")
