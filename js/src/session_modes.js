// What a terminal's session is, as the header shows it (issue 11; kernel side in
// jupyter_k8stty/widget/session_modes.py):
//
// * read-only: an attach to a container started without `stdin: true`. The header says
//   "read-only" and xterm takes no keys (`disableStdin`), so no input is sent; the
//   kernel drops any that still arrives.
// * no shell: the container has no shell (a distroless image). The header's error says
//   so, and a **Debug** action (`data-k8stty-action="debug"`) offers a debug container.
//   It asks first, in a row under the header, because an ephemeral container cannot be
//   removed from a pod; confirming sends {type: "debug"} and the kernel reopens the
//   terminal in a new debug container (Terminal.add_debug_container()).

import "./session_modes.css";

function node(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function button(text, action, primary = false) {
  const el = node("button", `k8stty-panel-button${primary ? " k8stty-primary" : ""}`, text);
  el.type = "button";
  el.dataset.k8sttyAction = action;
  return el;
}

/** The pod a title `ns/pod (deploy/web) [container]` names, or the whole title. */
export function podOfTitle(title) {
  const match = /^(\S+?)(?: \(.*\))?(?: \[(.*)\])?$/.exec(String(title || ""));
  return match ? match[1] : String(title || "");
}

/**
 * @param {{model: any, term: import("@xterm/xterm").Terminal, header: any,
 *          send: (content: object) => void, guard: Function}} parts
 */
export function createSessionModes({ model, term, header, send, guard }) {
  // -- read-only -----------------------------------------------------------------------
  const readOnly = node("span", "k8stty-mode", "read-only");
  readOnly.dataset.k8sttyMode = "read-only";
  readOnly.title = "Attached to the container's main process, which was not started with " +
    "stdin: what you type is not sent";
  readOnly.hidden = true;
  header.addInfo(readOnly);

  // -- the Debug action and its confirmation ------------------------------------------
  const panel = node("div", "k8stty-debug-confirm");
  panel.hidden = true;
  panel.setAttribute("role", "group");
  panel.setAttribute("aria-label", "Add a debug container");
  header.addPanel(panel);
  let requested = false;

  const hideConfirm = () => {
    panel.hidden = true;
    panel.replaceChildren();
  };

  const confirm = guard("asking to add a debug container", () => {
    const image = model.get("_debug_image") || "the default image";
    const pod = podOfTitle(model.get("title"));
    const text = node("span", "k8stty-debug-text");
    text.append(
      `Add an ephemeral debug container (${image}) to pod ${pod} and open its shell? `,
      node("strong", "", "Ephemeral containers cannot be removed from a pod:"),
      " it stays until the pod is deleted.",
    );
    const ok = button("Add debug container", "debug-confirm", true);
    const cancel = button("Cancel", "debug-cancel");
    ok.addEventListener("click", guard("adding a debug container", () => {
      requested = true;
      hideConfirm();
      update();
      send({ type: "debug" });
    }));
    cancel.addEventListener("click", () => {
      hideConfirm();
      action.focus();
    });
    panel.onkeydown = (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        hideConfirm();
        action.focus();
      }
    };
    panel.replaceChildren(text, ok, cancel);
    panel.hidden = false;
    ok.focus();
  });

  const action = header.addAction({
    action: "debug", label: "Debug",
    title: "The container has no shell: add a debug container to the pod and open its shell " +
      "(kubectl debug)",
    onClick: confirm,
  });

  const update = guard("showing the session mode", () => {
    const status = model.get("status");
    const live = status === "connecting" || status === "waiting" || status === "connected";
    const ro = !!model.get("read_only") && status === "connected";
    readOnly.hidden = !ro;
    term.options.disableStdin = ro;
    if (live) requested = false; // the kernel took the request (or a reconnect came)
    const offered = !!model.get("no_shell") && !live;
    action.hidden = !offered;
    action.disabled = requested;
    if (!offered) hideConfirm();
  });

  const events = ["change:read_only", "change:no_shell", "change:status", "change:_debug_image"];
  for (const event of events) model.on(event, update);
  update();

  return {
    /** Show the confirmation of the Debug action (tests, automation). */
    confirm,
    dispose() {
      for (const event of events) model.off(event, update);
      action.remove();
      panel.remove();
      readOnly.remove();
    },
  };
}
