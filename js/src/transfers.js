// Files between the browser and the pod, browser side: the wire protocol of uploads
// and downloads (the kernel side is jupyter_k8stty/widget/transfers.py; every message
// is listed in jupyter_k8stty/widget/messages.py). Nothing is typed into the shell: the
// kernel runs `tar` in a separate exec and the bytes travel as binary buffers.
//
// Uploads are flow-controlled by the kernel: at most UPLOAD_WINDOW bytes are sent
// and not yet acknowledged (`upload-progress` says how many bytes it has passed on to
// the pod), so a 200 MB file never piles up in the kernel; while the user types, the
// upload pauses (INPUT_QUIET_MS) so keystrokes do not queue behind it. Downloads the
// other way: the view acknowledges each chunk.

/** Bytes in flight to the kernel at most during an upload (kernel: UPLOAD_WINDOW). */
export const UPLOAD_WINDOW = 2 * 1024 * 1024;
/**
 * Milliseconds an upload holds its data back after a keystroke: keys share the comm
 * with the upload and would queue behind its chunks, so typing goes first.
 */
export const INPUT_QUIET_MS = 300;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** Bytes per `upload-data` message. */
export const UPLOAD_CHUNK = 256 * 1024;

let counter = 0;
const newId = (prefix) => `${prefix}-${Date.now().toString(36)}-${(counter += 1)}`;

/** Human-readable size: 1.5 MB. */
export function formatBytes(n) {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let value = n;
  let unit = "B";
  for (const next of units) {
    if (value < 1000) break;
    value /= 1000;
    unit = next;
  }
  return `${value.toFixed(1)} ${unit}`;
}

/**
 * @param {{send: (content: object, buffers?: ArrayBuffer[]) => void, viewId: string,
 *          guard: Function}} parts
 */
