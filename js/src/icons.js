// Small inline SVG icons for the header buttons (no icon font, no network).
// Each is drawn with `currentColor`, so it follows the JupyterLab theme.

const NS = "http://www.w3.org/2000/svg";

const PATHS = {
  search: "M6.5 1a5.5 5.5 0 0 1 4.38 8.82l3.65 3.65-1.06 1.06-3.65-3.65A5.5 5.5 0 1 1 6.5 1zm0 1.5a4 4 0 1 0 0 8 4 4 0 0 0 0-8z",
  fullscreen: "M1 1h5v1.5H2.5V6H1zm9 0h5v5h-1.5V2.5H10zM1 10h1.5v3.5H6V15H1zm12.5 0H15v5h-5v-1.5h3.5z",
  exitFullscreen: "M4.5 1H6v5H1V4.5h3.5zM10 1h1.5v3.5H15V6h-5zM1 10h5v5H4.5v-3.5H1zm9 0h5v1.5h-3.5V15H10z",
  upload: "M8 1l4 4-1.06 1.06-2.19-2.19V11h-1.5V3.87L5.06 6.06 4 5zM2 10h1.5v3.5h9V10H14v5H2z",
  download: "M7.25 1h1.5v7.13l2.19-2.19L12 7l-4 4-4-4 1.06-1.06 2.19 2.19zM2 10h1.5v3.5h9V10H14v5H2z",
};

/**
 * @param {keyof typeof PATHS} name
 * @returns {SVGSVGElement} a 14 px icon, hidden from assistive tech (the button has a label)
 */
export function icon(name) {
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("width", "14");
  svg.setAttribute("height", "14");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(NS, "path");
  path.setAttribute("d", PATHS[name]);
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}

/** Replace the icon inside `button` (the full-screen button flips between two). */
export function setIcon(button, name) {
  button.querySelector("svg")?.replaceWith(icon(name));
}
