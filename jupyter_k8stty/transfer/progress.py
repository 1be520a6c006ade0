"""Progress of a copy: the callback type, and a text line on stderr for ``progress=True``."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["PROGRESS_INTERVAL", "ProgressCallback", "TextProgress", "progress_callback"]

#: ``progress(bytes_done, bytes_total)``; ``bytes_total`` is ``None`` when unknown (``copy_from``).
ProgressCallback = Callable[[int, "int | None"], None]
#: Seconds between two updates of the text progress line.
PROGRESS_INTERVAL: float = 0.25


class TextProgress:
    """A progress callback that keeps one carriage-return-updated line on stderr (no tqdm needed).

    Args:
        label: what is being copied, e.g. ``copying data.csv to demo``.
        stream: where the line goes; ``None`` means ``sys.stderr`` at the time of writing.
    """

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream
        self.last = 0.0
        self.shown = False
        self.latest: tuple[int, int | None] | None = None

    def __call__(self, done: int, total: int | None) -> None:
        """Note the progress; redraw the line at most every :data:`PROGRESS_INTERVAL` seconds."""
        self.latest = (done, total)
        now = time.monotonic()
        if now - self.last < PROGRESS_INTERVAL and (total is None or done < total):
            return
        self.last = now
        stream = self.stream or sys.stderr
        if total:
            text = f"{self.label}: {_size(done)} of {_size(total)} ({100 * done // total}%)"
        else:
            text = f"{self.label}: {_size(done)}"
        stream.write(f"\r{text}")
        stream.flush()
        self.shown = True

    def finish(self) -> None:
        """Show the final figures and end the line."""
        if self.latest is not None:
            self.last = 0.0
            done, total = self.latest
            self(done, total if total else None)
        if self.shown:
            stream = self.stream or sys.stderr
            stream.write("\n")
            stream.flush()


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"  # pragma: no cover


def progress_callback(progress: ProgressCallback | bool | None, label: str) -> ProgressCallback | None:
    """Return the callback ``progress`` stands for: itself, a :class:`TextProgress` for ``True``, or ``None``.

    Raises:
        ArgumentError: ``progress`` is neither a callable nor a bool nor ``None``.
    """
    from ..errors import ArgumentError

    if progress is True:
        return TextProgress(label)
    if progress is False or progress is None:
        return None
    if not callable(progress):
        raise ArgumentError("progress must be a callable(bytes_done, bytes_total) or True")
    return progress
