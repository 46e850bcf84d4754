// The comparison's charts as SVG, drawn from comparison.json: a forest plot of B − A per segment, the emotion mix
// per segment and group, a heat strip of every participant, a trend over groups. fer/insight/charts.py draws the
// same four for the report. Each mark calls onPick with what it stands for, so that it can open its sessions.

const SVG = "http://www.w3.org/2000/svg";
export const COLORS = {angry: "#d62728", disgust: "#8c564b", fear: "#9467bd", happy: "#2ca02c", sad: "#1f77b4",
  surprise: "#ff7f0e", neutral: "#bdbdbd"};
const EMOTIONS = Object.keys(COLORS);
const POSITIVE = new Set(["valence", "happy"]);
const NEGATIVE = new Set(["angry", "disgust", "fear", "sad"]);

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  node.append(...children.flat().filter(c => c !== null && c !== undefined).map(c => c instanceof Node ? c : document.createTextNode(String(c))));
  return node;
}

export function polarity(measure) {
  const base = measure.replace(/_shift$|_calibrated$/, "");
  return POSITIVE.has(base) ? 1 : NEGATIVE.has(base) ? -1 : 0;
}

// Green or red where a significant difference reads as more positive or negative, blue where the measure has
// no such reading, grey where nothing significant was found.
export function colour(row) {
  if (!row.significant) return "#a0a7ad";
  const sign = polarity(row.measure) * Math.sign(row.difference);
  return sign > 0 ? "#2e8b57" : sign < 0 ? "#c0392b" : "#2f6db5";
}

const LABEL_W = 210, PLOT_W = 460, ROW_H = 26, TOP = 26;

export function forestPlot(rows, range, onPick) {
  const span = range[1] - range[0];
  const x = v => LABEL_W + (v + span / 2) / span * PLOT_W;
  const height = TOP + rows.length * ROW_H + 30;
  const chart = svg("svg", {class: "chart forest", width: LABEL_W + PLOT_W + 20, height, role: "img"},
    svg("line", {x1: x(0), x2: x(0), y1: TOP - 8, y2: height - 24, stroke: "#333", "stroke-dasharray": "4 3"}),
    [-span / 2, -span / 4, 0, span / 4, span / 2].map(v => svg("text", {x: x(v), y: height - 8, "text-anchor": "middle",
      class: "tick"}, v.toFixed(2))));
  rows.forEach((row, i) => {
    const y = TOP + i * ROW_H + ROW_H / 2;
    chart.append(svg("g", {class: "forest-row", "data-segment": row.segment, "data-significant": row.significant,
        onclick: () => onPick(row)},
      svg("title", {}, `${row.segment}: ${row.measure} ${row.b} − ${row.a} = ${row.difference.toFixed(3)}`
        + ` (95% CI ${row.ci_low.toFixed(3)} … ${row.ci_high.toFixed(3)}), g ${row.hedges_g?.toFixed(2) ?? "–"},`
        + ` q ${row.q?.toFixed(4) ?? "–"}, ${row.design}`),
      svg("rect", {x: 0, y: y - ROW_H / 2, width: LABEL_W + PLOT_W, height: ROW_H, fill: "transparent"}),
      svg("text", {x: LABEL_W - 8, y: y + 4, "text-anchor": "end", class: "label"}, `${row.segment} (n ${row.n_a}/${row.n_b})`),
      svg("line", {x1: x(row.ci_low), x2: x(row.ci_high), y1: y, y2: y, stroke: colour(row), "stroke-width": 4}),
      svg("circle", {cx: x(row.difference), cy: y, r: 6, fill: colour(row)})));
  });
  return chart;
}

export function emotionMix(estimates, groups, segments, onPick) {
  const rows = segments.flatMap(segment => groups.map(group => ({segment, group})));
  const mean = {};
  for (const e of estimates) if (EMOTIONS.includes(e.measure)) mean[`${e.segment}|${e.group}|${e.measure}`] = e.mean ?? 0;
  const height = TOP + rows.length * 20 + 30;
  const chart = svg("svg", {class: "chart mix", width: LABEL_W + PLOT_W + 120, height, role: "img"});
  rows.forEach(({segment, group}, i) => {
    const y = TOP + i * 20;
    let left = 0;
    const bar = svg("g", {class: "mix-row", onclick: () => onPick({segment, group})},
      svg("text", {x: LABEL_W - 8, y: y + 14, "text-anchor": "end", class: "label"}, `${segment} · ${group}`));
    for (const emotion of EMOTIONS) {
      const share = mean[`${segment}|${group}|${emotion}`] ?? 0;
      bar.append(svg("rect", {x: LABEL_W + left * PLOT_W, y: y + 2, width: share * PLOT_W, height: 16, fill: COLORS[emotion]},
        svg("title", {}, `${segment}, ${group}: ${emotion} ${(share * 100).toFixed(1)}% of the time`)));
      left += share;
    }
    chart.append(bar);
  });
  EMOTIONS.forEach((emotion, i) => chart.append(
    svg("rect", {x: LABEL_W + PLOT_W + 12, y: TOP + i * 16, width: 10, height: 10, fill: COLORS[emotion]}),
    svg("text", {x: LABEL_W + PLOT_W + 26, y: TOP + i * 16 + 9, class: "tick"}, emotion)));
  return chart;
}

