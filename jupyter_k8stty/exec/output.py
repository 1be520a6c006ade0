"""Bounded output collection: keep the first ``limit`` bytes of a stream, count the rest."""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_OUTPUT", "OutputBuffer", "describe_cut", "format_bytes"]

#: Bytes kept per stream (stdout, stderr) per pod by ``run``, ``run_many`` and ``--out``.
DEFAULT_MAX_OUTPUT: int = 64 * 1024 * 1024


class OutputBuffer:
    """Collects one stream's bytes up to ``limit``; what comes after is counted, not kept.

    The command keeps running at full speed: its later output is read and dropped, so
    memory stays bounded whatever the pod writes.
    """

    __slots__ = ("_chunks", "dropped", "kept", "limit")

    def __init__(self, limit: int = DEFAULT_MAX_OUTPUT):
        self.limit = limit
        self._chunks: list[bytes] = []
        self.kept = 0
        self.dropped = 0

    def add(self, data: bytes) -> None:
        """Keep what fits of ``data``; count the rest as dropped."""
        room = self.limit - self.kept
        if room >= len(data):
            self._chunks.append(data)
            self.kept += len(data)
            return
        if room > 0:
            self._chunks.append(data[:room])
            self.kept += room
        self.dropped += len(data) - max(room, 0)

    @property
    def truncated(self) -> bool:
        """Whether output was dropped."""
        return self.dropped > 0

    def value(self) -> bytes:
        """Return the kept bytes."""
        if len(self._chunks) > 1:
            self._chunks = [b"".join(self._chunks)]
        return self._chunks[0] if self._chunks else b""


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
