// The slim header above the terminal: title, status pill, exit code or error
// message, and a Reconnect button.

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
  const button = el("button", "k8stty-reconnect", "Reconnect");
  button.type = "button";
  button.title = "Close this session and start a new one";
  button.addEventListener("click", onReconnect);
  root.append(title, pill, detail, button);

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
    dispose() {
      for (const event of events) model.off(event, update);
      button.removeEventListener("click", onReconnect);
    },
  };
}
