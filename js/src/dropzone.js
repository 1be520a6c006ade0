// Uploads by drag and drop (or the header's upload button): files and folders go
// into the shell's current directory, after the user has seen and possibly edited
// the destination in a small confirmation under the header. Then a progress line.
//
// The destination is, in order: the directory the shell last announced with OSC 7
// (`printf '\e]7;file://%s%s\a' "$HOSTNAME" "$PWD"`, as VTE-style prompts do); the
// working directory of the terminal's shell, which the kernel reads from /proc in
// the container; else the container's working directory (the kernel says which).

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
  el.dataset.k8sttyUpload = name;
  return el;
}

// -- what was dropped ---------------------------------------------------------------

function fileOf(entry) {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

function readAll(reader) {
  // readEntries returns at most 100 entries per call: call until it returns none.
  return new Promise((resolve, reject) => {
    const all = [];
    const next = () => reader.readEntries((batch) => {
      if (!batch.length) resolve(all);
      else {
        all.push(...batch);
        next();
      }
    }, reject);
    next();
  });
}

async function walk(entry, prefix, out) {
  const name = prefix ? `${prefix}/${entry.name}` : entry.name;
  if (entry.isDirectory) {
    out.push({ name, dir: true, size: 0 });
    const children = await readAll(entry.createReader());
    children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const child of children) await walk(child, name, out);
  } else if (entry.isFile) {
    const file = await fileOf(entry);
    out.push({ name, dir: false, size: file.size, mtime: file.lastModified, file });
  }
}

/**
 * The files and folders of a drop, in upload order. The entries must be taken
 * while the drop event runs (the DataTransfer is emptied afterwards).
 */
export function droppedEntries(dataTransfer) {
  const items = [...(dataTransfer?.items || [])].filter((item) => item.kind === "file");
  const entries = items.map((item) => item.webkitGetAsEntry?.() ?? null);
  const files = [...(dataTransfer?.files || [])];
  return async () => {
    const out = [];
    if (entries.length && entries.every(Boolean)) {
      for (const entry of entries) await walk(entry, "", out);
    } else {
      for (const file of files) {
        out.push({ name: file.name, dir: false, size: file.size, mtime: file.lastModified, file });
      }
    }
    return out;
  };
}

function fromInput(input) {
  return [...input.files].map((file) => ({
    name: file.webkitRelativePath || file.name, dir: false, size: file.size,
    mtime: file.lastModified, file,
  }));
}

function describe(files) {
  const count = files.filter((f) => !f.dir).length;
  const folders = files.filter((f) => f.dir && !f.name.includes("/")).length;
  const bytes = files.reduce((sum, f) => sum + (f.dir ? 0 : f.size), 0);
  const parts = [];
  if (folders) parts.push(`${folders} folder${folders > 1 ? "s" : ""}`);
  parts.push(`${count} file${count === 1 ? "" : "s"}`);
  return `${parts.join(", ")} (${formatBytes(bytes)})`;
}

export const SOURCES = {
  osc7: "the shell's directory (OSC 7)",
  shell: "the shell's working directory",
  workdir: "the container's working directory",
};

// -- the panel ----------------------------------------------------------------------

/**
 * @param {{root: HTMLElement, screen: HTMLElement, term: import("@xterm/xterm").Terminal,
 *          header: any, transfers: any, where: () => Promise<{path: string, source: string}>,
 *          guard: Function}} parts - `where` gives the shell's directory (features.js)
 */
