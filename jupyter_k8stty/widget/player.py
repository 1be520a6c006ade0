"""``Player``: replay an asciicast recording in a notebook, with the terminal's own xterm.js.

The player is an anywidget with the same small loader as
:class:`~jupyter_k8stty.widget.terminal.Terminal` (see :mod:`.bundle`); its ``_view``
trait tells the bundle to render the player (``js/src/player.js``) instead of a live
terminal. The recording never goes into the widget's state (it may be large, and the
notebook stays small): the view asks for it with ``{"type": "ready", "view": id}`` and
the kernel answers ``{"type": "cast", "view": id}`` with the file's bytes as one binary
buffer. Play/pause, speed and seek are the view's own; ``speed`` is synced.

Messages (besides ``bundle``, as for the terminal):

Kernel to browser: ``{"type": "cast", "view": id}`` + ``[asciicast bytes]``;
``{"type": "error", "message": text}``.
Browser to kernel: ``{"type": "ready", "view": id}``; ``{"type": "error", "message": text}``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import traitlets

from ..errors import ArgumentError
from .bundled_widget import BundledWidget
from .recording import read_asciicast

__all__ = ["SPEEDS", "Player"]

#: Speeds the player offers.
SPEEDS: tuple[float, ...] = (0.25, 0.5, 1.0, 1.5, 2.0, 4.0, 8.0)


class Player(BundledWidget):
    """Replay an asciicast v2 recording (``Terminal(record=...)``, ``asciinema rec``).

    Args:
        path: the ``.cast`` file.
        speed: playback speed, one of :data:`SPEEDS`.
        autoplay: start playing as soon as it is shown.
        idle_time_limit: pauses longer than this many seconds are cut to it (default:
            the recording's own ``idle_time_limit``, else 2 s); ``0`` keeps them.

    Raises:
        ArgumentError: the file cannot be read or is not asciicast v2, or a bad speed.

    Example:
        >>> t = Terminal("web-0", record="session.cast")
        >>> ...
        >>> t.stop_recording()
        >>> Player("session.cast", speed=2)
    """

    _view = traitlets.Unicode("player", help="Which front end the bundle renders: 'player'.").tag(sync=True)
    title = traitlets.Unicode(
        "", help="The recording's title (header ``title``), else its file name."
    ).tag(sync=True)
    cols = traitlets.Int(80, help="The recording's width in columns (header ``width``).").tag(sync=True)
    rows = traitlets.Int(24, help="The recording's height in rows (header ``height``).").tag(sync=True)
    duration = traitlets.Float(
        0.0, help="Seconds from the first to the last event, pauses cut."
    ).tag(sync=True)
    speed = traitlets.Float(1.0, help=f"Playback speed, one of {SPEEDS}.").tag(sync=True)
    autoplay = traitlets.Bool(False, help="Start playing when shown.").tag(sync=True)
    idle_time_limit = traitlets.Float(
        2.0, help="Pauses longer than this (seconds) are cut to it; 0 keeps them."
    ).tag(sync=True)

    def __init__(self, path: str | os.PathLike[str], *, speed: float = 1.0, autoplay: bool = False,
                 idle_time_limit: float | None = None):
        header, events = read_asciicast(path)
        if speed not in SPEEDS:
            raise ArgumentError(f"speed must be one of {', '.join(f'{s:g}' for s in SPEEDS)}, got {speed!r}")
        limit = idle_time_limit if idle_time_limit is not None else header.get("idle_time_limit", 2.0)
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit < 0:
            raise ArgumentError(f"idle_time_limit must be a number of seconds >= 0, got {limit!r}")
        self.path = Path(path)
        self._data = self.path.read_bytes()
        #: How many events the recording holds.
        self.events = len(events)
        super().__init__(
            _where=f"recording {self.path.name}",
            title=str(header.get("title") or self.path.name), cols=header["width"],
            rows=header["height"], duration=_duration(events, float(limit)), speed=float(speed),
            autoplay=autoplay, idle_time_limit=float(limit),
        )
        self._handlers["ready"] = self._on_ready
        self._listen()

    def __repr__(self) -> str:
        return f"<Player {self.path.name} {self.cols}x{self.rows} {self.duration:.1f}s>"

    @property
    def placeholder(self) -> str:
        """What a saved notebook shows where the player was: ``replay of NAME.cast (12.5 s)``."""
        return f"replay of {self.path.name} ({self.duration:.1f} s)"

    def _describe(self) -> str:
        return f"player {self.path.name}"

    @traitlets.validate("speed")
    def _check_speed(self, proposal: dict) -> float:
        if proposal["value"] not in SPEEDS:
            raise traitlets.TraitError(f"speed must be one of {SPEEDS}, got {proposal['value']!r}")
        return proposal["value"]

    # -- messages -------------------------------------------------------------------------

    def _on_ready(self, content: dict, buffers: list) -> None:
        self._send_message({"type": "cast", "view": content.get("view")}, [self._data])


def _duration(events: list[list[Any]], idle_time_limit: float) -> float:
    """Seconds the replay lasts, with pauses longer than ``idle_time_limit`` cut to it."""
    total, last = 0.0, 0.0
    for event in events:
        gap = max(0.0, float(event[0]) - last)
        total += min(gap, idle_time_limit) if idle_time_limit > 0 else gap
        last = float(event[0])
    return round(total, 6)
