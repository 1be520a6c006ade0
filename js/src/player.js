// jupyter_k8stty.Player: replay an asciicast v2 recording with the terminal's xterm.js.
//
// Messages (jupyter_k8stty/widget/player.py):
//   browser -> kernel  {type: "ready", view}             send the recording
//                      {type: "error", message}          a failure here (logged)
//   kernel -> browser  {type: "cast", view} + [bytes]    the .cast file
//                      {type: "error", message}          shown on the error line
//
// Times are those of the recording with pauses longer than the `idle_time_limit` trait
// cut to it. Playback follows the wall clock (a slow frame catches up, it does not
// drift); seeking resets the screen and writes every output event up to that time.

import "./player.css";

import { sendNoticed } from "./send.js";
import { createTerminal } from "./terminal.js";

/** Speeds offered (jupyter_k8stty/widget/player.py SPEEDS). */
export const SPEEDS = [0.25, 0.5, 1, 1.5, 2, 4, 8];
/** Seconds an arrow key moves. */
const STEP_SECONDS = 5;
/** Milliseconds between two updates of the time and the slider while playing. */
const UI_INTERVAL_MS = 200;

/**
 * Parse an asciicast v2 file: its header and its output and resize events, with
 * `t` on the timeline whose pauses are cut to `idleLimit` seconds (0: kept).
 * @param {Uint8Array} bytes
 * @param {number} idleLimit
 */
export function parseCast(bytes, idleLimit) {
  const lines = new TextDecoder().decode(bytes).split("\n");
  const header = JSON.parse(lines[0]);
  if (header?.version !== 2) throw new Error("not an asciicast v2 recording");
  const events = [];
  let last = 0;
  let t = 0;
  for (const line of lines.slice(1)) {
    if (!line.trim()) continue;
    let event;
    try {
      event = JSON.parse(line);
    } catch {
      continue; // the cut last line of a recording still being written
    }
    const [time, code, data] = event;
    const gap = Math.max(0, time - last);
    t += idleLimit > 0 ? Math.min(gap, idleLimit) : gap;
    last = time;
    if (code === "o" || code === "r") events.push({ t, code, data });
  }
  return { header, events, duration: t };
}

