// The anywidget front end of jupyter_k8stty.Terminal (loaded by loader.js, see there).
//
// Messages (the full list, with the kernel side, is in jupyter_k8stty/widget/messages.py):
//   kernel -> browser  {type: "output"} + [bytes]      append to the screen, ack once parsed
//                      {type: "replay", view} + [bytes] reset the screen, write the recent tail
//                      {type: "skip"}                   drop undrawn output (Ctrl-C in a flood)
//                      {type: "skipped", bytes} + [bytes]  write the end of the skipped output
//                      {type: "error", message}         show on the error line under the terminal
//                      {type: "bundle", hash} + [js, css]  the front end (handled by loader.js)
//                      {type: "snapshot", request, scrollback}  serialize the screen (snapshot.js)
//   browser -> kernel  {type: "input"} + [bytes]        keystrokes and pastes
//                      {type: "ack", view, bytes}       bytes of output xterm has parsed
//                      {type: "ready", view}            this view rendered; asks for a replay
//                      {type: "detach", view}           this view went away
//                      {type: "reconnect"}              start a fresh session
//                      {type: "debug"}                  reopen in a new debug container (session_modes.js)
//                      {type: "error", message}         a failure in this front end (logged)
//                      {type: "bundle", request}        send the front end, once per request id (loader.js)
//   both ways          {type: "upload-*" | "download-*"}  files, see transfers.js (and features.js
//                                                         for search, zoom, full screen, links...)
//                      {type: "snapshot", request, html, text, cols, rows}  the screen (snapshot.js)
// A jupyter_k8stty.Player (`_view` "player") renders player.js instead, with its own messages.

import "@xterm/xterm/css/xterm.css";
import "./widget.css";

import { createFeatures } from "./features.js";
import { FlowWriter } from "./flow.js";
import { createHeader } from "./header.js";
import { isolateKeyboard } from "./keyboard.js";
import { createSessionModes } from "./session_modes.js";
import { createErrorLine, createReporter } from "./report.js";
import { sendNoticed } from "./send.js";
import { createTerminal } from "./terminal.js";
import { watchKeysWaiting } from "./keys_wait.js";
import { renderPlayer } from "./player.js";
import { attachSnapshots } from "./snapshot.js";

const FIT_DEBOUNCE_MS = 100;
const ESTIMATED_ROW_PX = 17;
/** Sizes the kernel accepts (jupyter_k8stty/widget/options.py ROWS_RANGE, COLS_RANGE). */
const ROWS_RANGE = [2, 500];
const COLS_RANGE = [2, 1000];
/** Milliseconds without the replay a view asked for before it says the kernel has not answered. */
const NO_ANSWER_MS = 3000;
const encoder = new TextEncoder();

/** Any binary buffer ipywidgets hands us (DataView, ArrayBuffer, typed array). */
function toBytes(buffer) {
  if (buffer instanceof Uint8Array) return buffer;
  if (ArrayBuffer.isView(buffer)) {
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  return new Uint8Array(0);
}

/** xterm's onBinary hands over a string with one char per byte. */
function binaryStringToBytes(data) {
  const bytes = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i) & 0xff;
  return bytes;
}

const clamp = (value, [low, high]) => Math.min(high, Math.max(low, value));

function newViewId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

function render({ model, el }) {
  const line = createErrorLine();
  let disposed = false;
  const send = (content, buffers) => {
    if (!disposed) model.send(content, undefined, buffers);
  };
  const reporter = createReporter(send, line);
  try {
    const renderView = model.get("_view") === "player" ? renderPlayer : renderTerminal;
    const dispose = renderView(model, el, line, reporter, send);
    return () => {
      try {
        dispose();
      } catch (error) {
        reporter.report(error, "closing the view");
      }
      disposed = true;
      reporter.dispose();
      line.el.remove();
    };
  } catch (error) {
    el.append(line.el);
    reporter.report(error, "rendering the terminal");
    return () => {
      disposed = true;
      reporter.dispose();
      line.el.remove();
    };
  }
}

