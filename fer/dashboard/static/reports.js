// Across sessions: an aggregate (each group's mean per segment with its bootstrap interval) or a comparison of
// builds or participant groups (fer compare). A comparison opens on its charts: the forest plot of the chosen
// contrast and measure, the emotion mix, every participant's heat strip and, with three or more groups, the trend;
// the table of tested rows is under them. Every mark opens the sessions behind it at that segment's start.
import {api, el, errors, number, sessionUrl, table} from "./util.js";
import {emotionMix, forestPlot, heatStrip, trendChart} from "./charts.js";

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
  root.replaceChildren(el("h1", {}, `${kind === "aggregate" ? "Aggregate" : "Comparison"} ${id}`));
  if (data.error) { root.append(...errors([data.error])); return; }
  if (!data.content.schema) {
    root.append(...errors(["this report was written by an older fer: run fer aggregate or fer compare again"]));
    return;
  }
  if (kind === "aggregate") showAggregate(root, data); else showComparison(root, data);
}

// Where a segment starts in a loaded session (0 for the whole session), so that a link opens there.
function startOf(session, segment) {
  if (segment === WHOLE_SESSION) return 0;
  return session.segments.find(s => s.segment === segment)?.start_s ?? null;
}

export function momentUrl(session, segment) {
  const start = startOf(session, segment);
  return sessionUrl(session.id) + (start ? `?t=${start}` : "");
}

// The sessions behind a segment, per group: those the report names that are loaded and have the segment.
function sessionsBehind(data, segment, groups) {
  const loaded = Object.fromEntries(data.sessions.map(s => [s.id, s]));
  return groups.map(group => [group, (data.content.session_names[group] || [])
    .map(name => loaded[name]).filter(s => s && startOf(s, segment) !== null)]);
}

// A count that opens on request into the session links, split by group.
function sessionList(data, segment, groups) {
  const behind = sessionsBehind(data, segment, groups);
  const count = behind.map(([, list]) => list.length).join(" + ");
  return el("details", {class: "sessions"}, el("summary", {}, `${count} sessions`),
    behind.map(([group, list]) => el("div", {}, `${group}: `,
      list.map(s => [el("a", {href: momentUrl(s, segment)}, s.id), " "]))));
}

function picker(id, label, options, chosen, onchange) {
  const select = el("select", {id, onchange: () => onchange(select.value)},
    options.map(([value, text]) => el("option", {value, selected: value === chosen}, text)));
  return [label, " ", select];
}

function warnings(content) {
  return [...(content.warnings || []), ...(content.note ? [content.note] : [])].map(w => el("p", {class: "warn"}, w));
}

function showAggregate(root, data) {
  const content = data.content;
  const rows = content.segments || [];
  const measures = [...new Set(rows.map(r => r.measure))];
  const body = el("div");
  const render = measure => body.replaceChildren(table(["group", "segment", "measure", "n", "mean", "95% interval", "", "sessions"],
    rows.filter(r => !measure || r.measure === measure).map(r => el("tr", {class: "aggregate-row"},
      el("td", {}, r.group), el("td", {}, r.segment), el("td", {}, r.measure), el("td", {}, r.n),
      el("td", {}, number(r.mean)),
      el("td", {class: r.note ? "warn" : ""}, r.note || `${number(r.ci_low)} … ${number(r.ci_high)}${r.small ? " (small sample)" : ""}`),
      el("td", {}, interval(r, content.ranges[r.measure])),
      el("td", {}, sessionList(data, r.segment, [r.group]))))));
  root.append(el("p", {}, `${content.sessions} sessions, ${content.participants} participants`,
      content.by ? `, grouped by ${content.by}: ${content.groups.join(", ")}` : "",
      ` · intervals: ${content.interval.method}`), ...warnings(content),
    el("div", {class: "toolbar"}, picker("measure", "measure", [["", "every measure"], ...measures.map(m => [m, m])], "", render)), body);
  render("");
  const notes = content.annotations || [];
  if (notes.length) root.append(el("h2", {}, "Annotations"), table(["session", "time (s)", "kind", "text", "segments"],
    notes.map(n => el("tr", {}, el("td", {}, el("a", {href: sessionUrl(n.session) + `?t=${n.time_s}`}, n.session)),
      el("td", {}, number(n.time_s, 1)), el("td", {}, n.kind), el("td", {}, n.text), el("td", {}, n.segments)))));
}

// The mean and its interval on a bar spanning the measure's whole range.
function interval(row, range) {
  if (row.ci_low === null || row.ci_low === undefined || !range) return "";
  const at = v => `${Math.min(100, Math.max(0, (v - range[0]) / (range[1] - range[0]) * 100))}%`;
  const bar = el("span");
  bar.style.left = at(row.ci_low);
  bar.style.width = `calc(${at(row.ci_high)} - ${at(row.ci_low)} + 2px)`;
  return el("span", {class: "ci"}, bar);
}

function showComparison(root, data) {
  const content = data.content;
  const groups = content.groups;
  const measures = [...new Set(content.rows.map(r => r.measure))];
  const segments = [...new Set(content.estimates.map(e => e.segment))];
  const pairs = content.contrasts.map(c => [`${c.a}|${c.b}`, `${c.b} vs ${c.a}`]);
  const state = {measure: measures[0], contrast: pairs.length ? pairs[0][0] : ""};
  const charts = el("div", {id: "charts"});
  const picked = el("div", {id: "picked"});
  const tables = el("div");
  const counts = groups.map(g => `${g}: ${(content.session_names[g] || []).length}`).join(" · ");
  root.append(
    el("p", {}, `${content.sessions} sessions (${counts}), ${content.participants} participants, by ${content.by}`,
      ` · ${content.tested} tests, ${content.significant_count} significant (Benjamini-Hochberg q < ${content.alpha})`),
    ...warnings(content),
    content.findings.length ? el("ul", {id: "findings"}, content.findings.map(f => el("li", {}, f))) : el("p", {}, "No difference is significant."),
    el("div", {class: "toolbar"},
      picker("measure", "measure", measures.map(m => [m, m]), state.measure, v => { state.measure = v; render(); }),
      pairs.length > 1 ? picker("contrast", "contrast", pairs, state.contrast, v => { state.contrast = v; render(); }) : null),
    charts, picked, tables);

  const pick = (segment, shownGroups) => picked.replaceChildren(el("h3", {}, `Sessions behind ${segment}`),
    el("div", {class: "picked"}, sessionsBehind(data, segment, shownGroups).map(([group, list]) => el("p", {}, `${group}: `,
      list.length ? list.map(s => [el("a", {href: momentUrl(s, segment)}, s.id), " "]) : "none loaded"))));

  function render() {
    const [a, b] = state.contrast.split("|");
    const range = content.ranges[state.measure];
    const rows = content.rows.filter(r => r.a === a && r.b === b);
    const measured = rows.filter(r => r.measure === state.measure);
    const tested = measured.filter(r => r.ci_low !== null);
    const strip = segments.filter(s => s !== WHOLE_SESSION);
    charts.replaceChildren(
      el("h2", {}, `${state.measure}: ${b} minus ${a}, 95% interval`),
      el("p", {class: "legend"}, "green: more positive, red: more negative, blue: changed, grey: not significant; press a row for its sessions"),
      tested.length ? forestPlot(tested, range, row => pick(row.segment, [a, b])) : el("p", {class: "warn"}, "nothing could be tested for this measure"),
      el("h2", {}, "Emotion mix per segment"),
      emotionMix(content.estimates, groups, segments, ({segment, group}) => pick(segment, [group])),
      el("h2", {}, `Every participant's ${state.measure} per segment`),
      heatStrip(content.participant_values, groups, strip.length ? strip : segments, state.measure, range,
        v => pick(v.segment, [v.group])),
      ...(groups.length >= 3 ? [el("h2", {}, `${state.measure} over ${groups.length} ${content.by}s`),
        trendChart(content.estimates, groups, segments, state.measure, range)] : []));
    const untested = rows.filter(r => r.ci_low === null);
    const shown = rows.filter(r => r.ci_low !== null && !(r.difference === 0 && !r.significant));
    tables.replaceChildren(el("h2", {}, "Every tested segment and measure"), comparisonTable(data, shown, [a, b]),
      ...(untested.length ? [el("details", {}, el("summary", {}, `${untested.length} rows not tested`),
        table(["segment", "measure", "n", "why"], untested.map(r => el("tr", {}, el("td", {}, r.segment),
          el("td", {}, r.measure), el("td", {}, `${r.n_a}/${r.n_b}`), el("td", {}, r.note)))))] : []));
  }
  render();
}

function comparisonTable(data, rows, groups) {
  return table(["segment", "measure", "design", "n", `mean ${groups[0]}`, `mean ${groups[1]}`, "B − A", "95% interval",
      "g", "p", "q", "sessions"],
    rows.map(r => el("tr", {class: r.significant ? "sig comparison-row" : "comparison-row", "data-significant": r.significant},
      el("td", {}, r.segment), el("td", {}, r.measure), el("td", {}, r.design), el("td", {}, `${r.n_a}/${r.n_b}`),
      el("td", {}, number(r.mean_a)), el("td", {}, number(r.mean_b)), el("td", {}, number(r.difference)),
      el("td", {}, `${number(r.ci_low)} … ${number(r.ci_high)}`), el("td", {}, number(r.hedges_g, 2)),
      el("td", {}, number(r.p, 4)), el("td", {}, number(r.q, 4)), el("td", {}, sessionList(data, r.segment, groups)))));
}
