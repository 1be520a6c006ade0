"""What the terminal and the player share as widgets: the loader, the bundle, the messages.

Both are anywidgets whose ``_esm`` is the small loader of :mod:`.bundle`: the view asks
for the front end with ``bundle`` and the kernel answers with it as two binary buffers,
so the saved notebook stays small. :class:`BundledWidget` holds that exchange, the
dispatch of the browser's messages to a ``_handlers`` table (a failure is logged and
shown on the view's error line), the browser's own error reports, and the MIME bundle
with a ``text/plain`` placeholder for places where widgets do not render.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from typing import Any

import anywidget
import ipywidgets
import traitlets

from ..errors import K8sTTYError, one_line
from .bundle import load_bundle, loader_esm
from .view_bundle import view_bundle

log = logging.getLogger("jupyter_k8stty")

__all__ = ["MAX_BROWSER_ERROR", "BundledWidget", "Handler"]

#: Longest error text accepted from the browser (a stack trace is cut here).
MAX_BROWSER_ERROR = 2000

#: A handler of one message type from the browser: ``handler(content, buffers)``.
Handler = Callable[[dict, list], None]


class BundledWidget(anywidget.AnyWidget):
    """An anywidget whose front end comes over the comm (see the module docstring).

    Subclasses add their handlers to :attr:`_handlers` (``bundle`` and ``error`` are
    there) and then call :meth:`_listen`; they say what they are in :meth:`_describe`
    and :attr:`placeholder`.
    """

    # A loader of a few KB: the bundle itself comes over the comm and is never saved.
    _esm = loader_esm()
    _css = ""

    _bundle_hash = traitlets.Unicode(
        "", help="Content hash of the front-end bundle the loader asks for ('' when it is missing)."
    ).tag(sync=True)
    _where = traitlets.Unicode(
        "", help="What a saved notebook's placeholder names without a kernel: 'namespace/target' "
        "as given for a terminal, 'recording NAME.cast' for a player."
    ).tag(sync=True)

    def __init__(self, **kwargs: Any):
        bundle = load_bundle()
        super().__init__(_bundle_hash=bundle.hash if bundle else "", **kwargs)
        self._bundle_requests: collections.deque[object] = collections.deque(maxlen=16)
        #: Messages from the browser, by ``type`` (see :mod:`jupyter_k8stty.widget.messages`).
        self._handlers: dict[str, Handler] = {
            "bundle": self._on_bundle,
            "error": self._on_browser_error,
        }

    def _listen(self) -> None:
        """Start handling the browser's messages (once every handler is in place)."""
        self.on_msg(self._handle_message)

    @property
    def placeholder(self) -> str:
        """What a saved notebook shows where the widget was, where widgets do not render."""
        return self._describe()

    def _describe(self) -> str:
        """Say which widget this is, for log lines (``terminal NS/POD``)."""
        return type(self).__name__.lower()

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict, dict] | None:
        # Where widgets do not render (nbviewer, GitHub, a text console), the saved
        # text/plain says what was there instead of a Python repr.
        base = getattr(super(), "_repr_mimebundle_", lambda **_: None)(**kwargs)
        return view_bundle(self, base, self.placeholder)

    # -- comm messages --------------------------------------------------------------------

    def _send_message(self, content: dict, buffers: list) -> None:
        if self.comm is not None:
            ipywidgets.Widget.send(self, content, buffers)

    def _show_error(self, message: str) -> None:
        """Show ``message`` on the error line under the widget, in every view."""
        try:
            self._send_message({"type": "error", "message": message}, [])
        except Exception:
            log.debug("could not send an error to the views", exc_info=True)

    def _handle_message(self, _widget: Any, content: Any, buffers: list) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            log.warning("%s: ignoring a %r message from the browser", self._describe(), kind)
            return
        try:
            handler(content, buffers or [])
        except Exception as exc:
            log.exception("%s: handling a %r message failed", self._describe(), kind)
            self._show_error(f"handling a {kind!r} message failed: {one_line(exc)}")

    def _on_bundle(self, content: dict, buffers: list) -> None:
        request = content.get("request")
        if request is not None:
            if request in self._bundle_requests:
                return  # a copy the loader resent while this one waited behind a busy cell
            self._bundle_requests.append(request)
        bundle = load_bundle()
        if bundle is None:
            raise K8sTTYError("the widget bundle (jupyter_k8stty/static/) is missing: "
                              "reinstall jupyter-k8stty")
        # Two binary buffers: never base64 or a JSON string, and never in the saved state.
        self._send_message({"type": "bundle", "hash": bundle.hash}, [bundle.js, bundle.css])

    def _on_browser_error(self, content: dict, buffers: list) -> None:
        message = str(content.get("message") or "unknown error")[:MAX_BROWSER_ERROR]
        log.warning("%s: the browser reported: %s", self._describe(), message)
