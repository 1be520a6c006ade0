// Keyboard isolation: every key typed in the focused terminal goes to the pod
// and none of them triggers a notebook shortcut.
//
// * `data-lm-suppress-shortcuts` on the container: Lumino's CommandRegistry
//   (JupyterLab, Notebook 7) walks from the event target up to the document and
//   ignores key bindings as soon as it meets an element with this attribute.
//   This also covers the case where the application listens in capture phase.
// * keydown/keypress/keyup stop propagating at the container (bubble phase, so
//   xterm's own textarea listener has already run): no notebook-level handler
//   (classic notebook, VS Code, Colab) sees them.
// * Copy with Ctrl+Shift+C (Cmd+C works natively on macOS), paste with
//   Ctrl+Shift+V or the browser's paste event; xterm turns pastes into
//   bracketed paste when the program asked for it.
// * The widget's own shortcuts (a short list passed in, see shortcuts.js) run
//   instead of reaching the pod.

const KEY_EVENTS = ["keydown", "keypress", "keyup"];

function copyText(term, text) {
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).catch(() => legacyCopy(term));
  } else {
    legacyCopy(term);
  }
}

function legacyCopy(term) {
  // xterm answers the native copy event on its textarea with the selection.
  term.focus();
  try {
    document.execCommand("copy");
  } catch (error) {
    console.warn("jupyter-k8stty: copying the selection failed", error);
  }
}

/**
 * @param {HTMLElement} container - the element that wraps xterm
 * @param {import("@xterm/xterm").Terminal} term
 * @param {Array<{matches: (event: KeyboardEvent) => boolean, run: () => void}>} shortcuts -
 *   the widget's own keys in the focused terminal (search, zoom, full screen: see
 *   shortcuts.js); they never reach the pod, nor the notebook, nor the browser.
 * @returns {() => void} dispose
 */
export function isolateKeyboard(container, term, shortcuts = []) {
  container.setAttribute("data-lm-suppress-shortcuts", "true");
  const stop = (event) => event.stopPropagation();
  for (const type of KEY_EVENTS) container.addEventListener(type, stop);

  term.attachCustomKeyEventHandler((event) => {
    const shortcut = shortcuts.find((s) => s.matches(event));
    if (shortcut) {
      event.preventDefault(); // Ctrl+= and Ctrl+- would zoom the whole page
      if (event.type === "keydown") shortcut.run();
      return false;
    }
    if (event.type !== "keydown") return true;
    const key = event.key.toLowerCase();
    if (event.ctrlKey && event.shiftKey && !event.altKey && !event.metaKey) {
      if (key === "c") {
        if (term.hasSelection()) copyText(term, term.getSelection());
        event.preventDefault();
        return false;
      }
      if (key === "v") {
        // Let the browser fire its paste event on xterm's textarea: xterm
        // then calls term.paste(), which honours bracketed paste mode.
        return false;
      }
    }
    return true;
  });

  return () => {
    for (const type of KEY_EVENTS) container.removeEventListener(type, stop);
    term.attachCustomKeyEventHandler(() => true);
  };
}
