// The widget's `_esm`, as saved in notebooks: a few KB that fetch the real front end.
//
// JupyterLab and nbclient save every synced trait of a widget in the notebook, so the
// 0.5 MB xterm.js bundle cannot be the `_esm` trait. This loader asks the kernel for it
// with a custom message (never saved):
//
//   browser -> kernel  {type: "bundle"}
//   kernel -> browser  {type: "bundle", hash} + [javascript, css]   (binary buffers)
//
// imports the JavaScript from a Blob URL, injects the CSS once, and caches the module
// on globalThis under the bundle's content hash (the `_bundle_hash` trait): only the
// first terminal of a page pays the round trip. The full message list is in
// jupyter_k8stty/widget/messages.py.
//
// The request is resent while the kernel has not started on it (see send.js); the
// kernel answers each request id once.
//
// Without an answer within PLACEHOLDER_AFTER_MS (a view restored from a saved notebook
// has no comm; a kernel busy without subshells answers once its cell ends), and at once
// without a kernel, the view shows one line from the saved traits:
// "terminal into default/demo: not connected". A late answer still brings the terminal.

import { sendNoticed } from "./send.js";

const PLACEHOLDER_AFTER_MS = 3000;
const bundles = (globalThis[Symbol.for("jupyter_k8stty.bundles")] ??= new Map());

function describe(error) {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** The cache entry of one bundle: its module once loaded, and who waits for it. */
function entryFor(hash) {
  let entry = bundles.get(hash);
  if (!entry) {
    entry = { module: null, askedAt: -Infinity };
    entry.promise = new Promise((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
    });
    entry.promise.catch(() => {}); // every waiting view handles the failure itself
    bundles.set(hash, entry);
  }
  return entry;
}

const styleId = (hash) => `k8stty-css-${hash}`;

/** Put the bundle's CSS where the view lives: the document, or its shadow root (marimo). */
function adoptStyle(el, hash) {
  const root = el.getRootNode();
  const source = document.getElementById(styleId(hash));
  if (!(root instanceof ShadowRoot) || !source || root.getElementById(styleId(hash))) return;
  root.append(source.cloneNode(true));
}

async function importBundle(hash, js, css) {
  const id = styleId(hash);
  if (!document.getElementById(id)) {
    const style = document.createElement("style");
    style.id = id;
    style.textContent = new TextDecoder().decode(css);
    document.head.append(style);
  }
  const url = URL.createObjectURL(new Blob([js], { type: "text/javascript" }));
  try {
    return await import(/* webpackIgnore: true */ url);
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** Ask this model's kernel for the bundle; the answer fills the shared entry. */
function ask(model, hash, entry, onError) {
  entry.askedAt = performance.now();
  const onMessage = (msg, buffers) => {
    if (msg?.type === "error") onError(msg.message); // the kernel could not answer
    if (msg?.type !== "bundle") return;
    model.off("msg:custom", onMessage);
    if (entry.module) return;
    importBundle(msg.hash || hash, buffers[0], buffers[1]).then(
      (module) => {
        entry.module = module;
        entry.resolve(module);
      },
      (error) => {
        bundles.delete(hash); // the next view asks again
        entry.reject(error);
      },
    );
  };
  model.on("msg:custom", onMessage);
  const request = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  sendNoticed(model, { type: "bundle", request });
}

/** False when the widget manager says there is no kernel (a notebook opened without one). */
function hasKernel(model) {
  const manager = model.widget_manager;
  return !(manager && "kernel" in manager && !manager.kernel);
}

function render(view) {
  const { model, el } = view;
  const line = document.createElement("div");
  line.className = "k8stty-placeholder";
  line.style.cssText =
    "padding:2px 0;font-family:var(--jp-code-font-family,monospace);" +
    "font-size:var(--jp-code-font-size,13px);color:var(--jp-ui-font-color2,#757575)";
  el.append(line);
  let disposed = false;
  let asked = false;
  let timer = null;
  let cleanup = null;

  const placeholder = () => {
    if (disposed || !line.isConnected) return;
    const where = model.get("_where") || model.get("title") || "a pod";
    line.textContent = model.get("_view") === "player"
      ? `${where}: the replay needs a running kernel`
      : `terminal into ${where}: not connected`;
    line.title = "No live session behind this view: run the cell again to open a terminal.";
  };
  const fail = (error) => {
    if (disposed) return;
    const message = `loading the terminal failed: ${describe(error)}`;
    line.textContent = `jupyter-k8stty: ${message}`;
    line.style.color = "var(--jp-error-color1,#d32f2f)";
    if (!line.isConnected) el.append(line);
    console.error("jupyter-k8stty:", error);
    try {
      model.send({ type: "error", message });
    } catch {
      // no comm: the line above is all we can do
    }
  };
  const start = (module) => {
    if (disposed) return;
    clearTimeout(timer);
    line.remove();
    try {
      adoptStyle(el, hash);
      requestAnimationFrame(() => adoptStyle(el, hash)); // a view attached after render
      cleanup = module.default.render(view);
    } catch (error) {
      fail(error);
    }
  };

  const hash = model.get("_bundle_hash");
  if (!hash) {
    fail(new Error("the kernel has no widget bundle: reinstall jupyter-k8stty"));
  } else if (!hasKernel(model)) {
    placeholder();
  } else {
    const entry = entryFor(hash);
    if (entry.module) {
      start(entry.module);
    } else {
      const askOnce = () => {
        if (asked || entry.module) return;
        asked = true;
        ask(model, hash, entry, (message) => fail(message));
      };
      // Another view's request still in flight: wait for it before asking too.
      if (performance.now() - entry.askedAt > PLACEHOLDER_AFTER_MS) askOnce();
      timer = setTimeout(() => {
        placeholder();
        askOnce();
      }, PLACEHOLDER_AFTER_MS);
      entry.promise.then(start, fail);
    }
  }

  return () => {
    disposed = true;
    clearTimeout(timer);
    line.remove();
    if (typeof cleanup === "function") cleanup();
  };
}

export default { render };
