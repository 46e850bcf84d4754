// The lanes under the video, on one time axis (uPlot, canvas): stacked emotion probabilities per player,
// valence and arousal, faces visible (and attention), events and segments. Annotations are drawn in every
// lane, the playhead follows the player; pressing or dragging in a lane seeks, the wheel zooms, a double
// click shows the whole session again.
import {el} from "./util.js";

export const EMOTION_COLORS = {angry: "#d62728", disgust: "#8c564b", fear: "#9467bd", happy: "#2ca02c",
  sad: "#1f77b4", surprise: "#ff7f0e", neutral: "#bdbdbd"};
const PLAYER_COLORS = ["#2c7fb8", "#d95f0e", "#31a354", "#756bb1", "#e7298a"];
const LANE_HEIGHT = 130;
const ZOOM_STEP = 1.5;

export class Lanes {
  // data: {visibility: {time_s, faces}, players: {id: {time_s, p_*, valence, arousal, ...}}}
  constructor(container, data, {duration, segments, onSeek}) {
    this.container = container;
    this.data = data;
    this.duration = duration;
    this.segments = segments;
    this.onSeek = onSeek;
    this.annotations = [];
    this.time = 0;
    this.range = null;  // [min, max] when zoomed
    this.build();
    window.addEventListener("resize", () => this.charts.forEach(c => c.setSize({width: this.width(), height: LANE_HEIGHT})));
  }

  width() { return Math.max(400, this.container.clientWidth - 10); }

  end() {
    const times = this.data.visibility.time_s;
    return Math.max(this.duration || 0, times.length ? times[times.length - 1] : 0, 1);
  }

  build() {
    this.charts?.forEach(c => c.destroy());
    this.container.replaceChildren();
    this.charts = [];
    for (const [player, columns] of Object.entries(this.data.players)) {
      this.lane(`player ${player}: emotions (stacked probabilities)`, ...stacked(columns), [0, 1]);
    }
    this.lane("valence and arousal", ...affect(this.data.players), [-1, 1]);
    this.lane("faces visible" + (hasAttention(this.data.players) ? " and attention" : ""),
              ...visibilityLane(this.data.visibility, this.data.players), null);
    this.lane("events and segments; annotations", [[0, this.end()], [null, null]], [{}, {label: "events", show: false}],
              [0, 1], true);
  }

  lane(title, data, series, yRange, isEvents = false) {
    const box = el("div", {class: "lane", "data-lane": title});
    this.container.append(el("div", {class: "lane-title"}, title), box);
    const lanes = this;
    const chart = new uPlot({
      width: this.width(), height: LANE_HEIGHT, series,
      scales: {x: {time: false, range: () => this.range || [0, this.end()]},
               y: yRange ? {range: () => yRange} : {}},
      axes: [{}, {size: 45}],
      cursor: {drag: {x: false, y: false}, sync: {key: "lanes"}},
      legend: {show: !isEvents},
      hooks: {draw: [u => { if (isEvents) lanes.drawSegments(u); lanes.drawAnnotations(u, isEvents); }]},
    }, data, box);
    const head = el("div", {class: "playhead"});
    chart.over.append(head);
    chart.playhead = head;
    this.attachPointer(chart);
    this.charts.push(chart);
  }

  attachPointer(chart) {
    const timeAt = event => chart.posToVal(event.clientX - chart.over.getBoundingClientRect().left, "x");
    let pressed = false;
    chart.over.addEventListener("mousedown", event => { pressed = true; this.onSeek(timeAt(event)); });
    chart.over.addEventListener("mousemove", event => { if (pressed) this.onSeek(timeAt(event)); });
    window.addEventListener("mouseup", () => { pressed = false; });
    chart.over.addEventListener("wheel", event => {
      event.preventDefault();
      this.zoom(event.deltaY < 0 ? 1 / ZOOM_STEP : ZOOM_STEP, timeAt(event));
    }, {passive: false});
    chart.over.addEventListener("dblclick", () => this.showRange(null));
  }

  // Zooms by factor (< 1: in) around time `around` (default: the playhead).
  zoom(factor, around = this.time) {
    const [min, max] = this.range || [0, this.end()];
    const width = Math.min(this.end(), Math.max(1, (max - min) * factor));
    let low = around - (around - min) * (width / (max - min));
    low = Math.min(Math.max(0, low), this.end() - width);
    this.showRange(width >= this.end() ? null : [low, low + width]);
  }

  showRange(range) {
    this.range = range;
    const [min, max] = range || [0, this.end()];
    this.charts.forEach(c => c.setScale("x", {min, max}));
    this.setTime(this.time);
  }

  setTime(time) {
    this.time = time;
    for (const chart of this.charts) {
      const x = chart.valToPos(time, "x");
      chart.playhead.style.left = `${x}px`;
      chart.playhead.style.display = x >= 0 && x <= chart.over.clientWidth ? "" : "none";
    }
  }

  setAnnotations(annotations) {
    this.annotations = annotations;
    this.charts.forEach(c => c.redraw(false));
  }

  // Live rows: appended to the columns, lanes redrawn (rebuilt when a new player appears).
  append(chunk) {
    const visibility = this.data.visibility;
    chunk.visibility.time_s.forEach((t, i) => { visibility.time_s.push(t); visibility.faces.push(chunk.visibility.faces[i]); });
    let newPlayer = false;
    for (const [player, columns] of Object.entries(chunk.players)) {
      const known = this.data.players[player];
      if (!known) { this.data.players[player] = columns; newPlayer = true; continue; }
      for (const [name, values] of Object.entries(columns)) (known[name] ||= []).push(...values);
    }
    if (newPlayer) { this.build(); this.showRange(this.range); return; }
    const datas = [...Object.values(this.data.players).map(c => stacked(c)[0]), affect(this.data.players)[0],
                   visibilityLane(visibility, this.data.players)[0], [[0, this.end()], [null, null]]];
    this.charts.forEach((chart, i) => chart.setData(datas[i]));
    this.setTime(this.time);
  }

  drawSegments(u) {
    const {ctx} = u;
    const top = u.bbox.top, height = u.bbox.height;
    ctx.save();
    ctx.font = `${11 * devicePixelRatio}px sans-serif`;
    this.segments.forEach((segment, i) => {
      const x0 = u.valToPos(segment.start_s, "x", true), x1 = u.valToPos(segment.end_s, "x", true);
      ctx.fillStyle = segment.moment ? "rgba(0,0,0,0.08)" : `hsla(${(i * 67) % 360},60%,55%,0.25)`;
      ctx.fillRect(x0, top + height * 0.35, Math.max(1, x1 - x0), height * 0.4);
      ctx.fillStyle = "#333";
      ctx.fillText(segment.segment, x0 + 2, top + height * 0.35 - 3 * devicePixelRatio);
    });
    ctx.restore();
  }

  drawAnnotations(u, withText) {
    const {ctx} = u;
    ctx.save();
    ctx.strokeStyle = ctx.fillStyle = "#e69500";
    ctx.lineWidth = 2 * devicePixelRatio;
    ctx.font = `${11 * devicePixelRatio}px sans-serif`;
    for (const note of this.annotations) {
      const x = u.valToPos(note.time_s, "x", true);
      ctx.beginPath();
      ctx.moveTo(x, u.bbox.top);
      ctx.lineTo(x, u.bbox.top + u.bbox.height);
      ctx.stroke();
      if (withText) ctx.fillText(note.text || note.kind, x + 3, u.bbox.top + u.bbox.height - 4 * devicePixelRatio);
    }
    ctx.restore();
  }
}

// One player's emotions as cumulative sums, drawn from the top share down so each band shows one emotion.
function stacked(columns) {
  const emotions = Object.keys(EMOTION_COLORS).filter(e => columns["p_" + e]);
  const sums = [];
  let running = columns.time_s.map(() => 0);
  for (const emotion of emotions) {
    running = running.map((sum, i) => sum + (columns["p_" + emotion][i] ?? 0));
    sums.push(running);
  }
  const order = emotions.map((_, i) => i).reverse();
  const series = [{}, ...order.map(i => ({label: emotions[i], stroke: EMOTION_COLORS[emotions[i]],
    fill: EMOTION_COLORS[emotions[i]], width: 0, points: {show: false},
    value: (u, v, s, index) => index == null ? "" : (columns["p_" + emotions[i]][index] ?? 0).toFixed(2)}))];
  return [[columns.time_s, ...order.map(i => sums[i])], series];
}

// Valence and arousal of every player (and calibrated ones when the timeline has them), on one time axis.
function affect(players) {
  const tables = [], series = [{}];
  Object.entries(players).forEach(([player, columns], p) => {
    const names = Object.keys(columns).filter(n => /^(valence|arousal)/.test(n));
    tables.push([columns.time_s, ...names.map(n => columns[n])]);
    names.forEach(name => series.push({label: `${name} ${player}`, stroke: PLAYER_COLORS[p % PLAYER_COLORS.length],
      dash: name.startsWith("arousal") ? [6, 3] : undefined, width: name.includes("_") ? 1 : 1.5,
      points: {show: false}, spanGaps: false}));
  });
  return [tables.length ? uPlot.join(tables) : [[], []], tables.length ? series : [{}, {label: "none"}]];
}

function hasAttention(players) {
  return Object.values(players).some(columns => Object.keys(columns).some(n => n.startsWith("attention")));
}

function visibilityLane(visibility, players) {
  const tables = [[visibility.time_s, visibility.faces]];
  const series = [{}, {label: "faces", stroke: "#444", fill: "rgba(68,68,68,0.15)", paths: uPlot.paths.stepped({align: 1}),
    points: {show: false}}];
  Object.entries(players).forEach(([player, columns]) => {
    for (const name of Object.keys(columns).filter(n => n.startsWith("attention"))) {
      tables.push([columns.time_s, columns[name]]);
      series.push({label: `${name} ${player}`, stroke: "#9467bd", points: {show: false}});
    }
  });
  return [tables.length > 1 ? uPlot.join(tables) : tables[0], series];
}
