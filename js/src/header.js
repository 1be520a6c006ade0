// The slim header above the terminal: title, status pill, exit code or error
// message, and the actions: real buttons, each with a label and
// `data-k8stty-action="NAME"` (for automation and assistive tech).
//
// To add an action, call `header.addAction({action, label, title, onClick})` (see
// there); the buttons line up in ACTION_ORDER. `header.addPanel(el)` puts a row
// under the header (the search box, a transfer's confirmation and progress);
// `header.addInfo(el)` puts a text element after the title.

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * @param {any} model - the anywidget model
 * @param {() => void} onReconnect
 * @param {(where: string, fn: Function) => Function} guard - reports the errors of `fn`
 */
export function createHeader(model, onReconnect, guard = (_where, fn) => fn) {
  const root = el("div", "k8stty-header");
  const title = el("span", "k8stty-title");
  const pill = el("span", "k8stty-status");
  const detail = el("span", "k8stty-detail");
  const actions = el("span", "k8stty-actions");
  actions.setAttribute("role", "toolbar");
  actions.setAttribute("aria-label", "Terminal actions");
  const panels = el("div", "k8stty-panels");
  const button = el("button", "k8stty-reconnect", "Reconnect");
  button.type = "button";
  button.title = "Close this session and start a new one";
  button.dataset.k8sttyAction = "reconnect";
  button.addEventListener("click", onReconnect);
  actions.append(button);
  root.append(title, pill, detail, actions);

  const update = guard("updating the header", () => {
    const status = model.get("status") || "connecting";
    const exitCode = model.get("exit_code");
    const error = model.get("error") || "";
    title.textContent = model.get("title") || "";
    title.title = title.textContent;
    const attempt = model.get("reconnect_attempt") || 0;
    const reconnecting = attempt > 0 && (status === "connecting" || status === "waiting");
    pill.textContent =
      status === "exited" && exitCode !== null && exitCode !== undefined
        ? `exited ${exitCode}`
        : reconnecting
          ? `reconnecting (attempt ${attempt})\u2026`
          : status;
    if (reconnecting) pill.dataset.reconnectAttempt = String(attempt);
    else delete pill.dataset.reconnectAttempt;
    pill.dataset.status = status;
    if (status === "exited" && exitCode !== null && exitCode !== undefined) {
      pill.dataset.exit = exitCode === 0 ? "ok" : "fail";
      pill.dataset.exitCode = String(exitCode);
    } else {
      delete pill.dataset.exit;
      delete pill.dataset.exitCode;
    }
    detail.textContent = status === "error" ? error : "";
    detail.title = detail.textContent;
    button.disabled = status === "connecting" || status === "waiting";
  });

  const events = ["change:status", "change:exit_code", "change:error", "change:title",
    "change:reconnect_attempt"];
  for (const event of events) model.on(event, update);
  update();

  return {
    el: root,
    /** The rows under the header (append it after `el`); see addPanel. */
    panels,
    addAction: (spec) => addAction(actions, spec),
    /** Show `node` as a row under the header (hide it with `node.hidden`). */
    addPanel(node) {
      panels.append(node);
      return node;
    },
    /** Show `node` (text) right after the title. */
    addInfo(node) {
      title.after(node);
      return node;
    },
    dispose() {
      for (const event of events) model.off(event, update);
      button.removeEventListener("click", onReconnect);
    },
  };
}

/**
 * Where each action goes, left to right; actions not listed go before `reconnect`.
 * Names are the `data-k8stty-action` values that automation relies on: keep them.
 */
export const ACTION_ORDER = [
  "search", "zoom-out", "zoom-reset", "zoom-in", "fullscreen", "upload", "download",
  "snapshot", "debug", "reconnect",
];

function rank(action) {
  const index = ACTION_ORDER.indexOf(action);
  return index >= 0 ? index : ACTION_ORDER.indexOf("reconnect") - 0.5;
}

/**
 * Add a header button.
 * @param {HTMLElement} actions - the toolbar
 * @param {{action: string, label: string, title?: string, text?: string | Node,
 *          onClick: (event: MouseEvent) => void, pressed?: boolean}} spec -
 *   `label` is the accessible name (aria-label); `text` what the button shows (default:
 *   the label; an SVG icon or a short glyph for compact buttons); `title` the tooltip,
 *   which should name the shortcut; `pressed` makes a toggle button (aria-pressed).
 * @returns {HTMLButtonElement}
 */
function addAction(actions, { action, label, title, text, onClick, pressed }) {
  const node = el("button", `k8stty-action k8stty-action-${action}`);
  node.type = "button";
  node.dataset.k8sttyAction = action;
  node.setAttribute("aria-label", label);
  node.title = title || label;
  if (text === undefined) node.textContent = label;
  else node.append(text);
  if (pressed !== undefined) node.setAttribute("aria-pressed", String(!!pressed));
  node.addEventListener("click", onClick);
  const after = [...actions.children].find(
    (other) => rank(other.dataset.k8sttyAction) > rank(action));
  actions.insertBefore(node, after || null);
  return node;
}
