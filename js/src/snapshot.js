// Snapshots of the screen, taken on request only (jupyter_k8stty/widget/snapshot.py).
//
//   kernel -> browser  {type: "snapshot", request, scrollback}   t.snapshot() asks every view
//   browser -> kernel  {type: "snapshot", request, html, text, cols, rows}
//                      the answer; `request: null` when the header's snapshot action was
//                      clicked (the kernel adds it to the terminal's own output)
//
// The HTML comes from xterm's serialize addon (colours, bold, underline... inline styles);
// the kernel keeps only an allow-list of tags and styles before it reaches the notebook.

import { SerializeAddon } from "@xterm/addon-serialize";

/**
 * @param {import("@xterm/xterm").Terminal} term
 * @returns {{take(scrollback?: number): {html: string, text: string, cols: number, rows: number},
 *            dispose(): void}}
 */
export function createSnapshotter(term) {
  const addon = new SerializeAddon();
  term.loadAddon(addon);
  return {
    /** The rows the user sees (plus `scrollback` rows above them) as HTML and as text. */
    take(scrollback = 0) {
      const buffer = term.buffer.active;
      const top = buffer.viewportY;
      const start = Math.max(0, top - Math.max(0, scrollback | 0));
      let end = Math.min(buffer.length - 1, top + term.rows - 1);
      // Blank rows under the last written one would only make a tall empty box.
      const cursor = buffer.baseY + buffer.cursorY;
      while (end > start && end > cursor && !buffer.getLine(end)?.translateToString(true).trim()) end--;
      const html = addon.serializeAsHTML({
        includeGlobalBackground: true,
        range: { startLine: start, endLine: end, startCol: 0 },
      });
      const lines = [];
      for (let y = start; y <= end; y++) lines.push(buffer.getLine(y)?.translateToString(true) ?? "");
      return { html, text: lines.join("\n"), cols: term.cols, rows: term.rows };
    },
    dispose() {
      addon.dispose();
    },
  };
}

/**
 * Answer the kernel's snapshot requests and offer the header action.
 * @param {object} options
 * @param {import("@xterm/xterm").Terminal} options.term
 * @param {{addAction?: Function}} options.header - the header (its action registry)
 * @param {(content: object) => void} options.send
 * @param {{show(text: string, kind?: string): void}} options.line - the note line
 * @param {(where: string, fn: Function) => Function} options.guard
 * @returns {{onMessage(msg: object): boolean, dispose(): void}}
 */
export function attachSnapshots({ term, header, send, line, guard }) {
  const snapshots = createSnapshotter(term);
  const button = header.addAction?.({
    action: "snapshot",
    label: "Snapshot",
    title: "Save the screen in this cell's output (shown where widgets are not: nbviewer, nbconvert, GitHub)",
    onClick: guard("taking a snapshot", () => {
      send({ type: "snapshot", request: null, ...snapshots.take(0) });
      line.show("snapshot saved in this cell's output: the saved notebook shows it in nbviewer, "
        + "nbconvert and GitHub", "note");
    }),
  });
  return {
    /** Handle a `snapshot` message from the kernel; false for other messages. */
    onMessage(msg) {
      if (msg?.type !== "snapshot") return false;
      send({ type: "snapshot", request: msg.request, ...snapshots.take(msg.scrollback || 0) });
      return true;
    },
    dispose() {
      button?.remove();
      snapshots.dispose();
    },
  };
}