function renderTerminal(model, el, line, reporter, send) {
  const viewId = newViewId();
  const { guard } = reporter;
  let disposed = false;
  let opened = false;
  let awaitingReplay = true;
  let skipping = false; // between "skip" and "skipped"
  let fitTimer = null;

  const root = document.createElement("div");
  root.className = "k8stty";
  const header = createHeader(model, guard("reconnect", () => send({ type: "reconnect" })), guard);
  const screen = document.createElement("div");
  screen.className = "k8stty-screen";
  screen.style.height = `${(model.get("rows") || 24) * ESTIMATED_ROW_PX}px`;
  root.append(header.el, header.panels, screen, line.el);
  el.appendChild(root);

  const xt = createTerminal(root, model.get("options"), model.get("rows"), guard);
  const { term, fit } = xt;
  const flow = new FlowWriter(term, guard("acknowledging output", (n) => {
    send({ type: "ack", view: viewId, bytes: n });
  }));
  const features = createFeatures({ model, root, screen, header, xt, send, guard, line, viewId });
  const disposeKeyboard = isolateKeyboard(root, term, features.shortcuts);
  const snapshots = attachSnapshots({ term, header, send, line, guard });
  const sessionModes = createSessionModes({ model, term, header, send, guard }); // read-only, Debug action
  const stopKeysWait = watchKeysWaiting({ model, el }); // "keys wait for the running cell"

  const onMessage = guard("handling a message from the kernel", (msg, buffers) => {
    switch (msg?.type) {
      case "output":
        if (awaitingReplay) break; // the replay we asked for already holds it
        for (const buffer of buffers || []) flow.write(toBytes(buffer));
        break;
      case "replay":
        if (msg.view && msg.view !== viewId) break; // another view's history
        flow.skip(false); // output of the stream the replay replaces
        term.reset();
        for (const buffer of buffers || []) flow.write(toBytes(buffer), false);
        awaitingReplay = false;
        skipping = false;
        line.clear("note");
        break;
      case "skip":
        if (awaitingReplay) break;
        skipping = true;
        flow.skip();
        break;
      case "skipped":
        if (!skipping) break; // this view joined meanwhile: its replay follows
        skipping = false;
        for (const buffer of buffers || []) flow.write(toBytes(buffer), false);
        break;
      case "error":
        line.show(String(msg.message || "error in the kernel"));
        break;
      case "snapshot":
        snapshots.onMessage(msg);
        break;
      default:
        features.handle(msg, buffers); // files; "bundle" is the loader's
        break;
    }
  });
  model.on("msg:custom", onMessage);

  const subscriptions = [
    term.onData(guard("sending keys", (data) => send({ type: "input" }, [encoder.encode(data)]))),
    term.onBinary(guard("sending keys", (data) => send({ type: "input" }, [binaryStringToBytes(data)]))),
  ];

  // Content height in pixels that shows `rows` rows exactly (0 if not measurable yet).
  const heightForRows = (rows) => {
    const cell = xt.cellHeight();
    return cell ? Math.ceil(rows * cell) : 0;
  };

  // Fit to the container, then tell the kernel the new size if it changed.
  const syncSize = guard("fitting the terminal", () => {
    fitTimer = null;
    if (!opened || disposed) return;
    const dims = fit.proposeDimensions();
    if (!dims || !Number.isFinite(dims.cols) || !Number.isFinite(dims.rows)) return;
    if (dims.cols < 2 || dims.rows < 1) return;
    fit.fit();
    const rows = clamp(term.rows, ROWS_RANGE);
    const cols = clamp(term.cols, COLS_RANGE);
    let changed = false;
    if (model.get("rows") !== rows) {
      model.set("rows", rows);
      changed = true;
    }
    if (model.get("cols") !== cols) {
      model.set("cols", cols);
      changed = true;
    }
    if (changed) model.save_changes();
  });
  const scheduleFit = () => {
    if (fitTimer !== null) clearTimeout(fitTimer);
    fitTimer = setTimeout(syncSize, FIT_DEBOUNCE_MS);
  };

  // Someone else (the kernel, another view) set `rows`: make the screen that tall.
  const onRows = guard("resizing the terminal", () => {
    const rows = model.get("rows");
    if (!opened || !rows || rows === term.rows) return;
    const height = heightForRows(rows);
    if (height) screen.style.height = `${height}px`;
    scheduleFit();
  });
  model.on("change:rows", onRows);

  const onOptions = guard("applying options", () => {
    xt.setOptions(model.get("options"));
    if (!opened) return;
    requestAnimationFrame(guard("applying options", () => {
      const height = heightForRows(term.rows);
      if (height) screen.style.height = `${height}px`;
      scheduleFit();
    }));
  });
  model.on("change:options", onOptions);

  // Open xterm once the element is in the page and has a width (the output
  // area may attach it after render, or show it collapsed), then keep fitting.
  const open = () => {
    if (opened || disposed || !screen.isConnected || screen.clientWidth === 0) return;
    opened = true;
    xt.open(screen);
    features.opened();
    requestAnimationFrame(guard("opening the terminal", () => {
      if (disposed) return;
      const height = heightForRows(model.get("rows") || term.rows);
      if (height) screen.style.height = `${height}px`;
      syncSize();
    }));
  };
  const resizeObserver = new ResizeObserver(guard("opening the terminal", () => {
    if (opened) scheduleFit();
    else open();
  }));
  resizeObserver.observe(screen);
  open();

  // A click on the screen outside xterm's grid (its margin, or the new space before a
  // pending refit, as right after full screen) focuses the terminal like one on the grid.
  // On click, not mousedown: the press must stay free for the screen's resize handle.
  const onScreenClick = guard("focusing the terminal", (event) => {
    if (event.button !== 0 || !opened || term.element?.contains(event.target)) return;
    term.focus();
  });
  screen.addEventListener("click", onScreenClick);

  const stopReady = sendNoticed(model, { type: "ready", view: viewId });
  // No replay yet: the kernel is busy (comms without subshells), or this view was
  // restored from a saved notebook and no session is behind it any more.
  const noAnswer = setTimeout(() => {
    if (awaitingReplay && !disposed) {
      line.show("not connected: no answer from the kernel yet (busy, or the session is gone)", "note");
    }
  }, NO_ANSWER_MS);

  return () => {
    send({ type: "detach", view: viewId });
    disposed = true;
    stopReady();
    clearTimeout(noAnswer);
    if (fitTimer !== null) clearTimeout(fitTimer);
    resizeObserver.disconnect();
    screen.removeEventListener("click", onScreenClick);
    model.off("msg:custom", onMessage);
    model.off("change:rows", onRows);
    model.off("change:options", onOptions);
    for (const subscription of subscriptions) subscription.dispose();
    disposeKeyboard();
    features.dispose();
    flow.dispose();
    header.dispose();
    snapshots.dispose();
    sessionModes.dispose();
    stopKeysWait();
    xt.dispose();
    root.remove();
  };
}

export default { render };
