"""Websocket frames from the API server, parsed straight off the socket into one reused buffer.

The reader thread reads the exec stream through :class:`FrameSource` instead of the
websocket client's ``recv_data_frame()``: one ``recv_into`` fills a fixed buffer with as
many frames as the socket holds (the client makes three or more ``recv`` calls and
allocates a frame object per frame), and a frame's payload is handed on as a view into
that buffer. Memory is bounded by the buffer (its pages are touched only as bytes arrive):
a frame that fits is handed on whole, a bigger one (the protocol allows any size) in
buffer-sized pieces.

Only what a client receives is handled (RFC 6455): unmasked frames, data messages that may
be fragmented, and the control frames close, ping and pong. Anything else (a masked frame,
reserved bits, an unknown opcode, a fragmented or oversized control frame, a continuation
without a start) raises :class:`FrameError` naming what was wrong.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from typing import Protocol

__all__ = [
    "BUFFER_SIZE", "OP_BINARY", "OP_CLOSE", "OP_CONTINUATION", "OP_PING", "OP_PONG", "OP_TEXT",
    "ConnectionLost", "FrameError", "FrameSource",
]

OP_CONTINUATION, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA
_DATA = (OP_CONTINUATION, OP_TEXT, OP_BINARY)
_CONTROL = (OP_CLOSE, OP_PING, OP_PONG)

#: Bytes read per ``recv_into`` and the largest piece of a frame handed on at once.
BUFFER_SIZE: int = 256 * 1024

_LENGTH16 = struct.Struct("!H")
_LENGTH64 = struct.Struct("!Q")


class FrameError(Exception):
    """The server broke the websocket protocol; the message says how."""


class ConnectionLost(Exception):
    """The socket reached its end (the peer closed it) in the middle of the stream."""


class _Socket(Protocol):
    def recv_into(self, buffer: memoryview, nbytes: int = ..., /) -> int: ...


class FrameSource:
    """Frames from one socket. Not thread-safe: one reader thread owns it.

    Args:
        sock: the connected socket (plain or TLS), blocking.
        buffer_size: bytes read at once, and the largest piece of payload handed on.
    """

    def __init__(self, sock: _Socket, buffer_size: int = BUFFER_SIZE):
        self._sock = sock
        # An anonymous mapping rather than a bytearray: its pages are only touched as bytes
        # arrive, so an idle terminal or a pod that prints a line keeps a page, not 256 KiB.
        self._buffer = mmap.mmap(-1, buffer_size)
        self._view = memoryview(self._buffer)
        self._start = 0  # first byte not parsed yet
        self._end = 0  # one past the last byte received
        self._in_message = False  # a fragmented data message waits for its continuation

    @property
    def buffer_size(self) -> int:
        """Bytes read at once; the largest piece of payload handed on."""
        return len(self._buffer)

    def _fill(self, need: int) -> None:
        """Receive until ``need`` unparsed bytes (at most the buffer's size) are held."""
        held = self._end - self._start
        if held >= need:
            return
        if not held:  # all parsed: receive from the front, where the most room is
            self._start = self._end = 0
        elif self._start + need > len(self._buffer):  # move the unparsed rest to the front
            self._buffer.move(0, self._start, held)
            self._start, self._end = 0, held
        view, sock = self._view, self._sock
        while self._end - self._start < need:
            received = sock.recv_into(view[self._end:])
            if not received:
                raise ConnectionLost("the connection was closed")
            self._end += received

    def _take(self, length: int) -> memoryview:
        """Return the next ``length`` bytes (at most the buffer's size), receiving if need be."""
        self._fill(length)
        start = self._start
        self._start = start + length
        return self._view[start:start + length]

    def header(self) -> tuple[bool, int, int]:
        """Read the next frame's header: ``(fin, opcode, payload length)``."""
        first, second = self._take(2)
        if first & 0x70:
            raise FrameError("a frame with reserved bits set (an extension was not negotiated)")
        if second & 0x80:
            raise FrameError("a masked frame (a server must not mask its frames)")
        fin, opcode, length = bool(first & 0x80), first & 0x0F, second & 0x7F
        if length == 126:
            (length,) = _LENGTH16.unpack(self._take(2))
        elif length == 127:
            (length,) = _LENGTH64.unpack(self._take(8))
            if length >> 63:
                raise FrameError("a frame length with its most significant bit set")
        if opcode in _CONTROL:
            if not fin or length > 125:
                raise FrameError(f"a control frame (opcode {opcode:#x}) fragmented or over 125 bytes")
        elif opcode not in _DATA:
            raise FrameError(f"a frame with an unknown opcode {opcode:#x}")
        elif opcode == OP_CONTINUATION and not self._in_message:
            raise FrameError("a continuation frame with no message to continue")
        elif opcode != OP_CONTINUATION and self._in_message:
            raise FrameError("a new message before the previous one's last fragment")
        if opcode in _DATA:
            self._in_message = not fin
        return fin, opcode, length

    def control_payload(self, length: int) -> bytes:
        """Return the payload of a control frame (at most 125 bytes) whose header was just read."""
        return bytes(self._take(length))

    def payload(self, length: int) -> Iterator[memoryview]:
        """Yield the payload of a data frame whose header was just read, in order.

        One view when it fits the buffer, else views of at most the buffer's size. Each
        view is valid only until the next item is asked for.
        """
        size = len(self._buffer)
        while length:
            piece = min(length, size)
            length -= piece
            yield self._take(piece)
