// Links that cannot hurt: plain URLs (@xterm/addon-web-links) and OSC 8 hyperlinks
// (xterm's linkHandler) open in a new tab only when they are http: or https:, with
// noopener and noreferrer, and only after hovering has shown where they go: the
// target appears at the bottom of the terminal, as text. A pod's output chooses the
// link text, so the text shown is the URL itself, never the link's label.

import { WebLinksAddon } from "@xterm/addon-web-links";

const SAFE_PROTOCOLS = new Set(["http:", "https:"]);
/** Longest target shown (the rest is cut with an ellipsis). */
const MAX_SHOWN = 300;

/** The URL to open for `text`, or null when it is not an http(s) URL. */
export function safeUrl(text) {
  try {
    const url = new URL(String(text));
    return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * @param {{term: import("@xterm/xterm").Terminal, screen: HTMLElement, guard: Function,
 *          open?: (url: string) => void}} parts
 * @returns {{dispose(): void}}
 */
export function createLinks({ term, screen, guard, open }) {
  const tip = document.createElement("div");
  tip.className = "k8stty-link-target";
  tip.setAttribute("role", "status");
  tip.hidden = true;
  screen.append(tip);
  let shown = null; // the link whose target the tip shows

  const hover = guard("showing a link", (_event, text) => {
    const url = safeUrl(text);
    shown = text;
    const label = url ?? `${text} (not opened: only http and https links open)`;
    tip.textContent = label.length > MAX_SHOWN ? `${label.slice(0, MAX_SHOWN)}\u2026` : label;
    tip.dataset.safe = String(!!url);
    tip.hidden = false;
  });
  const leave = guard("showing a link", () => {
    shown = null;
    tip.hidden = true;
  });
  const activate = guard("opening a link", (event, text) => {
    const url = safeUrl(text);
    if (!url || shown !== text) return; // never a link whose target was not shown
    event?.preventDefault?.();
    if (open) open(url);
    else window.open(url, "_blank", "noopener,noreferrer");
  });

  const webLinks = new WebLinksAddon(activate, { hover, leave });
  term.loadAddon(webLinks);
  // OSC 8: xterm drops non-http(s) targets itself (allowNonHttpProtocols: false);
  // activate checks again.
  term.options.linkHandler = { activate, hover, leave, allowNonHttpProtocols: false };
  return {
    dispose() {
      webLinks.dispose();
      tip.remove();
    },
  };
}
