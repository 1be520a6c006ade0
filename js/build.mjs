// Bundle the widget front end for anywidget:
//   js/src/widget.js (+ the CSS it imports) -> jupyter_k8stty/static/widget.{js,css}
// Usage: node js/build.mjs [--watch] [--dev]   (--dev: no minification, inline sourcemap)

import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const watch = process.argv.includes("--watch");
const dev = process.argv.includes("--dev") || watch;

const options = {
  entryPoints: [resolve(here, "src/widget.js")],
  outfile: resolve(here, "../jupyter_k8stty/static/widget.js"),
  bundle: true,
  format: "esm",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  minify: !dev,
  sourcemap: dev ? "inline" : false,
  legalComments: "eof",
  logLevel: "info",
};

if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
} else {
  await esbuild.build(options);
}
