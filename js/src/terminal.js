// xterm.js setup: defaults, JupyterLab theme, addons and the WebGL renderer
// with a fallback to the DOM renderer.
//
// WebGL: Chromium keeps about 16 WebGL contexts per page and silently drops the
// oldest when one more is made, so at most MAX_WEBGL terminals of a page draw with
// WebGL (others, and any whose context is lost, use the DOM renderer), and no probe
// canvas is made (it would cost a context too). Links are set up in links.js.

import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import { WebglAddon } from "@xterm/addon-webgl";

// Options the widget owns: the size comes from the fit addon and the traits;
// the others are the widget's own, not xterm's (jupyter_k8stty/widget/options.py).
const RESERVED = new Set(["rows", "cols", "clipboardWrite"]);
/** Terminals of this page that may draw with WebGL at once (Chromium's limit is ~16). */
export const MAX_WEBGL = 12;
let webglInUse = 0;

const LIGHT = {
  foreground: "#1f1f1f",
  background: "#ffffff",
  cursor: "#616161",
  cursorAccent: "#f5f5f5",
  selectionBackground: "rgba(97, 97, 97, 0.3)",
  selectionInactiveBackground: "rgba(189, 189, 189, 0.3)",
};

const DARK = {
  foreground: "#e8e8e8",
  background: "#111111",
  cursor: "#ffffff",
  cursorAccent: "#000000",
  selectionBackground: "rgba(255, 255, 255, 0.3)",
  selectionInactiveBackground: "rgba(238, 238, 238, 0.3)",
};

/** True when JupyterLab (or the page) shows a dark theme. */
export function isDarkTheme() {
  const light = document.body?.dataset?.jpThemeLight;
  if (light === "true") return false;
  if (light === "false") return true;
  return !!window.matchMedia?.("(prefers-color-scheme: dark)").matches;
}

function cssVar(style, name) {
  return style.getPropertyValue(name).trim();
}

/**
 * The xterm theme that follows JupyterLab's light/dark theme: its CSS
 * variables where they exist, a built-in palette otherwise.
 * @param {HTMLElement} node - where to read the CSS variables
 */
export function jupyterTheme(node) {
  const base = isDarkTheme() ? DARK : LIGHT;
  const style = window.getComputedStyle(node);
  const background = cssVar(style, "--jp-layout-color0");
  const foreground = cssVar(style, "--jp-content-font-color0") || cssVar(style, "--jp-ui-font-color0");
  const theme = { ...base };
  if (background) theme.background = background;
  if (foreground) {
    theme.foreground = foreground;
    theme.cursor = foreground;
  }
  if (background) theme.cursorAccent = background;
  return theme;
}

function defaultOptions(node) {
  const style = window.getComputedStyle(node);
  const fontSize = parseInt(cssVar(style, "--jp-code-font-size"), 10);
  return {
    fontFamily:
      cssVar(style, "--jp-code-font-family") ||
      'Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace',
    fontSize: Number.isFinite(fontSize) && fontSize > 0 ? fontSize : 13,
    cursorBlink: true,
    scrollback: 10000,
    // The search box highlights every match with decorations, a "proposed" API.
    allowProposedApi: true,
  };
}

function userOptions(options) {
  const out = {};
  for (const [key, value] of Object.entries(options || {})) {
    if (!RESERVED.has(key)) out[key] = value;
  }
  return out;
}

/**
 * Create (but do not open) a terminal.
 * @param {HTMLElement} themeNode - element whose CSS variables give the theme
 * @param {object} options - the `options` trait, passed straight to xterm.js
 * @param {number} rows - initial rows
 * @param {(where: string, fn: Function) => Function} guard - reports the errors of `fn`
 */
export function createTerminal(themeNode, options, rows, guard = (_where, fn) => fn) {
  const user = userOptions(options);
  const defaults = defaultOptions(themeNode);
  const term = new Terminal({
    ...defaults,
    theme: jupyterTheme(themeNode),
    ...user,
    rows: Math.max(1, rows || 24),
    cols: 80,
  });
  const fit = new FitAddon();
  term.loadAddon(fit);

  let webgl = null;
  let themeObserver = null;
  let current = user;
  let parentEl = null;

  // The padding around xterm's grid shows the parent: give it the same colour.
  const paint = () => {
    if (parentEl) parentEl.style.backgroundColor = term.options.theme?.background || "";
  };

  const useDomRenderer = () => {
    if (!webgl) return;
    const addon = webgl;
    webgl = null;
    webglInUse -= 1;
    try {
      addon.dispose();
    } catch {
      /* already gone */
    }
    api.onRendererChange?.("dom");
  };

  const api = {
    term,
    fit,
    /** Renderer in use: "webgl" or "dom". */
    get renderer() {
      return webgl ? "webgl" : "dom";
    },
    /** Called with "dom" when the WebGL renderer is dropped (context lost). */
    onRendererChange: null,
    /** Open into `parent` and pick the renderer; call once, when attached. */
    open(parent) {
      parentEl = parent;
      term.open(parent);
      paint();
      if (webglInUse < MAX_WEBGL) {
        try {
          const addon = new WebglAddon();
          addon.onContextLoss(guard("switching to the DOM renderer", () => {
            console.warn("jupyter-k8stty: WebGL context lost, using the DOM renderer");
            useDomRenderer();
          }));
          term.loadAddon(addon); // throws when no WebGL2 context can be created
          webgl = addon;
          webglInUse += 1;
        } catch (error) {
          webgl = null; // the DOM renderer stays in charge
          console.warn("jupyter-k8stty: WebGL renderer unavailable, using the DOM renderer", error);
        }
      }
      const refresh = guard("following the JupyterLab theme", () => api.refreshTheme());
      themeObserver = new MutationObserver(() => requestAnimationFrame(refresh));
      themeObserver.observe(document.body, {
        attributes: true,
        attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"],
      });
    },
    /** Apply a new `options` trait live. */
    setOptions(options) {
      const next = userOptions(options);
      for (const [key, value] of Object.entries(next)) {
        if (current[key] !== value) term.options[key] = value;
      }
      for (const key of Object.keys(current)) {
        // An option taken out (zoom reset drops fontSize) goes back to its default.
        if (!(key in next) && key in defaults) term.options[key] = defaults[key];
      }
      if (current.theme && !next.theme) term.options.theme = jupyterTheme(themeNode);
      current = next;
      paint();
    },
    /** Follow JupyterLab's theme unless `options.theme` is given. */
    refreshTheme() {
      if (!current.theme) term.options.theme = jupyterTheme(themeNode);
      paint();
    },
    /** Height of one row in CSS pixels, or 0 before the first render. */
    cellHeight() {
      return term._core?._renderService?.dimensions?.css?.cell?.height || 0;
    },
    dispose() {
      themeObserver?.disconnect();
      useDomRenderer();
      term.dispose();
    },
  };
  return api;
}
