// A session's page: the recording (or its flip-book), the lanes, strongest moments, segments, annotations;
// for a live session, rows streamed from the server as the analysis classifies them.
import {api, el, errors, number, table} from "./util.js";
import {FlipBook, syncedSecondVideo, videoPlayer} from "./player.js";
import {Lanes} from "./lanes.js";

const ANNOTATIONS_REFRESH_MS = 2000;

export async function showSession(root, id) {
  document.getElementById("where").textContent = "session " + id;
  let data;
  try {
    data = await api("/api/session?id=" + encodeURIComponent(id));
  } catch (error) {
    root.replaceChildren(el("h1", {}, "Session " + id), ...errors([error.message]));
    return;
  }
  const summary = data.summary || {};
  const lanesData = data.lanes || {visibility: {time_s: [], faces: []}, players: {}};
  const times = lanesData.visibility.time_s;
  const duration = summary.duration_s || (times.length ? times[times.length - 1] : 0);
  const media = el("div", {class: "media"});
  const lanesBox = el("div", {class: "lanes", id: "lanes"});
  const status = el("span", {id: "status"});
  root.replaceChildren(
    el("h1", {}, "Session " + id, " ", data.live ? el("span", {class: "live", id: "live-badge"}, "live") : null),
    el("div", {id: "errors"}, errors(data.errors)),
    ...(summary.warnings || []).map(w => el("p", {class: "warn"}, w)),
    el("p", {}, `build ${summary.build ?? "–"} · ${summary.players ?? "?"} player${summary.players === 1 ? "" : "s"} · ${number(duration, 1)} s · `,
      `face visible ${number(summary.face_visible_ratio, 2)} · `, status),
    media);

  // The player: the recording, the flip-book if the browser cannot decode it, or a clock with no recording.
  let player;
  const flipBook = withFrames => {
    const url = withFrames ? t => `/api/frame?id=${encodeURIComponent(id)}&t=${t}` : null;
    const book = new FlipBook(duration, times, url);
    const controls = el("div", {class: "toolbar"},
      el("button", {id: "play", onclick: () => book.paused ? book.play() : book.pause()}, "play / pause"));
    if (withFrames) status.textContent = "this browser cannot play the recording's codec: showing the sampled frames";
    return {book, element: el("div", {id: "flipbook"}, book.element, controls)};
  };
  if (data.video) {
    const slot = el("div");
    player = videoPlayer(data.video, () => {
      const fallback = flipBook(true);
      fallback.book.currentTime = player.currentTime;  // a seek made before the codec was found unplayable
      player = fallback.book;
      slot.replaceChildren(fallback.element);
    });
    slot.append(player);
    media.append(slot);
  } else {
    const fallback = flipBook(false);
    player = fallback.book;
    media.append(fallback.element);
  }
  const second = syncedSecondVideo({get currentTime() { return player.currentTime; },
                                    get paused() { return player.paused; }}, data.gameplay);
  media.append(second.element);

  const seek = t => { player.currentTime = Math.max(0, t); lanes.setTime(player.currentTime); };
  const zoomBar = el("div", {class: "toolbar"},
    el("button", {id: "zoom-in", onclick: () => lanes.zoom(1 / 2)}, "zoom in"),
    el("button", {id: "zoom-out", onclick: () => lanes.zoom(2)}, "zoom out"),
    el("button", {id: "zoom-all", onclick: () => lanes.showRange(null)}, "whole session"),
    el("button", {id: "export-clip", onclick: () => download(clipUrl(id, player.currentTime, "face"))}, "export 4 s clip at cursor"),
    data.gameplay ? el("button", {id: "export-gameplay-clip", onclick: () => download(clipUrl(id, player.currentTime, "gameplay"))},
      "export gameplay clip") : null,
    el("span", {class: "lane-title"}, "press or drag in a lane to seek; wheel to zoom; double-click for the whole session"));
  root.append(zoomBar, lanesBox);
  const lanes = new Lanes(lanesBox, lanesData, {duration, segments: summary.segments || [], onSeek: seek});
  window.__lanes = lanes;  // for tests and the console

  const annotationsBox = el("div", {id: "annotations"});
  root.append(el("div", {class: "columns"},
    el("div", {}, el("h2", {}, "Annotations"), annotationsBox),
    el("div", {}, el("h2", {}, "Strongest moments"), momentsTable(summary.strongest_moments || [], seek, id)),
    el("div", {}, el("h2", {}, "Segments"), segmentsTables(summary.per_player || {}, seek))));
  const annotations = annotationEditor(annotationsBox, id, () => player.currentTime, seek, list => lanes.setAnnotations(list));
  annotations.show(data.annotations);
  const start = Number(new URLSearchParams(location.search).get("t"));  // /session/NAME?t=11.2 opens there
  if (start > 0) seek(start);

  let shown = -1;
  const follow = () => {
    if (player.currentTime !== shown) { shown = player.currentTime; lanes.setTime(shown); }
    second.sync();
    requestAnimationFrame(follow);
  };
  requestAnimationFrame(follow);
  if (data.live) followLive(id, data.offset, lanes, status);
}

function followLive(id, offset, lanes, status) {
  const source = new EventSource(`/api/stream?id=${encodeURIComponent(id)}&offset=${offset}`);
  let rows = 0;
  source.addEventListener("rows", event => {
    const chunk = JSON.parse(event.data);
    rows += chunk.lanes.visibility.time_s.length;
    lanes.append(chunk.lanes);
    status.textContent = `live: ${rows} new sampled frames`;
  });
  source.addEventListener("done", () => { source.close(); location.reload(); });  // now a finished session
}

const clipUrl = (id, t, which) => `/api/clip?id=${encodeURIComponent(id)}&t=${t.toFixed(2)}&seconds=4&which=${which}`;

function download(url) {
  el("a", {href: url, download: ""}).click();
}

function momentsTable(moments, seek, id) {
  return table(["time (s)", "player", "emotion", "probability", ""], moments.map(m =>
    el("tr", {class: "seek moment", "data-time": m.time_s, onclick: () => seek(m.time_s)},
      el("td", {}, number(m.time_s, 1)), el("td", {}, m.player), el("td", {}, m.emotion),
      el("td", {}, number(m.probability, 2)),
      el("td", {}, el("a", {class: "clip", href: clipUrl(id, m.time_s, "face"), download: "", onclick: event => event.stopPropagation()}, "clip")))));
}

function segmentsTables(perPlayer, seek) {
  return Object.entries(perPlayer).map(([player, stats]) => [el("h3", {}, "player " + player),
    table(["segment", "start (s)", "end (s)", "dominant", "valence", "arousal", "face visible"],
      (stats.segments || []).map(s => el("tr", {class: "seek segment", "data-time": s.start_s, onclick: () => seek(s.start_s)},
        el("td", {}, s.segment), el("td", {}, number(s.start_s, 1)), el("td", {}, number(s.end_s, 1)),
        el("td", {}, s.dominant_emotion ?? ""), el("td", {}, number(s.valence, 2)), el("td", {}, number(s.arousal, 2)),
        el("td", {}, number(s.face_visible_ratio, 2)))))]);
}

// Add, edit and delete markers and notes; every change goes to the server, which merges it into the file.
function annotationEditor(box, id, now, seek, onChange) {
  const url = "/api/annotations";
  const query = "?id=" + encodeURIComponent(id);
  const kind = el("select", {id: "annotation-kind"}, el("option", {}, "marker"), el("option", {}, "note"));
  const text = el("input", {type: "text", id: "annotation-text", placeholder: "what happens here"});
  const message = el("div");
  const list = el("div");
  const add = el("button", {id: "annotation-add", onclick: () => change(() => api(url + query, {method: "POST",
    body: JSON.stringify({time_s: now(), kind: kind.value, text: text.value})}).then(() => { text.value = ""; }))},
    "add at cursor");
  box.append(el("div", {class: "toolbar"}, kind, text, add), message, list);

  async function change(operation) {
    message.replaceChildren();
    try { await operation(); } catch (error) {
      message.replaceChildren(...errors([error.status === 409 ? `${error.message} (reloaded)` : error.message]));
    }
    show((await api(url + query).catch(() => ({annotations: []}))).annotations);
  }

  let shownJson = "";
  function show(annotations) {
    shownJson = JSON.stringify(annotations);
    onChange(annotations);
    list.replaceChildren(table(["time (s)", "kind", "text", ""], annotations.map(a => {
      const edited = el("input", {type: "text", value: a.text, class: "annotation-edit"});
      const body = extra => JSON.stringify({...a, ...extra, revision: a.revision});
      return el("tr", {class: "annotation", "data-id": a.id},
        el("td", {class: "seek", onclick: () => seek(a.time_s)}, number(a.time_s, 2)), el("td", {}, a.kind),
        el("td", {}, edited),
        el("td", {}, el("button", {class: "annotation-save", onclick: () => change(() =>
            api(`${url}/${a.id}${query}`, {method: "PUT", body: body({text: edited.value})}))}, "save"),
          el("button", {class: "annotation-delete", onclick: () => change(() =>
            api(`${url}/${a.id}${query}`, {method: "DELETE", body: body({})}))}, "delete")));
    })));
  }
  // Other tabs' changes appear within a few seconds (not while this tab's text is being edited).
  setInterval(async () => {
    if (document.activeElement?.classList.contains("annotation-edit")) return;
    const latest = await api(url + query).catch(() => null);
    if (latest && JSON.stringify(latest.annotations) !== shownJson) show(latest.annotations);
  }, ANNOTATIONS_REFRESH_MS);
  return {show};
}
