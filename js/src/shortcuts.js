// The widget's own keys in the focused terminal. Each one is taken from the pod
// (and from the notebook and the browser) by keyboard.js; every other key goes to
// the pod as before. README's "In the terminal" and docs/guide/terminals.md list them: keep them in step.
//
//   Ctrl+Shift+F      search the scrollback (Enter / Shift+Enter: next / previous)
//   Ctrl+=  (Ctrl++)  larger font        Ctrl+-  smaller font      Ctrl+0  default size
//   Ctrl+Shift+Enter  full screen on / off (Escape outside the terminal also leaves it)
//   Ctrl+Shift+C      copy the selection  Ctrl+Shift+V  paste       (keyboard.js)
//
// Ctrl+- costs the pod Ctrl+_ (readline's undo, also sent by Ctrl+/, which stays
// free); the others send nothing a shell uses.

const only = (event, { ctrl = false, shift = false } = {}) =>
  event.ctrlKey === ctrl && event.shiftKey === shift && !event.altKey && !event.metaKey;

/** Pure key tests, exported for tests and for the README's table. */
export const KEYS = {
  search: (e) => only(e, { ctrl: true, shift: true }) && e.code === "KeyF",
  zoomIn: (e) => e.ctrlKey && !e.altKey && !e.metaKey &&
    (e.key === "=" || e.key === "+" || e.code === "NumpadAdd"),
  zoomOut: (e) => only(e, { ctrl: true }) && (e.key === "-" || e.code === "NumpadSubtract"),
  zoomReset: (e) => only(e, { ctrl: true }) && (e.key === "0" || e.code === "Numpad0"),
  fullscreen: (e) => only(e, { ctrl: true, shift: true }) && e.key === "Enter",
};

/**
 * @param {{[name in keyof KEYS]?: () => void}} actions
 * @returns {Array<{matches: (event: KeyboardEvent) => boolean, run: () => void}>}
 */
export function shortcutList(actions) {
  return Object.entries(actions)
    .filter(([name, run]) => KEYS[name] && run)
    .map(([name, run]) => ({ matches: KEYS[name], run }));
}
