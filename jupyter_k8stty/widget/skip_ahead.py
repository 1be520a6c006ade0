r"""Skipping ahead: an interrupt key typed while the views are far behind a flood.

During a flood (``yes``, ``cat`` of a big file) the bytes between the user and the
next prompt sit mostly upstream of the kernel: the pod's PTY, the API server's socket
buffers (up to about 4 MB), the flow-control window. The kernel reads them at hundreds
of MB/s; a browser draws them at a few MB/s. So when an interrupt key (``^C``, ``^\``,
``^Z``) is typed while the views are at least :data:`SKIP_BEHIND` bytes behind, the
bridge (:meth:`~jupyter_k8stty.widget.bridge.Bridge.interrupt`):

1. tells the views to drop the output they hold and have not drawn (``skip``);
2. keeps reading the pod at full speed, acknowledging at once, and keeps only the
   bounded tail (:class:`~jupyter_k8stty.widget.replay_tail.ReplayTail`, which
   follows the modes of what falls off its front);
3. once output calms down (at most :data:`SKIP_CALM_BYTES` in :data:`SKIP_QUIET`
   seconds, or after :data:`SKIP_MAX` seconds in any case) sends the views one
   ``skipped`` message (:func:`skip_replay`): back to the normal screen, one dim line
   saying how much was skipped, the modes in force where the end of the output begins,
   and that end. Flow control then goes on as before.

The end sent is the last :data:`SKIP_TAIL` bytes, cut further to what fits on the
screen under the note when it all stays in the normal screen (:func:`screen_tail`),
so the note stays in sight above the prompt. In a full-screen program the note goes to
the normal screen, where the shell finds it when the program ends, never into the
program's screen.

A full-screen program still in the alternate screen whose last full redraw is not in
that tail (an incremental ``htop``) is asked to redraw: the PTY is resized by one
column and back (:func:`nudge_redraw`), which sends it ``SIGWINCH`` twice.

``Terminal.skip_ahead = False`` (a class or instance attribute) turns skipping off.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import StreamError
from .screen_modes import ScreenModes

log = logging.getLogger("jupyter_k8stty")

__all__ = [
    "INTERRUPT_KEYS",
    "SKIP_BEHIND",
    "SKIP_CALM_BYTES",
    "SKIP_MAX",
    "SKIP_QUIET",
    "SKIP_TAIL",
    "Skip",
    "interrupt_key",
    "needs_redraw",
    "nudge_redraw",
    "screen_tail",
    "skip_note",
    "skip_replay",
]

#: The keys that interrupt, stop or suspend the foreground program, as the TTY sends them.
INTERRUPT_KEYS: dict[int, str] = {0x03: "Ctrl-C", 0x1C: "Ctrl-\\", 0x1A: "Ctrl-Z"}
#: Bytes the most advanced view must be behind for an interrupt key to skip ahead.
SKIP_BEHIND: int = 128 * 1024
#: Bytes of the end of the skipped output that the views are sent (drawn in ~50 ms).
SKIP_TAIL: int = 64 * 1024
#: Seconds of one look at the output rate while skipping.
SKIP_QUIET: float = 0.05
#: At most this many bytes in :data:`SKIP_QUIET` seconds: the output has calmed down.
SKIP_CALM_BYTES: int = 4096
#: Seconds after which a skip ends even if the output goes on (the program ignored the key).
SKIP_MAX: float = 1.0
#: Longest input (bytes) looked at for an interrupt key: a paste is not a keystroke.
MAX_KEY_INPUT = 16

# Switching screens: lines of the tail are then no longer rows of the normal screen.
_SCREEN_SWITCH = re.compile(rb"\x1b\[\?(?:1049|1047|47)[hl]|\x1bc")
# What takes no room on the screen: escape sequences (CSI, OSC, others) and controls.
_INVISIBLE = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]"
                        rb"|[\x00-\x08\x0b-\x1f\x7f]")
# A full redraw of the screen inside a replayed tail: an erase of the whole display,
# a full reset, or entering the alternate screen (which clears it).
_FULL_REDRAW = re.compile(rb"\x1b\[[0-9;]*2J|\x1bc|\x1b\[\?(?:1049|1047|47)h")


def interrupt_key(data: bytes) -> str | None:
    """Return the name of the interrupt key in typed ``data`` (``"Ctrl-C"``), else ``None``."""
    if len(data) > MAX_KEY_INPUT:
        return None
    for byte in data:
        name = INTERRUPT_KEYS.get(byte)
        if name is not None:
            return name
    return None


@dataclass
class Skip:
    """A skip in progress (its clock is ``time.monotonic()``).

    Attributes:
        key: the name of the key that started it.
        started: when it started.
        size: the terminal's ``(rows, cols)`` when it started, if known.
        skipped: bytes of output the views were not sent (dropped by them included).
        late_views: views that sent ``ready`` meanwhile: they get a replay at the end.
    """

    key: str
    started: float
    size: tuple[int, int] | None = None
    skipped: int = 0
    late_views: list[str] = field(default_factory=list)
    quiet: float = SKIP_QUIET
    calm_bytes: int = SKIP_CALM_BYTES
    longest: float = SKIP_MAX
    _window_bytes: int = 0
    _window_end: float = 0.0

    def __post_init__(self) -> None:
        self._window_end = self.started + self.quiet

    def count(self, nbytes: int) -> None:
        """Count ``nbytes`` more skipped bytes."""
        self.skipped += nbytes
        self._window_bytes += nbytes

    def due(self) -> float:
        """When :meth:`calm` should next be asked."""
        return min(self._window_end, self.started + self.longest)

    def calm(self, now: float) -> bool:
        """Whether the skip should end: output calmed down, or it lasted long enough."""
        if now - self.started >= self.longest:
            return True
        if now < self._window_end:
            return False
        if self._window_bytes <= self.calm_bytes:
            return True
        self._window_bytes = 0
        self._window_end = now + self.quiet
        return False


def human_bytes(nbytes: int) -> str:
    """``4.2 MB``, ``512 KB``, ``300 bytes``."""
    if nbytes >= 1_000_000:
        return f"{nbytes / 1_000_000:.1f} MB"
    if nbytes >= 1000:
        return f"{nbytes / 1000:.0f} KB"
    return f"{nbytes} bytes"


def skip_note(skipped: int, key: str) -> bytes:
    """Return the dim line a skip leaves on the screen."""
    text = f"─── {human_bytes(skipped)} of output skipped after {key} ───"
    return b"\x1b[0;2m" + text.encode() + b"\x1b[0m\r\n"


def skip_replay(start: ScreenModes, tail: bytes, *, skipped: int, key: str) -> bytes:
    """Build what a view that dropped undrawn output writes to show the end of a skip.

    The view stopped somewhere in the output, maybe inside an escape sequence, maybe in
    the alternate screen; every step works from any such state.

    Args:
        start: the modes in force where ``tail`` begins.
        tail: the last bytes of the output.
        skipped: bytes the view did not draw, for the note.
        key: the key that started the skip, for the note.
    """
    return b"".join((
        b"\x18",  # CAN: abort a sequence the view stopped inside
        # Enter and leave the alternate screen: the normal screen, with its cursor where
        # the view left it (or where a full-screen program found it), from either screen.
        b"\x1b[?1049h\x1b[?1049l",
        b"\r\x1b[0m\x1b[2K",  # the half-drawn line goes
        skip_note(skipped, key),
        b"\x1b[!p",  # soft reset: modes, scroll region, rendition, character sets
        b"\x1b[?1000l\x1b[?1006l\x1b[0 q",  # mouse reporting and cursor style, not in DECSTR
        start.restore(),
        tail,
    ))


def screen_tail(start: ScreenModes, tail: bytes, rows: int, cols: int) -> tuple[ScreenModes, bytes]:
    """Cut ``tail`` to the lines that fit on a screen of ``rows`` under the note.

    Only when it starts and stays in the normal screen (lines are then rows, wrapped at
    ``cols``); otherwise ``tail`` is returned whole. Returns the modes in force where the
    result begins, and the result.
    """
    if start.alt_screen is not None or _SCREEN_SWITCH.search(tail):
        return start, tail
    budget = max(1, rows - 2)  # the note's row, and one spare for wide characters
    used, end, cut = 0, len(tail), 0
    while True:
        newline = tail.rfind(b"\n", 0, end)
        used += _rows(tail[newline + 1 : end], cols)
        if used > budget:
            cut = end + 1 if end < len(tail) else newline + 1  # the last line in any case
            break
        if newline < 0:
            break
        end = newline
    if cut == 0:
        return start, tail
    modes = start.copy()
    modes.feed(tail[:cut])
    return modes, tail[cut:]


def _rows(line: bytes, cols: int) -> int:
    """Screen rows a line takes: its longest stretch between carriage returns, wrapped."""
    longest = 0
    for part in line.split(b"\r"):
        longest = max(longest, len(_INVISIBLE.sub(b"", part).decode("utf-8", "replace")))
    return max(1, -(-longest // max(1, cols)))


def needs_redraw(start: ScreenModes, tail: bytes) -> bool:
    """Whether a replay of ``tail`` from ``start`` may leave a full-screen program's screen incomplete.

    True when the tail ends in the alternate screen it began in without a full redraw
    in between: an incremental program's unchanged cells are not in it.
    """
    if start.alt_screen is None:
        return False
    end = start.copy()
    end.feed(tail)
    return end.alt_screen is not None and _FULL_REDRAW.search(tail) is None


def nudge_redraw(resize: Callable[[int, int], None], size: Callable[[], tuple[int, int]], *,
                 delay: float = 0.05) -> None:
    """Make the program on the PTY redraw: resize it by one column, and back after ``delay``.

    Args:
        resize: ``resize(rows, cols)`` of the session (raises ``StreamError`` when it ended).
        size: the terminal's current ``(rows, cols)``.
        delay: seconds between the two resizes (one ``SIGWINCH`` each).
    """
    def back() -> None:
        try:
            resize(*size())
        except StreamError:
            log.debug("no resize back after a skip: the session ended")

    rows, cols = size()
    try:
        resize(rows, cols - 1 if cols > 2 else cols + 1)
    except StreamError:
        return
    timer = threading.Timer(delay, back)
    timer.name = "k8stty-redraw"
    timer.daemon = True
    timer.start()
