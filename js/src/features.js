// What a terminal view offers beyond typing (issue 12): search, zoom, full screen,
// uploads and downloads, safe links, clipboard menu and OSC 52, the title the shell
// sets (OSC 0/2) as text, and which renderer draws (data-k8stty-renderer). Each
// lives in its own module; this one builds them for one view and hands widget.js
// the shortcuts, the message handler and one dispose.
//
// For automation, the view's root element carries `k8stty`: {term, search, zoom,
// fullscreen, dropzone, transfers, renderer}.

import "./features.css";

import { createClipboard } from "./clipboard.js";
import { createDownload } from "./download.js";
import { createDropzone } from "./dropzone.js";
import { createFullscreen } from "./fullscreen.js";
import { createLinks } from "./links.js";
import { createSearch } from "./search.js";
import { shortcutList } from "./shortcuts.js";
import { createTransfers } from "./transfers.js";
import { createZoom } from "./zoom.js";

/** Longest title shown (a pod chooses it). */
const MAX_TITLE = 120;

/**
 * The title as plain text: no control characters, no bidirectional overrides (which
 * could make it read as something else), at most MAX_TITLE characters.
 */
export function cleanTitle(text) {
  const plain = String(text ?? "")
    .replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, "")
    .trim();
  return plain.length > MAX_TITLE ? `${plain.slice(0, MAX_TITLE)}\u2026` : plain;
}

/** The directory of an OSC 7 `file://host/path` URL, or null. */
export function osc7Path(data) {
  try {
    const url = new URL(String(data));
    if (url.protocol !== "file:") return null;
    const path = decodeURIComponent(url.pathname);
    return path.startsWith("/") && !/[\u0000-\u001f]/.test(path) ? path : null;
  } catch {
    return null;
  }
}

/**
 * @param {{model: any, root: HTMLElement, screen: HTMLElement, header: any, xt: any,
 *          send: Function, guard: Function, line: any, viewId: string}} parts
 */
export function createFeatures({ model, root, screen, header, xt, send, guard, line, viewId }) {
  const { term } = xt;

  const title = document.createElement("span");
  title.className = "k8stty-osc-title";
  title.hidden = true;
  header.addInfo(title);
  const titleChange = term.onTitleChange(guard("showing the title", (text) => {
    title.textContent = cleanTitle(text); // text, never HTML
    title.title = title.textContent;
    title.hidden = !title.textContent;
  }));

  let shellDir = null; // announced by the shell with OSC 7
  const osc7 = term.parser.registerOscHandler(7, (data) => {
    shellDir = osc7Path(data) ?? shellDir;
    return true;
  });

  const transfers = createTransfers({ send, viewId, guard });
  const typing = [term.onData(() => transfers.noteInput()), term.onBinary(() => transfers.noteInput())];
  const where = async () => (shellDir ? { path: shellDir, source: "osc7" } : transfers.where());
  const search = createSearch({ term, header, guard });
  const zoom = createZoom({ model, term, header, guard });
  const fullscreen = createFullscreen({ root, screen, term, header, guard });
  const dropzone = createDropzone({ root, screen, term, header, transfers, where, guard });
  const download = createDownload({ term, header, transfers, where, guard });
  const links = createLinks({ term, screen, guard });
  const clipboard = createClipboard({ term, root, screen, model, line, guard });

  const showRenderer = () => {
    root.dataset.k8sttyRenderer = xt.renderer;
  };
  xt.onRendererChange = guard("switching renderers", showRenderer);

  root.k8stty = {
    term, search, zoom, fullscreen, dropzone, transfers,
    get renderer() {
      return xt.renderer;
    },
  };

  return {
    shortcuts: shortcutList({
      search: () => search.open(),
      zoomIn: zoom.zoomIn,
      zoomOut: zoom.zoomOut,
      zoomReset: zoom.reset,
      fullscreen: guard("toggling full screen", () => fullscreen.toggle()),
    }),
    /** Handle a kernel message that widget.js does not know; return whether it was ours. */
    handle: (msg, buffers) => transfers.handle(msg, buffers),
    /** Call once xterm is open (the renderer is chosen then). */
    opened: showRenderer,
    dispose() {
      xt.onRendererChange = null;
      delete root.k8stty;
      titleChange.dispose();
      osc7.dispose();
      for (const subscription of typing) subscription.dispose();
      for (const part of [clipboard, links, download, dropzone, fullscreen, zoom, search, transfers]) {
        part.dispose();
      }
      title.remove();
    },
  };
}
