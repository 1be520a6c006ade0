"""Small clients for tests that talk to a :class:`~jupyter_k8stty.sandbox.Sandbox` directly.

They deliberately do not use the package's own exec client, so sandbox tests
check the server against independent implementations (``websocket-client``
and a bare TLS socket).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import ssl
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import websocket

from jupyter_k8stty.exec import protocol
from jupyter_k8stty.sandbox.server import Sandbox


def client_context(sandbox: Sandbox) -> ssl.SSLContext:
    """Return a TLS client context that trusts only the sandbox's CA."""
    ctx = ssl.create_default_context(cadata=sandbox.ca_pem.decode("ascii"))
    return ctx


def exec_path(namespace: str, pod: str, command: Iterable[str], *, container: str | None = None,
              stdin: bool = False, tty: bool = False) -> str:
    """Return the exec URL path with its query, as client-go builds it."""
    params: list[tuple[str, str]] = [("command", c) for c in command]
    if container:
        params.append(("container", container))
    params += [("stdin", str(stdin).lower()), ("stdout", "true"),
               ("stderr", str(not tty).lower()), ("tty", str(tty).lower())]
    return f"/api/v1/namespaces/{namespace}/pods/{pod}/exec?{urlencode(params)}"


def attach_path(namespace: str, pod: str, *, container: str | None = None, stdin: bool = False,
                tty: bool = False, stderr: bool | None = None) -> str:
    """Return the attach URL path with its query, as client-go builds it."""
    params: list[tuple[str, str]] = [("container", container)] if container else []
    params += [("stdin", str(stdin).lower()), ("stdout", "true"),
               ("stderr", str(not tty if stderr is None else stderr).lower()),
               ("tty", str(tty).lower())]
    return f"/api/v1/namespaces/{namespace}/pods/{pod}/attach?{urlencode(params)}"


def open_attach(sandbox: Sandbox, pod: str, *, namespace: str = "default",
                container: str | None = None, stdin: bool = False, tty: bool = False,
                protocols: Iterable[str] = protocol.CLIENT_PROTOCOLS, token: str | None = None,
                timeout: float = 10.0) -> websocket.WebSocket:
    """Open an attach websocket with ``websocket-client``.

    Raises:
        websocket.WebSocketBadStatusException: the server refused the upgrade.
    """
    url = "wss" + sandbox.url[len("https"):] + attach_path(
        namespace, pod, container=container, stdin=stdin, tty=tty)
    return websocket.create_connection(
        url, timeout=timeout, subprotocols=list(protocols),
        header=[f"Authorization: Bearer {sandbox.token if token is None else token}"],
        sslopt={"context": client_context(sandbox)},
    )


