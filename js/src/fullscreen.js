// Full screen: the terminal over the whole browser viewport, not the OS screen (no
// Fullscreen API: no permission prompt, and the notebook stays one Escape away).
//
// The widget's root moves into a fixed overlay on <body>, because JupyterLab's
// cells may be containing blocks (`contain`, `content-visibility`) that would keep a
// `position: fixed` child inside the cell; a placeholder of the same height keeps
// the notebook from jumping. The screen grows to fill the overlay and the usual
// ResizeObserver refits it, so the pod's TTY follows, both ways.
//
// Leave with the button, Ctrl+Shift+Enter, or Escape when the keyboard is not in
// the terminal itself (Escape typed in the terminal belongs to the pod: vim, less).

import { icon, setIcon } from "./icons.js";

/**
 * @param {{root: HTMLElement, screen: HTMLElement, term: import("@xterm/xterm").Terminal,
 *          header: any, guard: Function}} parts
 * @returns {{toggle(): void, enter(): void, exit(): void, readonly active: boolean, dispose(): void}}
 */
export function createFullscreen({ root, screen, term, header, guard }) {
  let overlay = null;
  let placeholder = null;
  let savedHeight = "";

  const inTerminal = (target) => !!term.textarea && target === term.textarea;

  const api = {
    get active() {
      return overlay !== null;
    },
    enter() {
      if (overlay || !root.isConnected) return;
      const hadFocus = root.contains(document.activeElement);
      placeholder = document.createElement("div");
      placeholder.className = "k8stty-fullscreen-placeholder";
      placeholder.style.height = `${root.offsetHeight}px`;
      placeholder.textContent = "terminal shown full screen";
      savedHeight = screen.style.height;
      overlay = document.createElement("div");
      overlay.className = "k8stty-fullscreen-overlay";
      root.replaceWith(placeholder);
      overlay.append(root);
      document.body.append(overlay);
      root.classList.add("k8stty-fullscreen");
      update();
      if (hadFocus || document.activeElement === document.body) term.focus();
    },
    exit() {
      if (!overlay) return;
      root.classList.remove("k8stty-fullscreen");
      screen.style.height = savedHeight; // the fit in full screen set a taller one
      if (placeholder?.isConnected) placeholder.replaceWith(root);
      else root.remove(); // the cell went away meanwhile; render's dispose cleans up
      overlay.remove();
      overlay = placeholder = null;
      update();
      term.focus();
    },
    toggle() {
      if (overlay) api.exit();
      else api.enter();
    },
    dispose() {
      document.removeEventListener("keydown", onKey, true);
      if (overlay) {
        overlay.remove();
        placeholder?.remove();
      }
      overlay = placeholder = null;
      button.remove();
    },
  };

  const button = header.addAction({
    action: "fullscreen", label: "Full screen", text: icon("fullscreen"),
    title: "Full screen (Ctrl+Shift+Enter; Escape outside the terminal leaves it)",
    pressed: false, onClick: guard("toggling full screen", () => api.toggle()),
  });

  function update() {
    const on = !!overlay;
    button.setAttribute("aria-pressed", String(on));
    button.setAttribute("aria-label", on ? "Leave full screen" : "Full screen");
    setIcon(button, on ? "exitFullscreen" : "fullscreen");
  }

  // Capture phase on the document: Escape from a header button or the page itself.
  const onKey = guard("leaving full screen", (event) => {
    if (!overlay || event.key !== "Escape" || event.defaultPrevented) return;
    if (inTerminal(event.target)) return;
    const target = event.target;
    if (target instanceof Node && !root.contains(target) && target !== document.body) return;
    if (target instanceof HTMLInputElement) return; // a box in a panel handles its own Escape
    event.preventDefault();
    event.stopPropagation();
    api.exit();
  });
  document.addEventListener("keydown", onKey, true);
  return api;
}
