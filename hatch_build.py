"""Hatch build hook: bundle the widget's front end before building a wheel.

The bundle (``jupyter_k8stty/static/widget.js`` and ``widget.css``) is built from
``js/`` with esbuild and never committed. For every wheel, standard or editable,
this hook runs ``npm ci`` (falling back to ``npm install``) when ``js/node_modules``
is missing or older than ``js/package-lock.json``, then ``node js/build.mjs`` when the
bundle is missing or older than any file under ``js/src`` or the build script.

Set ``JUPYTER_K8STTY_SKIP_JS=1`` to skip the front-end build (the wheel then holds
whatever ``jupyter_k8stty/static`` contains, possibly nothing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

BUNDLE = (
    "jupyter_k8stty/static/widget.js",
    "jupyter_k8stty/static/widget.css",
    "jupyter_k8stty/static/loader.js",
)


def _newest_mtime(paths: list[Path]) -> float:
    newest = 0.0
    for path in paths:
        if path.is_dir():
            for child in path.rglob("*"):
                if child.is_file():
                    newest = max(newest, child.stat().st_mtime)
        elif path.is_file():
            newest = max(newest, path.stat().st_mtime)
    return newest


def bundle_is_stale(root: Path) -> bool:
    """Whether the bundle is missing or older than the front-end sources."""
    js = root / "js"
    outputs = [root / name for name in BUNDLE]
    if not all(path.is_file() for path in outputs):
        return True
    sources = [js / "src", js / "build.mjs", js / "package.json", js / "package-lock.json"]
    built = min(path.stat().st_mtime for path in outputs)
    return _newest_mtime(sources) > built


def _run(command: list[str], cwd: Path) -> None:
    print("jupyter-k8stty:", " ".join(command), flush=True)
    subprocess.run(command, cwd=cwd, check=True)


def build_frontend(root: Path) -> None:
    """Install the npm dependencies if needed and bundle the widget."""
    js = root / "js"
    npm = shutil.which("npm")
    node = shutil.which("node")
    if npm is None or node is None:
        raise RuntimeError(
            "building jupyter-k8stty's widget needs Node.js (node and npm on PATH); "
            "install Node.js 18+ or set JUPYTER_K8STTY_SKIP_JS=1 to build without the widget"
        )
    modules = js / "node_modules"
    lock = js / "package-lock.json"
    marker = modules / ".package-lock.json"
    if not marker.is_file() or (lock.is_file() and lock.stat().st_mtime > marker.stat().st_mtime):
        try:
            _run([npm, "ci", "--no-audit", "--no-fund"], js)
        except subprocess.CalledProcessError:
            _run([npm, "install", "--no-audit", "--no-fund"], js)
    _run([node, str(js / "build.mjs")], root)


class CustomBuildHook(BuildHookInterface):
    """Build the front-end bundle and ship it in the wheel."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        """Run before the wheel is assembled (``version`` is ``standard`` or ``editable``)."""
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        if os.environ.get("JUPYTER_K8STTY_SKIP_JS", "").strip() in ("1", "true", "yes"):
            print("jupyter-k8stty: JUPYTER_K8STTY_SKIP_JS is set, not building the widget")
        elif bundle_is_stale(root):
            build_frontend(root)
        else:
            print("jupyter-k8stty: widget bundle is up to date")
        build_data.setdefault("artifacts", []).extend(
            name for name in BUNDLE if (root / name).is_file()
        )
