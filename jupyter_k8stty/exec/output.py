"""Bounded output collection: keep the first ``limit`` bytes of a stream, count the rest."""

from __future__ import annotations

import io

__all__ = ["DEFAULT_MAX_OUTPUT", "OutputBuffer", "describe_cut", "format_bytes"]

#: Bytes kept per stream (stdout, stderr) per pod by ``run``, ``run_many`` and ``--out``.
DEFAULT_MAX_OUTPUT: int = 64 * 1024 * 1024


class OutputBuffer:
    """Collects one stream's bytes up to ``limit``; what comes after is counted, not kept.

    The command keeps running at full speed: its later output is read and dropped, so
    memory stays bounded whatever the pod writes. The bytes go into one growing buffer
    (``io.BytesIO``) rather than a list of chunks joined at the end: each chunk's memory is
    reused at once, and :meth:`value` hands the buffer over without a copy, so a large
    output is one copy in memory and costs half the page faults.
    """

    __slots__ = ("_buffer", "dropped", "kept", "limit")

    def __init__(self, limit: int = DEFAULT_MAX_OUTPUT):
        self.limit = limit
        self._buffer = io.BytesIO()
        self.kept = 0
        self.dropped = 0

    def add(self, data: bytes | memoryview) -> None:
        """Keep (copy) what fits of ``data``; count the rest as dropped."""
        room = self.limit - self.kept
        if room >= len(data):
            self._buffer.write(data)
            self.kept += len(data)
            return
        if room > 0:
            self._buffer.write(memoryview(data)[:room])
            self.kept += room
        self.dropped += len(data) - max(room, 0)

    @property
    def truncated(self) -> bool:
        """Whether output was dropped."""
        return self.dropped > 0

    def value(self) -> bytes:
        """Return the kept bytes (CPython shares ``BytesIO``'s buffer instead of copying it)."""
        return self._buffer.getvalue()


def describe_cut(stream: str, kept: int, dropped: int) -> str:
    """One line saying that ``stream`` was cut: ``stdout cut at 64.0 MiB: 12.3 MiB dropped``."""
    return (f"{stream} cut at {format_bytes(kept)}: {format_bytes(dropped)} more dropped "
            "(raise max_output to keep more)")


def format_bytes(n: int) -> str:
    """``512 B``, ``3.0 KiB``, ``64.0 MiB``: a byte count for one line of text."""
    value = float(n)
    for unit in ("B", "KiB"):
        if value < 1024:
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} MiB"
