// Errors are shown, never swallowed: a small line under the terminal says what failed,
// and the kernel gets a {type: "error", message} message, which it logs.
//
// Our own code wraps its callbacks (message handlers, xterm's onData and write
// callbacks, observers, timers) with `guard`. Errors that still escape, from xterm.js's
// render loop for instance, reach the window's error events; those whose stack points
// into this bundle (its Blob URL, import.meta.url) are reported too, to every live view.

/** The URL this bundle was imported from: errors whose stack names it are ours. */
const BUNDLE_URL = import.meta.url;
/** Longest message sent to the kernel. */
const MAX_MESSAGE = 2000;

/** One line for any thrown value. */
export function describe(error) {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  if (error && typeof error === "object" && "message" in error) return String(error.message);
  return String(error);
}

function ours(error, filename) {
  if (!BUNDLE_URL) return false;
  if (filename && filename === BUNDLE_URL) return true;
  const stack = error && typeof error === "object" ? String(error.stack || "") : "";
  return stack.includes(BUNDLE_URL);
}

/**
 * The error line under the terminal; hidden while empty.
 * @returns {{el: HTMLElement, show(text: string, kind?: "error" | "note"): void,
 *            clear(kind?: "error" | "note"): void}}
 */
export function createErrorLine() {
  const el = document.createElement("div");
  el.className = "k8stty-error";
  el.hidden = true;
  const text = document.createElement("span");
  text.className = "k8stty-error-text";
  const close = document.createElement("button");
  close.type = "button";
  close.className = "k8stty-error-close";
  close.textContent = "\u00d7";
  close.title = "Hide this message";
  close.addEventListener("click", () => {
    el.hidden = true;
  });
  el.append(text, close);
  return {
    el,
    show(message, kind = "error") {
      text.textContent = message;
      el.title = message;
      el.dataset.kind = kind;
      el.hidden = false;
    },
    clear(kind) {
      if (kind && el.dataset.kind !== kind) return;
      el.hidden = true;
    },
  };
}

const reporters = new Set();
let listening = false;

function fromWindow(error) {
  let first = true;
  for (const reporter of reporters) {
    reporter.report(error, "uncaught error", first); // the kernel hears it once
    first = false;
  }
}

function listen() {
  if (listening) return;
  listening = true;
  window.addEventListener("error", (event) => {
    if (ours(event.error, event.filename)) fromWindow(event.error ?? event.message);
  });
  window.addEventListener("unhandledrejection", (event) => {
    if (ours(event.reason)) fromWindow(event.reason);
  });
}

/**
 * Report errors of one view: show them on its error line, send them to the kernel.
 * @param {(content: object) => void} send - the view's message sender
 * @param {ReturnType<typeof createErrorLine>} line
 */
export function createReporter(send, line) {
  const reporter = {
    report(error, where, toKernel = true) {
      const message = `${where}: ${describe(error)}`;
      console.error("jupyter-k8stty:", where, error);
      line.show(message);
      if (!toKernel) return;
      try {
        send({ type: "error", message: message.slice(0, MAX_MESSAGE) });
      } catch (sendError) {
        console.error("jupyter-k8stty: could not report to the kernel", sendError);
      }
    },
    /** `fn` with its errors reported as happening in `where`. */
    guard(where, fn) {
      return (...args) => {
        try {
          return fn(...args);
        } catch (error) {
          reporter.report(error, where);
          return undefined;
        }
      };
    },
    dispose() {
      reporters.delete(reporter);
    },
  };
  reporters.add(reporter);
  listen();
  return reporter;
}
