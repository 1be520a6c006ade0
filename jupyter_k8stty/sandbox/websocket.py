"""The server side of RFC 6455 websockets, just what the exec stream needs.

Frames are read from a buffered file over the (TLS) socket and written with a
single ``sendall`` per call under a lock, because output frames from the pump
thread and pongs from the reader thread share one socket.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import threading
from collections.abc import Iterable
from typing import BinaryIO

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_TOO_BIG = 1009

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: The largest message accepted from a client; far above any paste or upload chunk.
MAX_MESSAGE = 128 * 1024 * 1024


class WebSocketError(Exception):
    """The peer broke the websocket protocol; ``code`` is the close code to answer with."""

    def __init__(self, message: str, code: int = CLOSE_PROTOCOL_ERROR):
        super().__init__(message)
        self.code = code


class ConnectionClosed(Exception):
    """The connection ended: the peer sent a close frame or the socket hit EOF."""


def accept_key(key: str) -> str:
    """Return the ``Sec-WebSocket-Accept`` value for a client's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1(key.strip().encode("ascii") + _GUID).digest()).decode()


def select_subprotocol(offered: str | None, supported: Iterable[str]) -> str | None:
    """Return the server's preferred protocol among those the client offered, or ``None``.

    Args:
        offered: the raw ``Sec-WebSocket-Protocol`` header(s), comma-separated.
        supported: protocols the server speaks, most preferred first.
    """
    names = {p.strip() for p in (offered or "").split(",") if p.strip()}
    for protocol in supported:
        if protocol in names:
            return protocol
    return None


def frame_header(opcode: int, length: int, fin: bool = True) -> bytes:
    """Return the header of an unmasked (server-to-client) frame."""
    first = (0x80 if fin else 0) | opcode
    if length < 126:
        return struct.pack("!BB", first, length)
    if length < 1 << 16:
        return struct.pack("!BBH", first, 126, length)
    return struct.pack("!BBQ", first, 127, length)


def unmask(mask: bytes, data: bytes) -> bytes:
    """XOR ``data`` with the 4-byte ``mask`` repeated.

    One big-integer XOR runs in C; a Python loop per byte would take seconds
    for a 20 MB paste.
    """
    n = len(data)
    if not n:
        return data
    key = (mask * ((n + 3) // 4))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


class WebSocket:
    """One server-side websocket over an already upgraded connection.

    Args:
        sock: the connection's socket, used for writing and shutdown.
        rfile: a buffered reader over the same socket (it may already hold
            bytes that arrived right after the handshake).
    """

    def __init__(self, sock: socket.socket, rfile: BinaryIO):
        self.sock = sock
        self.rfile = rfile
        self._write_lock = threading.Lock()
        self.close_sent = False
        self.close_received = False
        #: While set to an unset event (fault injection: a stall), every send waits for
        #: it and then fails, pongs included.
        self.gate: threading.Event | None = None

    def _read_exact(self, n: int) -> bytes:
        data = self.rfile.read(n)
        if data is None or len(data) < n:
            raise ConnectionClosed("connection closed by the peer")
        return data

    def _read_frame(self) -> tuple[bool, int, bytes]:
        b0, b1 = self._read_exact(2)
        fin, opcode = bool(b0 & 0x80), b0 & 0x0F
        if b0 & 0x70:
            raise WebSocketError("reserved bits set in a frame without an extension")
        if not b1 & 0x80:
            raise WebSocketError("client frame is not masked")
        length = b1 & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read_exact(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read_exact(8))
        if opcode >= 0x8 and (length > 125 or not fin):
            raise WebSocketError("control frame too long or fragmented")
        if length > MAX_MESSAGE:
            raise WebSocketError(f"frame of {length} bytes is too big", CLOSE_TOO_BIG)
        mask = self._read_exact(4)
        return fin, opcode, unmask(mask, self._read_exact(length))

    def receive(self) -> tuple[int, bytes]:
        """Return the next data message as ``(opcode, payload)``, answering pings meanwhile.

        Fragmented messages are reassembled; the opcode is that of the first fragment.

        Raises:
            ConnectionClosed: the peer closed (its close frame is answered) or hung up.
            WebSocketError: the peer broke the protocol.
        """
        parts: list[bytes] = []
        size = 0
        message_opcode = None
        while True:
            fin, opcode, payload = self._read_frame()
            if opcode == OP_PING:
                self.send(OP_PONG, payload)
                continue
            if opcode == OP_PONG:
                continue
            if opcode == OP_CLOSE:
                self.close_received = True
                code = payload[:2] if len(payload) >= 2 else b""
                self.close(int.from_bytes(code, "big") if code else CLOSE_NORMAL)
                raise ConnectionClosed("the peer sent a close frame")
            if opcode == OP_CONTINUATION:
                if message_opcode is None:
                    raise WebSocketError("continuation frame without a message to continue")
            elif opcode in (OP_TEXT, OP_BINARY):
                if message_opcode is not None:
                    raise WebSocketError("new message started inside a fragmented message")
                message_opcode = opcode
            else:
                raise WebSocketError(f"unknown opcode {opcode:#x}")
            parts.append(payload)
            size += len(payload)
            if size > MAX_MESSAGE:
                raise WebSocketError(f"message over {MAX_MESSAGE} bytes", CLOSE_TOO_BIG)
            if fin:
                return message_opcode, parts[0] if len(parts) == 1 else b"".join(parts)

    def send(self, opcode: int, payload: bytes = b"") -> None:
        """Send one frame; nothing is sent once a close frame went out."""
        self.send_many([(opcode, payload)])

    def send_many(self, frames: Iterable[tuple[int, bytes]]) -> None:
        """Send several frames with one ``sendall`` (so one TLS record when they fit).

        A close frame among them marks the websocket closed; frames after a
        close are dropped, as RFC 6455 forbids them.

        Raises:
            OSError: the socket failed.
        """
        chunks: list[bytes] = []
        gate = self.gate
        if gate is not None:
            gate.wait()
            raise OSError("the connection stalled (fault injection) and was given up")
        with self._write_lock:
            if self.close_sent:
                return
            for opcode, payload in frames:
                chunks.append(frame_header(opcode, len(payload)))
                chunks.append(payload)
                if opcode == OP_CLOSE:
                    self.close_sent = True
                    break
            self.sock.sendall(b"".join(chunks))

    def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Send a close frame if none was sent yet; socket errors are ignored."""
        try:
            self.send(OP_CLOSE, struct.pack("!H", code) + reason.encode()[:120])
        except OSError:
            pass

    def abort(self) -> None:
        """Hang up at once without a close frame (both directions)."""
        shutdown_socket(self.sock)
        self.release()

    def stall(self) -> threading.Event:
        """Stop sending (fault injection): sends block until :meth:`release`, then fail."""
        gate = threading.Event()
        self.gate = gate
        return gate

    def release(self) -> None:
        """End a stall: blocked and later sends fail with ``OSError``."""
        gate = self.gate
        if gate is not None:
            gate.set()


def shutdown_socket(sock: socket.socket) -> None:
    """Shut both directions of ``sock`` so that threads blocked on it wake up.

    ``SSLSocket.shutdown`` drops its SSL object, which can crash a thread that
    is reading at that moment; the plain socket method leaves it in place and
    the read just sees end of file.
    """
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass
