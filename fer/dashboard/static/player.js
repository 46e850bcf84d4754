// What plays a session: its recording in a <video>, or, where the browser cannot decode the recording's
// codec (OpenCV writes MPEG-4 part 2, "mp4v"), a flip-book of the sampled frames that the server decodes.
// Both have the <video> element's currentTime, duration, paused, play() and pause().
import {api, el} from "./util.js";

export class FlipBook {
  // frameTimes: the sampled times, sorted; frameUrl(t) gives the image of the frame at t, or null (no images)
  constructor(duration, frameTimes, frameUrl) {
    this.duration = duration;
    this.frameTimes = frameTimes;
    this.frameUrl = frameUrl;
    this.paused = true;
    this.time = 0;
    this.element = el("img", {class: "flipbook", alt: "sampled frames of the recording"});
    this.shownTime = null;
    this.loading = false;
    this.element.addEventListener("load", () => { this.loading = false; this.show(); });
    this.element.addEventListener("error", () => { this.loading = false; });
    this.show();
  }

  get currentTime() { return this.time; }
  set currentTime(t) { this.time = Math.min(Math.max(0, t), this.duration); this.show(); }

  play() {
    if (!this.paused) return;
    this.paused = false;
    let last = performance.now();
    const tick = now => {
      if (this.paused) return;
      this.currentTime = this.time + (now - last) / 1000;
      last = now;
      if (this.time >= this.duration) this.paused = true; else requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  pause() { this.paused = true; }

  // The latest sampled frame at or before the current time; one image is loaded at a time.
  show() {
    if (!this.frameUrl || this.loading || !this.frameTimes.length) return;
    let low = 0, high = this.frameTimes.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.frameTimes[middle] <= this.time) low = middle; else high = middle - 1;
    }
    const frameTime = this.frameTimes[low];
    if (frameTime === this.shownTime) return;
    this.shownTime = frameTime;
    this.loading = true;
    this.element.src = this.frameUrl(frameTime);
  }
}

// A <video> for the recording; calls onUnplayable() if the browser cannot play it.
export function videoPlayer(video, onUnplayable) {
  const element = el("video", {id: "recording", controls: true, preload: "auto", muted: true});
  let failed = false;
  const fail = () => { if (!failed) { failed = true; onUnplayable(); } };
  if (video.type && element.canPlayType(video.type) === "" && video.type !== "video/x-matroska") {
    setTimeout(fail);
  } else {
    element.addEventListener("error", fail);
    element.src = video.url;
  }
  return element;
}

// Keeps a second video (the gameplay capture: the one attached to the session, or a local file chosen here) at
// the main player's time plus an offset.
export function syncedSecondVideo(player, attached = null) {
  const second = el("video", {id: "gameplay", controls: true, muted: true});
  if (attached) second.src = attached.url;
  const offset = el("input", {type: "number", id: "gameplay-offset", step: "0.1", value: attached ? attached.offset_s : "0", size: 6});
  const file = el("input", {type: "file", accept: "video/*", id: "gameplay-file",
    onchange: () => { if (file.files[0]) second.src = URL.createObjectURL(file.files[0]); }});
  let lastSync = 0;
  const sync = () => {
    if (!second.src) return;
    const target = player.currentTime + (+offset.value || 0);
    if (Math.abs(second.currentTime - target) > 0.3 && performance.now() - lastSync > 250) {
      second.currentTime = Math.max(0, target);
      lastSync = performance.now();
    }
    if (player.paused !== second.paused) player.paused ? second.pause() : second.play().catch(() => {});
  };
  const saved = el("span", {id: "gameplay-saved"});
  const save = attached ? el("button", {id: "gameplay-save", onclick: async () => {
    try {
      await api(attached.saveUrl, {method: "PUT", body: JSON.stringify({offset_s: +offset.value || 0})});
      saved.textContent = "saved";
    } catch (error) { saved.textContent = error.message; }
  }}, "save offset") : null;
  const controls = el("div", {class: "toolbar"}, "gameplay capture ", attached ? `${attached.name} (attached) or ` : "", file,
    " offset (s: gameplay time = recording time + offset) ", offset, save, saved);
  return {element: el("div", {}, controls, second), sync};
}