export function createTransfers({ send, viewId, guard }) {
  const uploads = new Map();
  const downloads = new Map();
  const wheres = new Map();
  const listeners = { download: null, failed: null };
  let lastInput = -Infinity;

  /** Ask the kernel for the shell's working directory: Promise<{path, source}>. */
  function where() {
    const request = newId("where");
    return new Promise((resolve, reject) => {
      wheres.set(request, { resolve, reject });
      send({ type: "upload-where", view: viewId, request });
    });
  }

  /**
   * Upload `files` ([{name, size, dir, mtime, file}], names relative, "/"-separated)
   * into the folder `dest` of the pod.
   * @returns {{id: string, done: Promise<{bytes: number, dest: string}>, cancel(): void}}
   */
  function upload(dest, files, onProgress = () => {}) {
    const id = newId("up");
    const total = files.reduce((sum, f) => sum + (f.dir ? 0 : f.size), 0);
    const state = { acked: 0, sent: 0, total, onProgress, cancelled: false, wake: null };
    const done = new Promise((resolve, reject) => {
      state.resolve = resolve;
      state.reject = reject;
    });
    done.catch(() => {});
    uploads.set(id, state);
    send({
      type: "upload", view: viewId, id, dest,
      files: files.map((f) => ({ name: f.name, size: f.dir ? 0 : f.size, dir: !!f.dir,
                                 mtime: f.mtime ?? null })),
    });
    const waitForRoom = () => new Promise((resolve) => {
      if (state.sent - state.acked < UPLOAD_WINDOW || state.cancelled) resolve();
      else state.wake = resolve;
    });
    (async () => {
      for (const f of files) {
        if (f.dir || !f.size) continue;
        for (let offset = 0; offset < f.size; offset += UPLOAD_CHUNK) {
          await waitForRoom();
          for (let quiet; (quiet = performance.now() - lastInput) < INPUT_QUIET_MS && !state.cancelled;) {
            await sleep(INPUT_QUIET_MS - quiet);
          }
          if (state.cancelled || !uploads.has(id)) return;
          const buffer = await f.file.slice(offset, Math.min(f.size, offset + UPLOAD_CHUNK)).arrayBuffer();
          if (state.cancelled || !uploads.has(id)) return;
          send({ type: "upload-data", id }, [buffer]);
          state.sent += buffer.byteLength;
        }
      }
    })().catch((error) => {
      // A file that vanished or changed since it was dropped cannot be read.
      cancel(`reading ${error?.message || error}`);
    });
    function cancel(reason = "cancelled") {
      if (!uploads.has(id) || state.cancelled) return;
      state.cancelled = true;
      state.wake?.();
      send({ type: "upload-cancel", id, reason });
    }
    return { id, done, cancel, total };
  }

  /** Ask the kernel for a file or folder of the pod; `onDownload` sees it start. */
  function download(path) {
    const id = newId("down");
    send({ type: "download", view: viewId, id, path });
    return id;
  }

  function save(state) {
    const blob = new Blob(state.parts, {
      type: state.kind === "tar" ? "application/x-tar" : "application/octet-stream",
    });
    state.parts = [];
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = state.name;
    link.rel = "noopener";
    link.style.display = "none";
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  /** Handle a kernel message of ours; return whether it was one. */
  const handle = guard("handling a file transfer message", (msg, buffers) => {
    if (msg.view && msg.view !== viewId) {
      return typeof msg.type === "string" && /^(upload|download)-/.test(msg.type);
    }
    switch (msg.type) {
      case "upload-where": {
        const pending = wheres.get(msg.request);
        if (!pending) return true;
        wheres.delete(msg.request);
        if (msg.error) pending.reject(new Error(msg.error));
        else pending.resolve({ path: msg.path, source: msg.source });
        return true;
      }
      case "upload-progress": {
        const state = uploads.get(msg.id);
        if (!state) return true;
        state.acked = Math.max(state.acked, Number(msg.bytes) || 0);
        state.onProgress(state.acked, state.total);
        if (state.wake && state.sent - state.acked < UPLOAD_WINDOW) {
          const wake = state.wake;
          state.wake = null;
          wake();
        }
        return true;
      }
      case "upload-done": {
        const state = uploads.get(msg.id);
        if (!state) return true;
        uploads.delete(msg.id);
        state.cancelled = true;
        state.wake?.();
        if (msg.error) state.reject(new Error(msg.error));
        else state.resolve({ bytes: msg.bytes, dest: msg.dest });
        return true;
      }
      case "download-start": {
        const state = { id: msg.id, name: String(msg.name || "download"), kind: msg.kind,
                        size: msg.size ?? null, path: msg.path, received: 0, parts: [],
                        onProgress: () => {} };
        state.done = new Promise((resolve, reject) => {
          state.resolve = resolve;
          state.reject = reject;
        });
        state.done.catch(() => {});
        state.cancel = () => send({ type: "download-cancel", id: msg.id });
        downloads.set(msg.id, state);
        listeners.download?.(state);
        return true;
      }
      case "download-data": {
        const state = downloads.get(msg.id);
        if (!state) return true;
        let n = 0;
        for (const buffer of buffers || []) {
          const bytes = buffer instanceof ArrayBuffer ? new Uint8Array(buffer)
            : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
          state.parts.push(bytes.slice()); // ipywidgets may reuse the buffer's memory
          n += bytes.byteLength;
        }
        state.received += n;
        send({ type: "download-ack", id: msg.id, bytes: n });
        state.onProgress(state.received, state.size);
        return true;
      }
      case "download-done": {
        const state = downloads.get(msg.id);
        if (!state) {
          if (msg.error) listeners.failed?.(String(msg.error)); // it never started
          return true;
        }
        downloads.delete(msg.id);
        if (msg.error) {
          state.parts = [];
          state.reject(new Error(msg.error));
        } else {
          save(state);
          state.resolve({ bytes: state.received, name: state.name });
        }
        return true;
      }
      default:
        return false;
    }
  });

  return {
    where,
    upload,
    download,
    handle,
    /** The user typed: running uploads give way for a moment. */
    noteInput() {
      lastInput = performance.now();
    },
    /**
     * `started(state)` for every download that starts in this view (header action or
     * Python), `failed(message)` for one that could not start.
     */
    onDownload(started, failed) {
      listeners.download = started;
      listeners.failed = failed;
    },
    dispose() {
      for (const state of uploads.values()) {
        state.cancelled = true;
        state.wake?.();
      }
      for (const [id] of downloads) send({ type: "download-cancel", id });
      uploads.clear();
      downloads.clear();
      wheres.clear();
    },
  };
}
