"""The bounded tail of a terminal's output, and the modes in force where it starts.

:class:`ReplayTail` keeps the most recent output of a stream for replays (a view
that joins, a skip ahead) and for :attr:`Terminal.output`. The bytes that fall off
its front go through a :class:`~jupyter_k8stty.widget.screen_modes.ScreenModes`, so
a replay can first restore what they had set (the alternate screen of a full-screen
program, a hidden cursor, colours...) and then write the tail.

A tail starts at a line start when one is near (:data:`LINE_ALIGN`), never inside an
escape sequence or a UTF-8 character. It grows up to ``size`` plus some slack before
it is cut back, so appending costs amortized constant time per byte.
"""

from __future__ import annotations

from .screen_modes import ScreenModes

__all__ = ["LINE_ALIGN", "ReplayTail"]

#: How far (bytes) a tail's start may move forward to begin at a line start.
LINE_ALIGN = 4096


class ReplayTail:
    """The last ``size`` bytes of a stream, with the modes in force at their start.

    Args:
        size: bytes kept (a replay holds at most this many, plus the restored modes).
        slack: bytes the buffer may grow past ``size`` before it is cut back.
    """

    def __init__(self, size: int, *, slack: int | None = None):
        self.size = size
        self._slack = slack if slack is not None else max(size // 4, 1024)
        self._buffer = bytearray()
        self._modes = ScreenModes()  # in force at the start of _buffer
        #: Stream position just after the last byte appended.
        self.end = 0

    def append(self, data: bytes | bytearray) -> None:
        """Add the next bytes of the stream."""
        self._buffer += data
        self.end += len(data)
        if len(self._buffer) > self.size + self._slack:
            cut = _finish(self._modes, self._buffer, _cut_point(self._buffer, len(self._buffer) - self.size))
            del self._buffer[:cut]

    def clear(self) -> None:
        """Start a new stream (position 0, default modes)."""
        self._buffer.clear()
        self._modes = ScreenModes()
        self.end = 0

    def data(self, limit: int | None = None) -> bytes:
        """Return the last ``limit`` (at most ``size``) bytes, from a line start when one is near."""
        limit = self.size if limit is None else min(limit, self.size)
        buffer = self._buffer
        if len(buffer) <= limit:
            return bytes(buffer)
        return bytes(buffer[_cut_point(buffer, len(buffer) - limit):])

    def replay(self, limit: int | None = None) -> tuple[ScreenModes, bytes]:
        """Return the last ``limit`` (at most ``size``) bytes and the modes in force at their start."""
        limit = self.size if limit is None else min(limit, self.size)
        buffer = self._buffer
        modes = self._modes.copy()
        if len(buffer) <= limit:
            if not modes.in_sequence:
                return modes, bytes(buffer)
            cut = 0
        else:
            cut = _cut_point(buffer, len(buffer) - limit)
        cut = _finish(modes, buffer, cut)
        return modes, bytes(buffer[cut:])


def _cut_point(buffer: bytearray, start: int) -> int:
    """Where a tail at or after ``start`` should begin: after a newline if one is near."""
    newline = buffer.find(b"\n", start, start + LINE_ALIGN)
    if newline >= 0:
        return newline + 1
    end = min(len(buffer), start + 3)
    while start < end and buffer[start] & 0xC0 == 0x80:  # inside a UTF-8 character
        start += 1
    return start


def _finish(modes: ScreenModes, buffer: bytearray, cut: int) -> int:
    """Feed ``buffer[:cut]`` to ``modes``, then up to the end of a sequence it cuts; return the cut."""
    modes.feed(buffer[:cut])
    while modes.in_sequence and cut < len(buffer):  # at most a sequence's length
        modes.feed(buffer[cut : cut + 1])
        cut += 1
    return cut
