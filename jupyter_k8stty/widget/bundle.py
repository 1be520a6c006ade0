"""The front end, delivered over the comm so that notebooks stay small.

anywidget syncs a widget's ``_esm`` and ``_css`` traits, and JupyterLab and nbclient
save every synced trait in the notebook: with the 0.5 MB xterm.js bundle as ``_esm``,
each terminal cost half a megabyte on disk. So ``_esm`` is a loader of a few KB
(``static/loader.js``, built from ``js/src/loader.js``) and ``_css`` is empty; the
loader asks the kernel for the real bundle with a ``{"type": "bundle"}`` custom
message, which is never saved, and the kernel answers with the JavaScript and the
CSS as two binary buffers (see :mod:`jupyter_k8stty.widget.messages`). The loader caches the module on
``globalThis`` under the bundle's content hash (:attr:`Bundle.hash`, a synced trait),
so only the first terminal of a page pays the round trip.

Both files are built by ``js/build.mjs`` at package build time (``hatch_build.py``).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["STATIC", "Bundle", "load_bundle", "loader_esm"]

#: Where the built front end lives.
STATIC = Path(__file__).resolve().parent.parent / "static"

#: Shown instead of the terminal when the package was installed without its front end.
MISSING_ESM = """
export default {
  render({ el }) {
    el.textContent = "jupyter-k8stty: the widget bundle (jupyter_k8stty/static/) is missing; "
      + "reinstall the package (pip install jupyter-k8stty) or run "
      + "'npm --prefix js ci && node js/build.mjs' in a source checkout.";
  },
};
"""


@dataclass(frozen=True)
class Bundle:
    """The built front end.

    Attributes:
        js: the ES module (``static/widget.js``).
        css: its styles (``static/widget.css``), xterm.js's included.
        hash: the first 16 hex digits of the SHA-256 of both: the loader's cache key.
    """

    js: bytes
    css: bytes
    hash: str


_lock = threading.Lock()
_cached: tuple[tuple, Bundle] | None = None


def _stamp(*paths: Path) -> tuple:
    return tuple((p.stat().st_mtime_ns, p.stat().st_size) for p in paths)


def load_bundle(static: Path = STATIC) -> Bundle | None:
    """Return the built front end, or ``None`` when it is missing.

    Read once and kept while the files do not change (``node js/build.mjs --watch``
    rebuilds them: the next terminal gets the new bundle).
    """
    global _cached
    js, css = static / "widget.js", static / "widget.css"
    try:
        stamp = _stamp(js, css)
    except OSError:
        return None
    with _lock:
        if _cached is not None and _cached[0] == stamp:
            return _cached[1]
        code, styles = js.read_bytes(), css.read_bytes()
        digest = hashlib.sha256(code + b"\0" + styles).hexdigest()[:16]
        bundle = Bundle(code, styles, digest)
        _cached = (stamp, bundle)
        return bundle


def loader_esm(static: Path = STATIC) -> str:
    """Return the ``_esm`` every terminal syncs: the loader, or a message if the front end is missing."""
    loader = static / "loader.js"
    if not loader.is_file() or load_bundle(static) is None:
        return MISSING_ESM
    return loader.read_text(encoding="utf-8")
