"""Snapshots: the terminal's screen, saved into the notebook on request only.

A live terminal saves nothing in the notebook (secrets may be on screen). On request, a
view serializes its screen with xterm.js's serialize addon (``js/src/snapshot.js``):
HTML with the colours and attributes of every cell, plus the plain text of each row.

* :meth:`Terminal.snapshot <jupyter_k8stty.widget.terminal.Terminal.snapshot>` asks
  the views with ``{"type": "snapshot", "request": id}``; the first answer
  ``{"type": "snapshot", "request": id, "html": ..., "text": ...}`` becomes a
  :class:`Snapshot`, whose ``text/html`` and ``text/plain`` representations go into
  the outputs of the cell that shows it (nbviewer, nbconvert and GitHub render them).
* The header's snapshot action sends an answer without a request id: the snapshot is
  added to the terminal's own output (see
  :meth:`~jupyter_k8stty.widget.terminal.Terminal._ipython_display_`), next to the widget
  view, so that the saved notebook shows it where widgets do not render.

The HTML is rebuilt here from an allow-list (``pre``, ``div``, ``span``, ``br`` with a
``style`` made of colour, font and decoration properties only): whatever the browser
sent, nothing else reaches the notebook.
"""

from __future__ import annotations

import html
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

__all__ = ["Snapshot", "SnapshotRequests", "sanitize_html"]

#: Longest HTML accepted from a view (a full 500x1000 screen of coloured cells fits).
MAX_HTML = 8 * 1024 * 1024
#: Tags kept from the serialize addon's HTML.
ALLOWED_TAGS = frozenset({"pre", "div", "span", "br"})
#: CSS properties kept in ``style`` attributes.
ALLOWED_CSS = frozenset({
    "color", "background-color", "font-family", "font-size", "font-weight", "font-style",
    "text-decoration", "white-space", "opacity", "visibility", "line-height",
})
_CSS_VALUE = re.compile(r"^[#\w\s,.%'\"()+-]*$")


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            return
        style = "; ".join(filter(None, (_css(value or "") for name, value in attrs if name == "style")))
        attr = f' style="{html.escape(style, quote=True)}"' if style else ""
        self.out.append(f"<{tag}{attr}>")
        if tag != "br":
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            while self.open:
                last = self.open.pop()
                self.out.append(f"</{last}>")
                if last == tag:
                    break

    def handle_data(self, data: str) -> None:
        self.out.append(html.escape(data, quote=False))


def _css(style: str) -> str:
    kept = []
    for declaration in style.split(";"):
        name, sep, value = declaration.partition(":")
        name, value = name.strip().lower(), value.strip()
        if (sep and name in ALLOWED_CSS and _CSS_VALUE.match(value)
                and "url" not in value.lower() and "expression" not in value.lower()):
            kept.append(f"{name}: {value}")
    return "; ".join(kept)


def sanitize_html(markup: str) -> str:
    """Return ``markup`` with only the allowed tags and styles (see the module docstring)."""
    parser = _Sanitizer()
    parser.feed(markup)
    parser.close()
    return "".join(parser.out) + "".join(f"</{tag}>" for tag in reversed(parser.open))


@dataclass(frozen=True)
class Snapshot:
    """The terminal's screen at one moment.

    Attributes:
        html: the screen as HTML with colours (safe to embed: see :func:`sanitize_html`).
        text: the screen's rows as plain text, trailing blanks cut.
        title: the terminal's title when it was taken.
        cols: the screen's width in columns.
        rows: the screen's height in rows.
    """

    html: str
    text: str
    title: str = ""
    cols: int = 0
    rows: int = 0

    def to_html(self) -> str:
        """Return a self-contained block: the title line, then the screen."""
        caption = html.escape(self.title or "terminal", quote=False)
        return ('<div class="k8stty-snapshot" style="display: inline-block; max-width: 100%; '
                'overflow-x: auto; border: 1px solid #bdbdbd; border-radius: 2px">'
                '<div style="padding: 1px 8px; background-color: #eeeeee; color: #333333; '
                f'font-family: sans-serif; font-size: 12px">{caption}</div>{self.html}</div>')

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": self.to_html(), "text/plain": self.text}

    def __repr__(self) -> str:
        return f"<Snapshot {self.title or 'terminal'} {self.cols}x{self.rows}>"


def snapshot_from(content: dict, title: str) -> Snapshot:
    """Build a :class:`Snapshot` from a view's ``snapshot`` message.

    Raises:
        ValueError: the message carries no HTML, or too much.
    """
    markup = content.get("html")
    if not isinstance(markup, str) or not markup:
        raise ValueError("the snapshot from the browser has no HTML")
    if len(markup) > MAX_HTML:
        raise ValueError(f"the snapshot from the browser is larger than {MAX_HTML} bytes")
    text = content.get("text")
    lines = str(text if isinstance(text, str) else "").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()

    def number(key: str) -> int:
        value = content.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    return Snapshot(sanitize_html(markup), "\n".join(line.rstrip() for line in lines),
                    title, number("cols"), number("rows"))


class SnapshotRequests:
    """Snapshots asked of the views, and their answers.

    Args:
        send: sends a custom message to every view.
    """

    def __init__(self, send: Callable[[dict, list], None]):
        self._send = send
        self._lock = threading.Lock()
        self._pending: dict[str, list[Any]] = {}  # request id -> [event, snapshot or None]

    def request(self, title: str, *, scrollback: int, timeout: float) -> Snapshot:
        """Ask every view for its screen; return the first answer.

        Raises:
            TimeoutError: no view answered within ``timeout`` seconds.
        """
        request = uuid.uuid4().hex
        slot: list[Any] = [threading.Event(), None]
        with self._lock:
            self._pending[request] = slot
        try:
            self._send({"type": "snapshot", "request": request, "scrollback": scrollback}, [])
            if not slot[0].wait(timeout):
                raise TimeoutError(
                    f"no view of the terminal answered the snapshot request within {timeout:g} s: "
                    "display the terminal first (and a kernel with subshells answers while a "
                    "cell runs; an older one only once the cell has finished)")
        finally:
            with self._lock:
                self._pending.pop(request, None)
        snapshot = slot[1]
        if isinstance(snapshot, Exception):
            raise snapshot
        return snapshot

    def answer(self, content: dict, title: str) -> Snapshot | None:
        """Handle a view's ``snapshot`` message; return the snapshot if nobody asked for it.

        An answer to a request wakes :meth:`request`; later answers to the same request
        (other views) are ignored. Without a request id the user clicked the header
        action: the caller puts the snapshot in the terminal's output.

        Raises:
            ValueError: an unrequested snapshot without HTML.
        """
        request = content.get("request")
        if request is None:
            return snapshot_from(content, title)
        with self._lock:
            slot = self._pending.get(str(request))
            if slot is None or slot[0].is_set():
                return None
            try:
                slot[1] = snapshot_from(content, title)
            except ValueError as exc:
                slot[1] = exc
            slot[0].set()
        return None