export function createDropzone({ root, screen, term, header, transfers, where, guard }) {
  let current = null; // the upload running, if any

  const panel = node("div", "k8stty-upload");
  panel.hidden = true;
  panel.setAttribute("role", "group");
  panel.setAttribute("aria-label", "Upload");
  header.addPanel(panel);

  const overlay = node("div", "k8stty-drop-overlay", "Drop to upload into the pod");
  overlay.hidden = true;
  screen.append(overlay);

  const picker = node("input");
  picker.type = "file";
  picker.multiple = true;
  picker.hidden = true;
  picker.dataset.k8sttyUpload = "picker";
  root.append(picker);

  const close = () => {
    panel.hidden = true;
    panel.replaceChildren();
  };

  const finish = (text, state) => {
    const done = node("span", "k8stty-upload-text", text);
    done.dataset.state = state;
    const dismiss = button("\u00d7", "dismiss");
    dismiss.setAttribute("aria-label", "Hide");
    dismiss.addEventListener("click", () => {
      close();
      term.focus();
    });
    panel.replaceChildren(done, dismiss);
    panel.dataset.state = state;
  };

  const start = guard("uploading", (files, dest) => {
    const total = files.reduce((sum, f) => sum + (f.dir ? 0 : f.size), 0);
    const text = node("span", "k8stty-upload-text");
    const bar = node("progress", "k8stty-upload-progress");
    bar.max = Math.max(1, total);
    bar.value = 0;
    const cancel = button("Cancel", "cancel");
    panel.replaceChildren(text, bar, cancel);
    panel.dataset.state = "running";
    const show = (done) => {
      text.textContent = `Uploading ${formatBytes(done)} of ${formatBytes(total)} to ${dest}`;
      bar.value = done;
    };
    show(0);
    const upload = transfers.upload(dest, files, guard("showing progress", show));
    current = upload;
    cancel.addEventListener("click", () => upload.cancel());
    upload.done.then(
      guard("uploading", ({ bytes, dest: where }) => {
        current = null;
        finish(`Uploaded ${describe(files)} to ${where || dest}`, "done");
        panel.dataset.bytes = String(bytes);
      }),
      guard("uploading", (error) => {
        current = null;
        finish(`Upload failed: ${error.message}`, "error");
      }),
    );
  });

  const confirm = guard("preparing the upload", async (files) => {
    if (!files.length) return;
    if (current) {
      finish("An upload is still running: wait for it or cancel it first", "error");
      return;
    }
    panel.hidden = false;
    panel.dataset.state = "confirm";
    const text = node("span", "k8stty-upload-text", `Upload ${describe(files)} to`);
    const input = node("input", "k8stty-upload-dest");
    input.type = "text";
    input.spellcheck = false;
    input.setAttribute("aria-label", "Destination folder in the pod");
    input.dataset.k8sttyUpload = "dest";
    const source = node("span", "k8stty-upload-source");
    const ok = button("Upload", "confirm", true);
    const cancel = button("Cancel", "cancel");
    panel.replaceChildren(text, input, source, ok, cancel);
    let base = null; // the shell's directory: a relative destination starts there
    const go = () => {
      const typed = input.value.trim();
      if (!typed) return input.focus();
      start(files, typed.startsWith("/") || !base ? typed : `${base.replace(/\/+$/, "")}/${typed}`);
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
    input.disabled = ok.disabled = true;
    input.placeholder = "finding the shell's directory\u2026";
    try {
      const answer = await where();
      base = answer.path || null;
      if (!input.value) input.value = answer.path;
      source.textContent = SOURCES[answer.source] || "";
      source.dataset.source = answer.source;
    } catch (error) {
      source.textContent = `(${error.message}; type a folder)`;
    }
    input.disabled = ok.disabled = false;
    input.placeholder = "/path/in/the/pod";
    input.focus();
    input.select();
  });

  // -- drag and drop ----------------------------------------------------------------
  const hasFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
  let depth = 0;
  const onEnter = (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.stopPropagation();
    depth += 1;
    overlay.hidden = false;
  };
  const onOver = (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.stopPropagation(); // not the notebook's own drop handling
    event.dataTransfer.dropEffect = "copy";
  };
  const onLeave = (event) => {
    if (!hasFiles(event)) return;
    depth = Math.max(0, depth - 1);
    if (!depth) overlay.hidden = true;
  };
  const onDrop = guard("dropping files", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.stopPropagation();
    depth = 0;
    overlay.hidden = true;
    const collect = droppedEntries(event.dataTransfer);
    collect().then(confirm, guard("reading the dropped files", (error) => {
      throw error;
    }));
  });
  root.addEventListener("dragenter", onEnter);
  root.addEventListener("dragover", onOver);
  root.addEventListener("dragleave", onLeave);
  root.addEventListener("drop", onDrop);

  picker.addEventListener("change", guard("choosing files", () => {
    const files = fromInput(picker);
    picker.value = "";
    confirm(files);
  }));
  const action = header.addAction({
    action: "upload", label: "Upload files", text: icon("upload"),
    title: "Upload files into the pod (or drop them on the terminal)",
    onClick: guard("choosing files", () => picker.click()),
  });

  return {
    /** Show the confirmation for these files (tests, automation). */
    confirm,
    dispose() {
      current?.cancel();
      root.removeEventListener("dragenter", onEnter);
      root.removeEventListener("dragover", onOver);
      root.removeEventListener("dragleave", onLeave);
      root.removeEventListener("drop", onDrop);
      action.remove();
      panel.remove();
      overlay.remove();
      picker.remove();
    },
  };
}
