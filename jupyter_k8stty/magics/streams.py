"""Where ``%%k8sexec`` output goes: the cell's streams, a capture buffer, or both; all bounded.

Shown output is decoded incrementally (a UTF-8 character split across two frames
survives) and flushed at once, so ``ipykernel`` hands it to ZMQ before the caller
acknowledges it to the pod: the notebook's pace throttles the pod. Captured output
(``--out``/``--err``, and the bytes an ``ExecError`` carries) keeps at most
``--max-output`` bytes per stream; the rest is counted, not kept.
"""

from __future__ import annotations

import codecs
import functools
import sys
from collections.abc import Callable
from typing import Any, TextIO

from ..exec.output import OutputBuffer

__all__ = ["PREFIX", "ChannelSink", "PrefixedLines", "print_err", "untee"]

#: Marks the magic's own lines in the cell, apart from the pod's output.
PREFIX = "[k8sexec]"
#: Bytes shown in one write (one ``stream`` message). ``ipykernel`` queues up to 1000
#: messages on its IOPub socket for a slow client, so this bounds that queue to
#: about 16 MiB in the kernel.
WRITE_CHUNK: int = 16 * 1024
#: A line of fan-out output longer than this is written without waiting for its end,
#: so a pod that never writes a newline cannot grow the line buffer without bound.
MAX_LINE = 64 * 1024


def untee(stream: TextIO) -> Callable[[str], Any]:
    """Return ``stream``'s own ``write``, past IPython's history tee if one is installed.

    IPython 9 replaces ``sys.stdout.write`` / ``sys.stderr.write`` on the instance while
    a cell runs (``InteractiveShell._tee``) with a function that also appends every
    string written to ``history_manager.outputs``, for the rest of the session and
    without a bound: a pod's flood would stay in the kernel's memory (700 MB for
    ``timeout 8 yes``). The pod's output reaches the cell all the same; it is only
    left out of IPython's output history.
    """
    write = stream.write
    if "._tee." in getattr(write, "__qualname__", ""):
        return functools.partial(type(stream).write, stream)
    return write


def print_err(message: str) -> None:
    """Write one line of the magic's own to the cell's stderr."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


class ChannelSink:
    """One channel (stdout or stderr) of one pod: shown in the cell, captured, or both.

    Args:
        stream: where to show the output (``sys.stdout``); ``None`` when it is captured
            instead (``--out``).
        limit: bytes kept when capturing.
        capture: keep the bytes (for ``--out``/``--err``, or the ``ExecError`` of
            ``--raise-error``), up to ``limit``.
    """

    def __init__(self, stream: TextIO | None, *, limit: int, capture: bool):
        self.stream = stream
        self._write = untee(stream) if stream is not None else None
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.kept = OutputBuffer(limit) if capture else None
        #: Bytes received from the pod on this channel.
        self.received = 0

    def add(self, data: bytes) -> None:
        """Show and/or keep ``data``; returns once it is handed on (shown output is flushed)."""
        self.received += len(data)
        if self.kept is not None:
            self.kept.add(data)
        if self.stream is not None and self._write is not None:
            for start in range(0, len(data), WRITE_CHUNK):
                text = self.decoder.decode(data[start:start + WRITE_CHUNK])
                if text:
                    self._write(text)
                    self.stream.flush()

    def finish(self) -> None:
        """Show what the decoder still holds (a character cut off at the end)."""
        if self.stream is not None and self._write is not None:
            text = self.decoder.decode(b"", final=True)
            if text:
                self._write(text)
                self.stream.flush()

    def value(self) -> bytes:
        """Return the kept bytes (``b""`` when not capturing)."""
        return self.kept.value() if self.kept is not None else b""

    def text(self) -> str:
        """Return the kept bytes as text (a character cut at the limit becomes U+FFFD)."""
        return self.value().decode("utf-8", errors="replace")

    @property
    def shown_or_kept(self) -> int:
        """Bytes that reached the cell (when shown) or the capture (when captured only)."""
        if self.stream is None and self.kept is not None:
            return self.kept.kept
        return self.received

    @property
    def dropped(self) -> int:
        """Bytes received beyond the limit and not kept."""
        return self.kept.dropped if self.kept is not None else 0


class PrefixedLines:
    """Line-buffers one pod's channel and writes each line as ``[pod] line``."""

    def __init__(self, pod: str, stream: Any | None):
        self.prefix = f"[{pod}] "
        self.stream = stream
        self._write = untee(stream) if stream is not None else None
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.partial = ""

    def feed(self, data: bytes) -> None:
        """Write the complete lines in ``data`` (and a partial line once it is :data:`MAX_LINE` long)."""
        if self.stream is None:
            return
        text = self.partial + self.decoder.decode(data)
        lines = text.split("\n")
        self.partial = lines.pop()
        if len(self.partial) >= MAX_LINE:
            lines.append(self.partial)
            self.partial = ""
        if lines:
            self._emit("".join(f"{self.prefix}{line}\n" for line in lines))

    def finish(self) -> None:
        """Write the last, unterminated line, if any."""
        if self.stream is None:
            return
        rest = self.partial + self.decoder.decode(b"", final=True)
        self.partial = ""
        if rest:
            self._emit(f"{self.prefix}{rest}\n")

    def _emit(self, text: str) -> None:
        if self._write is None or self.stream is None:
            return
        for start in range(0, len(text), WRITE_CHUNK):  # small messages, as ChannelSink writes
            self._write(text[start:start + WRITE_CHUNK])
            self.stream.flush()
