// Downloads: the header's download action asks for a path in the pod (the shell's
// directory filled in; a relative path starts there), then the file, or the folder as
// a .tar, is saved through the browser. `Terminal.download(path)` in Python shows the
// same progress here.

import { icon } from "./icons.js";
import { formatBytes } from "./transfers.js";

function node(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function button(text, name, primary = false) {
  const el = node("button", `k8stty-panel-button${primary ? " k8stty-primary" : ""}`, text);
  el.type = "button";
  el.dataset.k8sttyDownload = name;
  return el;
}

/**
 * @param {{term: import("@xterm/xterm").Terminal, header: any, transfers: any,
 *          where: () => Promise<{path: string}>, guard: Function}} parts
 */
export function createDownload({ term, header, transfers, where, guard }) {
  const panel = node("div", "k8stty-download");
  panel.hidden = true;
  panel.setAttribute("role", "group");
  panel.setAttribute("aria-label", "Download");
  header.addPanel(panel);

  const close = () => {
    panel.hidden = true;
    panel.replaceChildren();
    delete panel.dataset.state;
  };
  const closeButton = () => {
    const dismiss = button("\u00d7", "dismiss");
    dismiss.setAttribute("aria-label", "Hide");
    dismiss.addEventListener("click", () => {
      close();
      term.focus();
    });
    return dismiss;
  };
  const finish = (text, state) => {
    const done = node("span", "k8stty-download-text", text);
    panel.replaceChildren(done, closeButton());
    panel.dataset.state = state;
    panel.hidden = false;
  };

  const ask = guard("asking what to download", async () => {
    panel.hidden = false;
    panel.dataset.state = "ask";
    const text = node("span", "k8stty-download-text", "Download from the pod:");
    const input = node("input", "k8stty-download-path");
    input.type = "text";
    input.spellcheck = false;
    input.placeholder = "a file or folder in the pod";
    input.setAttribute("aria-label", "File or folder in the pod");
    input.dataset.k8sttyDownload = "path";
    const ok = button("Download", "confirm", true);
    const cancel = button("Cancel", "cancel");
    panel.replaceChildren(text, input, ok, cancel);
    let base = null; // the shell's directory: relative paths start there
    const go = () => {
      const typed = input.value.trim();
      if (!typed) return input.focus();
      const path = typed.startsWith("/") || !base ? typed : `${base.replace(/\/+$/, "")}/${typed}`;
      panel.dataset.state = "requested";
      panel.replaceChildren(node("span", "k8stty-download-text", `Preparing ${path}\u2026`));
      transfers.download(path);
    };
    ok.addEventListener("click", go);
    cancel.addEventListener("click", () => {
      close();
      term.focus();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        go();
      } else if (event.key === "Escape") {
        event.preventDefault();
        close();
        term.focus();
      }
    });
    input.focus();
    try {
      const { path } = await where();
      base = path || null;
      if (!input.value && path) {
        input.value = path.endsWith("/") ? path : `${path}/`;
        input.setSelectionRange(input.value.length, input.value.length);
      }
    } catch {
      /* the user types the whole path */
    }
  });

  transfers.onDownload(guard("downloading", (state) => {
    const text = node("span", "k8stty-download-text");
    const cancel = button("Cancel", "cancel");
    cancel.addEventListener("click", () => state.cancel());
    panel.replaceChildren(text, cancel);
    panel.dataset.state = "running";
    panel.hidden = false;
    const what = state.kind === "tar" ? `${state.name} (folder as tar)` : state.name;
    state.onProgress = guard("showing progress", (received, size) => {
      text.textContent = size
        ? `Downloading ${what}: ${formatBytes(received)} of ${formatBytes(size)}`
        : `Downloading ${what}: ${formatBytes(received)}`;
    });
    state.onProgress(0, state.size);
    state.done.then(
      guard("downloading", ({ bytes }) => finish(`Saved ${what} (${formatBytes(bytes)})`, "done")),
      guard("downloading", (error) => finish(`Download failed: ${error.message}`, "error")),
    );
  }), guard("downloading", (message) => finish(`Download failed: ${message}`, "error")));

  const action = header.addAction({
    action: "download", label: "Download a file", text: icon("download"),
    title: "Download a file or folder (as .tar) from the pod", onClick: ask,
  });

  return {
    dispose() {
      action.remove();
      panel.remove();
    },
  };
}
