// Zoom: the font size, kept in the `options` trait (so the kernel has it and a
// reloaded page, or a second view, shows the same size). Changing the trait goes
// through widget.js's options handler, which refits the grid; the new size reaches
// the pod's TTY like any other fit. Zoom reset takes `fontSize` out of the options:
// the terminal goes back to JupyterLab's code font size.

/** Font sizes the buttons and keys stay within (px); options.py accepts 1 to 200. */
export const FONT_RANGE = [6, 48];

/**
 * @param {{model: any, term: import("@xterm/xterm").Terminal, header: any, guard: Function}} parts
 * @returns {{zoomIn(): void, zoomOut(): void, reset(): void, dispose(): void}}
 */
export function createZoom({ model, term, header, guard }) {
  const save = (fontSize) => {
    const options = { ...(model.get("options") || {}) };
    if (fontSize === null) delete options.fontSize;
    else options.fontSize = fontSize;
    model.set("options", options);
    model.save_changes();
  };
  const step = (delta) => {
    const now = Number(term.options.fontSize) || 13;
    const [low, high] = FONT_RANGE;
    const size = Math.min(high, Math.max(low, Math.round(now) + delta));
    if (size !== now) save(size);
  };
  const api = {
    zoomIn: guard("zooming in", () => step(+1)),
    zoomOut: guard("zooming out", () => step(-1)),
    reset: guard("resetting the zoom", () => {
      if ("fontSize" in (model.get("options") || {})) save(null);
    }),
  };
  const buttons = [
    header.addAction({ action: "zoom-out", label: "Smaller font", text: "A\u2212",
                       title: "Smaller font (Ctrl+-)", onClick: api.zoomOut }),
    header.addAction({ action: "zoom-reset", label: "Default font size", text: "A",
                       title: "Default font size (Ctrl+0)", onClick: api.reset }),
    header.addAction({ action: "zoom-in", label: "Larger font", text: "A+",
                       title: "Larger font (Ctrl+=)", onClick: api.zoomIn }),
  ];
  return {
    ...api,
    dispose() {
      for (const button of buttons) button.remove();
    },
  };
}
