// Across sessions: an aggregate (per segment and measure, mean and 95% CI) or an A/B comparison (Welch's
// t-tests, significant differences highlighted); each row links to the loaded sessions behind it.
import {api, el, errors, number, sessionUrl, table} from "./util.js";

const WHOLE_SESSION = "(whole session)";

export async function showReport(root, kind, id) {
  document.getElementById("where").textContent = `${kind} ${id}`;
  let data;
  try {
    data = await api(`/api/report?kind=${kind}&id=${encodeURIComponent(id)}`);
  } catch (error) {
    root.replaceChildren(el("h1", {}, `${kind} ${id}`), ...errors([error.message]));
    return;
  }
  root.replaceChildren(el("h1", {}, `${kind === "aggregate" ? "Aggregate" : "A/B comparison"} ${id}`));
  if (data.error) { root.append(...errors([data.error])); return; }
  if (kind === "aggregate") showAggregate(root, data); else showComparison(root, data);
}

// The sessions behind a row: those the report names (fer aggregate/compare write their names), or, in an older
// report without names, the loaded sessions of the builds compared; each only where it has the row's segment.
function sessionLinks(sessions, segment, names) {
  const behind = sessions.filter(s => (segment === WHOLE_SESSION || s.segments.includes(segment)) && names(s));
  return behind.map(s => [el("a", {href: sessionUrl(s.id)}, s.id), " "]);
}

function measureFilter(rows, render) {
  const measures = [...new Set(rows.map(r => r.measure))];
  const select = el("select", {id: "measure", onchange: () => render(select.value)}, el("option", {value: ""}, "every measure"),
    measures.map(m => el("option", {value: m}, m)));
  return select;
}

function showAggregate(root, data) {
  const rows = data.content.segments || [];
  const names = data.content.session_names;
  const named = s => !names || names.includes(s.id);
  const body = el("div");
  const render = measure => body.replaceChildren(table(["segment", "measure", "n", "mean", "95% CI", "", "sessions"],
    rows.filter(r => !measure || r.measure === measure).map(r => el("tr", {class: "aggregate-row"},
      el("td", {}, r.segment), el("td", {}, r.measure), el("td", {}, r.n), el("td", {}, number(r.mean)),
      el("td", {}, `${number(r.ci_low)} … ${number(r.ci_high)}`), el("td", {}, interval(r)),
      el("td", {}, sessionLinks(data.sessions, r.segment, named))))));
  root.append(el("p", {}, `${data.content.sessions} sessions, ${data.content.players} players`),
    el("div", {class: "toolbar"}, "measure ", measureFilter(rows, render)), body);
  render("");
  const notes = data.content.annotations || [];
  if (notes.length) root.append(el("h2", {}, "Annotations"), table(["session", "time (s)", "kind", "text", "segments"],
    notes.map(n => el("tr", {}, el("td", {}, el("a", {href: sessionUrl(n.session)}, n.session)),
      el("td", {}, number(n.time_s, 1)), el("td", {}, n.kind), el("td", {}, n.text), el("td", {}, n.segments)))));
}

// The mean and its interval on a -1..1 bar (valence, arousal) or 0..1 (shares).
function interval(row) {
  if (row.ci_low === null || row.ci_low === undefined) return "";
  const low = ["valence", "arousal"].includes(row.measure) ? -1 : 0;
  const at = v => `${Math.min(100, Math.max(0, (v - low) / (1 - low) * 100))}%`;
  const bar = el("span");
  bar.style.left = at(row.ci_low);
  bar.style.width = `calc(${at(row.ci_high)} - ${at(row.ci_low)} + 2px)`;
  return el("span", {class: "ci"}, bar);
}

function showComparison(root, data) {
  const content = data.content;
  const builds = [content.builds?.a, content.builds?.b].map(String);
  const names = content.session_names ? [...content.session_names.a, ...content.session_names.b] : null;
  const named = s => names ? names.includes(s.id) : builds.includes(String(s.build));
  const rows = content.all || [];
  const body = el("div");
  const render = measure => body.replaceChildren(table(
    ["segment", "measure", "n A", "n B", "mean A", "mean B", "B − A", "p", "q", "sessions"],
    rows.filter(r => !measure || r.measure === measure).map(r => el("tr",
      {class: r.significant ? "sig comparison-row" : "comparison-row", "data-significant": r.significant},
      el("td", {}, r.segment), el("td", {}, r.measure), el("td", {}, r.n_a), el("td", {}, r.n_b),
      el("td", {}, number(r.mean_a)), el("td", {}, number(r.mean_b)), el("td", {}, number(r.difference)),
      el("td", {}, number(r.p, 4)), el("td", {}, number(r.q, 4)), el("td", {}, sessionLinks(data.sessions, r.segment, named))))));
  root.append(el("p", {}, `build A: ${builds[0]} (${content.sessions?.a} sessions) · build B: ${builds[1]}`
      + ` (${content.sessions?.b} sessions) · ${content.tested} tests · highlighted: Benjamini-Hochberg q < 0.05`),
    content.note ? el("p", {class: "warn"}, content.note) : "",
    el("div", {class: "toolbar"}, "measure ", measureFilter(rows, render)), body);
  render("");
}