function formatTime(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function toBytes(buffer) {
  if (buffer instanceof Uint8Array) return buffer;
  if (ArrayBuffer.isView(buffer)) return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  return new Uint8Array(0);
}

/**
 * Render a player view (called by widget.js's render when `_view` is "player").
 * @returns {() => void} cleanup
 */
export function renderPlayer(model, el_, line, reporter, send) {
  const { guard } = reporter;
  const viewId = globalThis.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random()}`;
  const cols = model.get("cols") || 80;
  const rows = model.get("rows") || 24;

  const root = el("div", "k8stty k8stty-player");
  root.tabIndex = 0;
  const bar = el("div", "k8stty-header k8stty-player-bar");
  const title = el("span", "k8stty-title", model.get("title") || "recording");
  const play = el("button", "k8stty-action k8stty-action-play", "Play");
  play.type = "button";
  play.dataset.k8sttyAction = "play";
  play.setAttribute("aria-label", "Play");
  play.disabled = true;
  const seek = el("input", "k8stty-player-seek");
  seek.type = "range";
  seek.min = "0";
  seek.step = "0.01";
  seek.value = "0";
  seek.setAttribute("aria-label", "Position");
  seek.disabled = true;
  const time = el("span", "k8stty-player-time", "0:00 / 0:00");
  const speed = el("select", "k8stty-player-speed");
  speed.setAttribute("aria-label", "Speed");
  for (const value of SPEEDS) {
    const option = el("option", "", `${value}\u00d7`);
    option.value = String(value);
    speed.append(option);
  }
  speed.value = String(model.get("speed") || 1);
  bar.append(title, play, seek, time, speed);
  const screen = el("div", "k8stty-player-screen");
  root.append(bar, screen, line.el);
  el_.appendChild(root);

  // screenReaderMode: the replayed screen is readable by assistive technology (and tests).
  const xt = createTerminal(root, { disableStdin: true, cursorBlink: false, screenReaderMode: true },
    rows, guard);
  const { term } = xt;
  term.resize(cols, rows);

  let cast = null; // {header, events, duration}
  let index = 0; // next event to apply
  let position = 0; // seconds on the cut timeline
  let playing = false;
  let startWall = 0; // performance.now() at position 0, at the current speed
  let timer = null;
  let uiTimer = null;
  let disposed = false;
  let opened = false;

  const rate = () => Number(model.get("speed")) || 1;
  let clockRate = rate(); // the speed the running clock was started at
  const now = () => (playing ? ((performance.now() - startWall) * clockRate) / 1000 : position);

  const updateUi = () => {
    const duration = cast ? cast.duration : 0;
    const at = Math.min(now(), duration);
    time.textContent = `${formatTime(at)} / ${formatTime(duration)}`;
    seek.max = String(duration);
    seek.value = String(at);
    play.textContent = playing ? "Pause" : "Play";
    play.setAttribute("aria-label", play.textContent);
    root.dataset.state = playing ? "playing" : index >= (cast?.events.length ?? 0) && cast ? "ended" : "paused";
    root.dataset.position = at.toFixed(2);
  };

  const apply = (event) => {
    if (event.code === "o") {
      term.write(event.data);
    } else if (event.code === "r") {
      const [c, r] = String(event.data).split("x").map(Number);
      if (c > 0 && r > 0) term.resize(c, r);
    }
  };

  const schedule = () => {
    clearTimeout(timer);
    timer = null;
    if (!playing || !cast || disposed) return;
    const next = cast.events[index];
    if (!next) {
      position = cast.duration;
      playing = false;
      updateUi();
      return;
    }
    const due = startWall + (next.t * 1000) / clockRate;
    timer = setTimeout(tick, Math.max(0, due - performance.now()));
  };

  const tick = guard("playing the recording", () => {
    const at = now();
    let chunk = "";
    while (cast && index < cast.events.length && cast.events[index].t <= at) {
      const event = cast.events[index++];
      if (event.code === "o") {
        chunk += event.data; // one write per tick: a burst renders once
      } else {
        if (chunk) term.write(chunk);
        chunk = "";
        apply(event);
      }
    }
    if (chunk) term.write(chunk);
    schedule();
  });

  const start = () => {
    if (!cast) return;
    if (index >= cast.events.length) seekTo(0);
    playing = true;
    clockRate = rate();
    startWall = performance.now() - (position * 1000) / clockRate;
    clearInterval(uiTimer);
    uiTimer = setInterval(guard("updating the player", updateUi), UI_INTERVAL_MS);
    schedule();
    updateUi();
  };

  const pause = () => {
    position = now();
    playing = false;
    clearTimeout(timer);
    clearInterval(uiTimer);
    updateUi();
  };

  function seekTo(target) {
    if (!cast) return;
    const wasPlaying = playing;
    if (wasPlaying) pause();
    position = Math.max(0, Math.min(target, cast.duration));
    term.reset();
    term.resize(cols, rows);
    index = 0;
    let chunk = "";
    while (index < cast.events.length && cast.events[index].t <= position) {
      const event = cast.events[index++];
      if (event.code === "o") chunk += event.data;
      else {
        term.write(chunk);
        chunk = "";
        apply(event);
      }
    }
    if (chunk) term.write(chunk);
    if (wasPlaying) start();
    else updateUi();
  }

  play.addEventListener("click", guard("starting or pausing", () => (playing ? pause() : start())));
  seek.addEventListener("input", guard("seeking", () => seekTo(Number(seek.value))));
  speed.addEventListener("change", guard("changing the speed", () => {
    model.set("speed", Number(speed.value));
    model.save_changes();
  }));
  const onSpeed = guard("changing the speed", () => {
    speed.value = String(rate());
    if (playing) {
      pause(); // the position at the old rate
      start(); // the clock at the new one
    }
  });
  model.on("change:speed", onSpeed);
  root.addEventListener("keydown", guard("handling a key", (event) => {
    if (event.target !== root) return;
    if (event.key === " ") (playing ? pause : start)();
    else if (event.key === "ArrowLeft") seekTo(now() - STEP_SECONDS);
    else if (event.key === "ArrowRight") seekTo(now() + STEP_SECONDS);
    else return;
    event.preventDefault();
  }));

  const onMessage = guard("handling a message from the kernel", (msg, buffers) => {
    if (msg?.type === "error") {
      line.show(String(msg.message || "error in the kernel"));
      return;
    }
    if (msg?.type !== "cast" || (msg.view && msg.view !== viewId) || cast) return;
    cast = parseCast(toBytes(buffers?.[0]), Number(model.get("idle_time_limit")) || 0);
    play.disabled = false;
    seek.disabled = false;
    updateUi();
    if (model.get("autoplay")) start();
  });
  model.on("msg:custom", onMessage);

  const open = () => {
    if (opened || disposed || !screen.isConnected) return;
    opened = true;
    xt.open(screen);
  };
  const observer = new ResizeObserver(guard("opening the player", open));
  observer.observe(screen);
  open();
  const stopReady = sendNoticed(model, { type: "ready", view: viewId });
  updateUi();

  return () => {
    disposed = true;
    stopReady();
    clearTimeout(timer);
    clearInterval(uiTimer);
    observer.disconnect();
    model.off("msg:custom", onMessage);
    model.off("change:speed", onSpeed);
    xt.dispose();
    root.remove();
  };
}