def api_request(sandbox: Sandbox, method: str, path: str, body: Any = None, *,
                content_type: str = "application/json", token: str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """Send one API request; return the status code and the decoded JSON answer.

    ``body`` is JSON-encoded unless it is ``bytes``. An answer that is not JSON is
    returned as ``bytes``.
    """
    conn = http.client.HTTPSConnection(sandbox.host, sandbox.port,
                                       context=client_context(sandbox), timeout=10)
    hdrs = {"Authorization": f"Bearer {sandbox.token if token is None else token}",
            **(headers or {})}
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs["Content-Type"] = content_type
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(raw)
    except ValueError:
        return resp.status, raw


def open_exec(sandbox: Sandbox, pod: str, command: Iterable[str], *,
              namespace: str = "default", container: str | None = None, stdin: bool = False,
              tty: bool = False, protocols: Iterable[str] = protocol.CLIENT_PROTOCOLS,
              token: str | None = None, timeout: float = 10.0,
              headers: Iterable[str] = ()) -> websocket.WebSocket:
    """Open an exec websocket with ``websocket-client``.

    ``headers`` are extra header lines, e.g. ``["Impersonate-User: jane"]``.

    Raises:
        websocket.WebSocketBadStatusException: the server refused the upgrade.
    """
    url = "wss" + sandbox.url[len("https"):] + exec_path(
        namespace, pod, command, container=container, stdin=stdin, tty=tty)
    return websocket.create_connection(
        url, timeout=timeout, subprotocols=list(protocols),
        header=[f"Authorization: Bearer {sandbox.token if token is None else token}", *headers],
        sslopt={"context": client_context(sandbox)},
    )


@dataclass
class ExecResult:
    """Everything that came back on an exec stream."""

    channels: dict[int, bytes] = field(default_factory=dict)
    status: dict[str, Any] | None = None
    closed: bool = False

    @property
    def stdout(self) -> bytes:
        """Bytes of channel 1."""
        return self.channels.get(protocol.STDOUT_CHANNEL, b"")

    @property
    def stderr(self) -> bytes:
        """Bytes of channel 2."""
        return self.channels.get(protocol.STDERR_CHANNEL, b"")


def collect(ws: websocket.WebSocket, until: bytes | None = None) -> ExecResult:
    """Read frames until the server closes (or ``until`` shows up on stdout)."""
    result = ExecResult()
    while True:
        opcode, data = ws.recv_data(control_frame=False)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            result.closed = True
            return result
        if not data:
            continue
        channel, payload = data[0], data[1:]
        if channel == protocol.STATUS_CHANNEL:
            result.status = json.loads(payload)
        else:
            result.channels[channel] = result.channels.get(channel, b"") + payload
        if until is not None and until in result.stdout:
            return result


def run_exec(sandbox: Sandbox, pod: str, command: Iterable[str], *, stdin_data: bytes = b"",
             **kwargs: Any) -> ExecResult:
    """Run a command to completion and return its output and status."""
    ws = open_exec(sandbox, pod, command, stdin=bool(stdin_data), **kwargs)
    try:
        if stdin_data:
            ws.send_binary(protocol.encode_frame(protocol.STDIN_CHANNEL, stdin_data))
            ws.send_binary(protocol.encode_close(protocol.STDIN_CHANNEL))
        return collect(ws)
    finally:
        ws.close()


class RawExecClient:
    """A bare TLS-socket websocket client that reads in big buffers.

    ``websocket-client`` parses each frame in Python with small reads; this
    client exists to measure the server's own throughput and to look at how
    frames are grouped into TLS records.
    """

    def __init__(self, sandbox: Sandbox, path: str, protocols: Iterable[str] = (
            protocol.V5_PROTOCOL,), timeout: float = 30.0):
        raw = socket.create_connection((sandbox.host, sandbox.port), timeout=timeout)
        self.sock = client_context(sandbox).wrap_socket(raw, server_hostname=sandbox.host)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {path} HTTP/1.1\r\nHost: {sandbox.host}:{sandbox.port}\r\n"
                   f"Authorization: Bearer {sandbox.token}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   f"Sec-WebSocket-Version: 13\r\n"
                   f"Sec-WebSocket-Protocol: {', '.join(protocols)}\r\n\r\n")
        self.sock.sendall(request.encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed during the handshake")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.response_head = head.decode("latin-1")
        if not self.response_head.startswith("HTTP/1.1 101"):
            raise ConnectionError(self.response_head.splitlines()[0])

    def send(self, opcode: int, payload: bytes) -> None:
        """Send one masked frame."""
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0xFE, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0xFF, n)
        from jupyter_k8stty.sandbox.websocket import unmask  # XOR is symmetric

        self.sock.sendall(header + mask + unmask(mask, payload))

    def parse_frames(self) -> list[tuple[int, bytes]]:
        """Pop every complete (unmasked, server-to-client) frame from the buffer."""
        frames = []
        buf = self.buf
        pos = 0
        while len(buf) - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length, hdr = b1 & 0x7F, 2
            if length == 126:
                if len(buf) - pos < 4:
                    break
                (length,) = struct.unpack_from("!H", buf, pos + 2)
                hdr = 4
            elif length == 127:
                if len(buf) - pos < 10:
                    break
                (length,) = struct.unpack_from("!Q", buf, pos + 2)
                hdr = 10
            if len(buf) - pos < hdr + length:
                break
            frames.append((b0 & 0x0F, buf[pos + hdr:pos + hdr + length]))
            pos += hdr + length
        self.buf = buf[pos:]
        return frames

    def count_stdout_until_close(self) -> tuple[int, dict[str, Any] | None]:
        """Read everything, counting stdout bytes without keeping them."""
        total, status = 0, None
        buf = bytearray(self.buf)
        self.buf = b""
        view = memoryview(bytearray(4 * 1024 * 1024))
        while True:
            # Frames are parsed only from the head of the buffer, so each
            # byte is touched once: this keeps the client faster than the server.
            while len(buf) >= 2:
                b1 = buf[1] & 0x7F
                hdr, length = 2, b1
                if b1 == 126:
                    if len(buf) < 4:
                        break
                    (length,) = struct.unpack_from("!H", buf, 2)
                    hdr = 4
                elif b1 == 127:
                    if len(buf) < 10:
                        break
                    (length,) = struct.unpack_from("!Q", buf, 2)
                    hdr = 10
                if len(buf) < hdr + length:
                    break
                opcode = buf[0] & 0x0F
                if opcode == 0x8:
                    return total, status
                if length and buf[hdr] == protocol.STDOUT_CHANNEL:
                    total += length - 1
                elif length and buf[hdr] == protocol.STATUS_CHANNEL:
                    status = json.loads(bytes(buf[hdr + 1:hdr + length]))
                del buf[:hdr + length]
            n = self.sock.recv_into(view)
            if not n:
                return total, status
            buf += view[:n]

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


def wait_for(predicate: Any, timeout: float, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns a truthy value or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
