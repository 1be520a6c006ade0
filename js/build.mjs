// Bundle the widget front end for anywidget:
//   js/src/widget.js (+ the CSS it imports) -> jupyter_k8stty/static/widget.{js,css}
//   js/src/loader.js -> jupyter_k8stty/static/loader.js (the widget's small `_esm`, which
//   fetches widget.js and widget.css from the kernel; see jupyter_k8stty/widget/bundle.py)
// Usage: node js/build.mjs [--watch] [--dev]   (--dev: no minification, inline sourcemap)

import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const watch = process.argv.includes("--watch");
const dev = process.argv.includes("--dev") || watch;

const common = {
  bundle: true,
  format: "esm",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  minify: !dev,
  legalComments: "eof",
  logLevel: "info",
};

const builds = [
  {
    ...common,
    entryPoints: [resolve(here, "src/widget.js")],
    outfile: resolve(here, "../jupyter_k8stty/static/widget.js"),
    sourcemap: dev ? "inline" : false,
  },
  {
    // Saved in every notebook with a terminal: no sourcemap, ever.
    ...common,
    entryPoints: [resolve(here, "src/loader.js")],
    outfile: resolve(here, "../jupyter_k8stty/static/loader.js"),
  },
];

if (watch) {
  for (const options of builds) {
    const context = await esbuild.context(options);
    await context.watch();
  }
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
}
