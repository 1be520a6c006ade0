"""The Kubernetes exec stream protocol: channel constants, framing and status parsing.

Pure functions only: no sockets, threads or Kubernetes client here, so both the
client session and the sandbox server build on them and tests need no server.

Wire format (``v4.channel.k8s.io`` and ``v5.channel.k8s.io``): every websocket
binary message is one channel byte followed by the payload for that channel.

======== ======= =====================================================
channel  name    payload
======== ======= =====================================================
0        stdin   raw bytes, client to server
1        stdout  raw bytes (with ``tty=true`` also stderr, merged)
2        stderr  raw bytes
3        status  JSON ``metav1.Status``, sent once before the server closes
4        resize  JSON ``{"Width": cols, "Height": rows}``, client to server
255      close   v5 only: one byte naming the channel the sender closes
======== ======= =====================================================

When the stream opens the server sends one empty frame on the first writable
channel; it carries no data and readers skip it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

STDIN_CHANNEL: int = 0
STDOUT_CHANNEL: int = 1
STDERR_CHANNEL: int = 2
STATUS_CHANNEL: int = 3
RESIZE_CHANNEL: int = 4
CLOSE_CHANNEL: int = 255

V5_PROTOCOL: str = "v5.channel.k8s.io"
V4_PROTOCOL: str = "v4.channel.k8s.io"
#: Subprotocols a client offers, most preferred first.
CLIENT_PROTOCOLS: tuple[str, ...] = (V5_PROTOCOL, V4_PROTOCOL)

_STDIN_PREFIX = bytes((STDIN_CHANNEL,))


class ProtocolError(ValueError):
    """A frame or status message does not follow the exec protocol."""


@dataclass(frozen=True)
class ExitStatus:
    """The outcome carried by a status (channel 3) message.

    Exactly one of ``exit_code`` and ``error`` is set: ``exit_code`` when the
    command ran to completion (0 for ``Success``), ``error`` with the server's
    message when the command could not run or the server failed.
    """

    exit_code: int | None
    error: str | None = None
    reason: str | None = None


def encode_frame(channel: int, data: bytes = b"") -> bytes:
    """Return one websocket payload carrying ``data`` on ``channel``."""
    if not 0 <= channel <= 255:
        raise ProtocolError(f"channel must be 0..255, got {channel}")
    if channel == STDIN_CHANNEL:
        return _STDIN_PREFIX + data
    return bytes((channel,)) + data


def decode_frame(payload: bytes) -> tuple[int, bytes]:
    """Split a websocket payload into ``(channel, data)``.

    Raises:
        ProtocolError: the payload is empty, so it names no channel.
    """
    if not payload:
        raise ProtocolError("empty websocket message: expected a channel byte")
    return payload[0], payload[1:]


def encode_resize(rows: int, cols: int) -> bytes:
    """Return the resize channel payload for a terminal of ``rows`` x ``cols``."""
    rows, cols = int(rows), int(cols)
    if rows <= 0 or cols <= 0 or rows > 0xFFFF or cols > 0xFFFF:
        raise ValueError(f"terminal size must be 1..65535, got {rows} rows x {cols} cols")
    return b'{"Width":%d,"Height":%d}' % (cols, rows)


def decode_resize(data: bytes) -> tuple[int, int]:
    """Parse a resize channel payload into ``(rows, cols)``.

    Raises:
        ProtocolError: the payload is not ``{"Width": int, "Height": int}``.
    """
    try:
        size = json.loads(data)
        cols, rows = size["Width"], size["Height"]
    except (ValueError, TypeError, KeyError) as exc:
        raise ProtocolError(f"bad resize message {data[:80]!r}: {exc}") from None
    if not (isinstance(rows, int) and isinstance(cols, int)) or rows < 0 or cols < 0:
        raise ProtocolError(f"bad resize message {data[:80]!r}: sizes must be integers >= 0")
    return rows, cols


def encode_close(channel: int) -> bytes:
    """Return the v5 message that closes ``channel`` (for example stdin)."""
    return bytes((CLOSE_CHANNEL, channel))


def parse_status(data: bytes) -> ExitStatus:
    """Turn a status channel payload (``metav1.Status`` JSON) into an :class:`ExitStatus`.

    ``Success`` gives exit code 0; ``NonZeroExitCode`` gives the code from
    ``details.causes``; any other failure gives ``error`` with the server's message.
    A payload that is not a Status never raises: it becomes an ``error`` that
    quotes what arrived, so a broken server cannot crash a reader.
    """
    try:
        status = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return ExitStatus(None, f"malformed exec status from the server: {_quote(data)}")
    if not isinstance(status, dict):
        return ExitStatus(None, f"malformed exec status from the server: {_quote(data)}")
    if status.get("status") == "Success":
        return ExitStatus(0)
    reason = status.get("reason")
    message = status.get("message") if isinstance(status.get("message"), str) else None
    if reason == "NonZeroExitCode":
        details = status.get("details")
        for cause in (details.get("causes") if isinstance(details, dict) else None) or ():
            if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
                try:
                    return ExitStatus(int(cause.get("message")), reason=reason)  # type: ignore[arg-type]
                except (TypeError, ValueError):
                    break
        return ExitStatus(None, message or "command failed with an exit code the server did not give",
                          reason)
    if status.get("status") == "Failure" or reason:
        return ExitStatus(None, message or f"exec failed: {reason or 'unknown reason'}", reason)
    return ExitStatus(None, f"malformed exec status from the server: {_quote(data)}")


def _quote(data: bytes, limit: int = 200) -> str:
    text = repr(bytes(data[:limit]))
    return text + ("..." if len(data) > limit else "")


def success_status() -> bytes:
    """Return the status payload Kubernetes sends when the command exits 0."""
    return b'{"metadata":{},"status":"Success"}'


def exit_code_status(exit_code: int, command: list[str]) -> bytes:
    """Return the status payload Kubernetes sends for a non-zero exit code."""
    return json.dumps(
        {
            "metadata": {},
            "status": "Failure",
            "message": "command terminated with non-zero exit code: error executing command "
            f"[{' '.join(command)}], exit code {exit_code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]},
        },
        separators=(",", ":"),
    ).encode()


def internal_error_status(message: str) -> bytes:
    """Return the status payload Kubernetes sends when the command cannot run."""
    return json.dumps(
        {
            "metadata": {},
            "status": "Failure",
            "message": f"Internal error occurred: {message}",
            "reason": "InternalError",
            "details": {"causes": [{"message": message}]},
            "code": 500,
        },
        separators=(",", ":"),
    ).encode()