// A colour for value in [low, high]: red to yellow to green for measures with a reading, else light to dark blue.
function heat(value, [low, high], measure) {
  const t = Math.min(1, Math.max(0, (value - low) / (high - low)));
  if (polarity(measure) === 0) return `hsl(210, 60%, ${85 - 55 * t}%)`;
  const reading = polarity(measure) > 0 ? t : 1 - t;
  return `hsl(${reading * 120}, 65%, 48%)`;
}

export function heatStrip(values, groups, segments, measure, range, onPick) {
  const order = groups.flatMap(group => [...new Set(values.filter(v => v.group === group).map(v => v.participant))].sort()
    .map(participant => ({group, participant})));
  const cell = {};
  for (const v of values) cell[`${v.group}|${v.participant}|${v.segment}`] = v;
  const width = 90, height = 16;
  const chart = svg("svg", {class: "chart heat", width: LABEL_W + segments.length * width + 20,
    height: TOP + 40 + order.length * height, role: "img"});
  segments.forEach((segment, j) => chart.append(svg("text", {x: LABEL_W + j * width + width / 2, y: TOP + 24,
    "text-anchor": "middle", class: "tick"}, segment)));
  order.forEach(({group, participant}, i) => {
    const y = TOP + 32 + i * height;
    chart.append(svg("text", {x: LABEL_W - 8, y: y + 12, "text-anchor": "end", class: "label"}, `${group} · ${participant}`));
    segments.forEach((segment, j) => {
      const v = cell[`${group}|${participant}|${segment}`];
      const value = v ? v[measure] : null;
      chart.append(svg("rect", {x: LABEL_W + j * width, y, width: width - 2, height: height - 2, class: "heat-cell",
          fill: value === null || value === undefined ? "#eee" : heat(value, range, measure),
          onclick: () => v && onPick(v)},
        svg("title", {}, `${participant}, ${group}, ${segment}: ${measure} ${value === null || value === undefined ? "no face" : value.toFixed(3)}`)));
    });
  });
  return chart;
}

export function trendChart(estimates, groups, segments, measure, range) {
  const W = 560, H = 260, left = 50, top = 16, bottom = 30;
  const x = i => left + (groups.length === 1 ? 0 : i / (groups.length - 1)) * (W - left - 150);
  const y = v => top + (1 - (v - range[0]) / (range[1] - range[0])) * (H - top - bottom);
  const chart = svg("svg", {class: "chart trend", width: W, height: H, role: "img"},
    svg("line", {x1: left, x2: W - 150, y1: y(0), y2: y(0), stroke: "#bbb"}),
    groups.map((g, i) => svg("text", {x: x(i), y: H - 10, "text-anchor": "middle", class: "tick"}, g)),
    [range[0], (range[0] + range[1]) / 2, range[1]].map(v => svg("text", {x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick"}, v)));
  const palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
  segments.forEach((segment, k) => {
    const points = groups.map((g, i) => [i, estimates.find(e => e.group === g && e.segment === segment && e.measure === measure)]);
    const shown = points.filter(([, e]) => e && e.mean !== null);
    const colour = palette[k % palette.length];
    chart.append(svg("g", {class: "trend-line", "data-segment": segment},
      svg("polyline", {points: shown.map(([i, e]) => `${x(i)},${y(e.mean)}`).join(" "), fill: "none", stroke: colour, "stroke-width": 2}),
      shown.map(([i, e]) => [
        e.ci_low !== null ? svg("line", {x1: x(i), x2: x(i), y1: y(e.ci_low), y2: y(e.ci_high), stroke: colour, opacity: 0.5, "stroke-width": 3}) : null,
        svg("circle", {cx: x(i), cy: y(e.mean), r: 4, fill: colour}, svg("title", {}, `${segment}, ${groups[i]}: ${e.mean.toFixed(3)} (n ${e.n})`))]),
      svg("text", {x: W - 140, y: top + 14 * k + 10, style: `fill: ${colour}`, class: "tick"}, segment)));
  });
  return chart;
}
