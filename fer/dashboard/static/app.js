// Routes by the page's path: / (sessions list), /session/<id>, /aggregate/<id>, /comparison/<id>.
import {api, el, errors, number, sessionUrl, table} from "./util.js";
import {showSession} from "./session.js";
import {showReport} from "./reports.js";

const LIST_REFRESH_MS = 3000;  // live sessions appear and finish while the list is open
const main = document.getElementById("main");
const path = decodeURIComponent(location.pathname);
const [, kind, ...rest] = path.split("/");
const id = rest.join("/");

if (kind === "session") showSession(main, id);
else if (kind === "aggregate" || kind === "comparison") showReport(main, kind, id);
else showList(main);


async function showList(root) {
  const filter = el("select", {id: "build-filter", onchange: () => render()}, el("option", {value: ""}, "all builds"));
  const body = el("div");
  root.replaceChildren(el("h1", {}, "Sessions"), el("div", {class: "toolbar"}, "build ", filter), body);
  let listing = {sessions: [], reports: []};

  function render() {
    const builds = [...new Set(listing.sessions.map(s => s.build ?? ""))].sort();
    const chosen = filter.value;
    filter.replaceChildren(el("option", {value: ""}, "all builds"),
      ...builds.filter(b => b !== "").map(b => el("option", {value: b, selected: b === chosen}, b)));
    const shown = listing.sessions.filter(s => !chosen || String(s.build) === chosen);
    const rows = shown.map(s => el("tr", {"data-session": s.id},
      el("td", {}, el("a", {href: sessionUrl(s.id)}, s.id), s.live ? [" ", el("span", {class: "live"}, "live")] : null),
      el("td", {}, s.build ?? ""), el("td", {}, s.recording ?? ""), el("td", {}, number(s.duration_s, 1)),
      el("td", {}, s.players ?? ""), el("td", {}, number(s.face_visible_ratio, 2)),
      el("td", {class: "warn"}, [...s.errors, ...s.warnings].join("; "))));
    const reports = listing.reports.map(r => el("li", {},
      el("a", {href: `/${r.kind}/${r.id}`}, `${r.kind} ${r.id}`), r.error ? el("span", {class: "warn"}, " " + r.error) : null));
    body.replaceChildren(
      table(["session", "build", "recording", "duration (s)", "players", "face visible", "warnings"], rows),
      ...(reports.length ? [el("h2", {}, "Across sessions"), el("ul", {}, reports)] : []));
  }

  async function refresh() {
    try {
      listing = await api("/api/list");
      render();
    } catch (error) {
      body.replaceChildren(...errors([String(error.message)]));
    }
  }
  await refresh();
  setInterval(refresh, LIST_REFRESH_MS);
}
