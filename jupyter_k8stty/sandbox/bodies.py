"""Request bodies and answers for the sandbox's handler, defended as the API server defends them.

A body is read only once the request is authenticated and within the API server's size
limit (:data:`MAX_BODY`); refused bodies are never read (``Expect: 100-continue`` is
answered only when the body is wanted), and what the client keeps sending is drained for
a bounded moment so it sees the answer. Bodies are read in pieces within
:data:`BODY_TIMEOUT`.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from jupyter_k8stty.sandbox.apistatus import HTTPError, status_body

__all__ = ["BODY_TIMEOUT", "LINGER", "LINGER_BYTES", "MAX_BODY", "RequestBodies"]

#: The largest request body accepted: the API server's own limit (3 MiB).
MAX_BODY = 3 * 1024 * 1024
#: A request body must arrive within this many seconds once reading starts.
BODY_TIMEOUT = 10.0
#: After refusing a body unread, what the client keeps sending is dropped for at most
#: this long (and this much) before the connection closes, as Go's server lingers.
LINGER = 0.5
LINGER_BYTES = 4 * 1024 * 1024


class RequestBodies:
    """Body reading and answering for :class:`~jupyter_k8stty.sandbox.handler.SandboxHandler`."""

    _body_read = False
    _body_left: int | None = 0
    _expect_continue = False
    _continue_pending = False

    if TYPE_CHECKING:  # provided by BaseHTTPRequestHandler
        headers: Any
        connection: Any
        rfile: Any
        wfile: Any
        close_connection: bool

        def send_response(self, code: int, message: str | None = None) -> None: ...  # noqa: D102
        def send_response_only(self, code: int, message: str | None = None) -> None: ...  # noqa: D102
        def send_header(self, keyword: str, value: str) -> None: ...  # noqa: D102
        def end_headers(self) -> None: ...  # noqa: D102

    def _send(self, code: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, obj: dict[str, Any], code: int = 200) -> None:
        self._send(code, json.dumps(obj, separators=(",", ":")).encode())

    def handle_expect_100(self) -> bool:
        """Answer ``Expect: 100-continue`` only when the body is read, as Go's server does.

        http.server's default says "continue" at once, which would invite a body the
        sandbox may refuse unread (no credentials, too large).
        """
        self._continue_pending = True
        return True

    def _body_length(self) -> int | None:
        """Return the request's ``Content-Length`` (0 without one), ``None`` when chunked.

        Raises:
            HTTPError: the header is not one non-negative decimal number (400).
        """
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return None
        values = {v.strip() for v in self.headers.get_all("Content-Length") or []}
        if not values:
            return 0
        value = values.pop()
        if values or not value.isdigit() or not value.isascii() or len(value) > 18:
            shown = value if not values else ", ".join(sorted({value, *values}))
            raise HTTPError(400, f'400 Bad Request: bad Content-Length: "{shown[:40]}"'.encode())
        return int(value)

    def _discard_body(self) -> None:
        """Read and drop the request body, once per request (errors may call it again).

        Bodies are read in small pieces and within :data:`BODY_TIMEOUT`; a chunked body
        is not read at all: the connection closes after the answer instead.
        """
        if self._body_read:
            return
        self._body_read = True
        left = self._body_left
        if left is None:
            self.close_connection = True
            return
        self._receive(left, keep=False)

    def _refuse_unread(self, code: int, body: bytes, content_type: str = "application/json") -> None:
        """Answer without reading the body, then close the connection.

        What the client still sends is read and dropped for a moment (at most
        :data:`LINGER` seconds and :data:`LINGER_BYTES`), so it sees the answer rather
        than a connection reset; nothing is kept, so memory does not grow.
        """
        self._body_read = True
        if self._body_left == 0:  # nothing unread: the connection stays usable
            self._send(code, body, content_type)
            return
        self.close_connection = True
        self._send(code, body, content_type)
        deadline = time.monotonic() + LINGER
        drained = 0
        try:
            while drained < LINGER_BYTES:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.connection.settimeout(remaining)
                data = self.connection.recv(64 * 1024)
                if not data:
                    break
                drained += len(data)
        except (OSError, ValueError):
            pass

    def _read_body(self) -> bytes:
        """Read the request body (within :data:`BODY_TIMEOUT`), once per request.

        Raises:
            HTTPError: a chunked body (400; clients send a length for API objects).
        """
        if self._body_read:
            return b""
        left = self._body_left
        if left is None:
            self._discard_body()
            raise HTTPError(400, status_body(400, "the sandbox needs a Content-Length for request "
                                             "bodies", "BadRequest"))
        self._body_read = True
        return self._receive(left, keep=True)

    def _receive(self, left: int, *, keep: bool) -> bytes:
        """Read ``left`` bytes of body in small pieces, within :data:`BODY_TIMEOUT`.

        ``Expect: 100-continue`` is answered first. The bytes are returned with ``keep``,
        else dropped; a body cut short closes the connection after the answer.
        """
        if not left:
            return b""
        if self._expect_continue:
            self._expect_continue = False
            self.send_response_only(100)
            self.end_headers()
        self.connection.settimeout(BODY_TIMEOUT)
        chunks = []
        try:
            while left > 0:
                chunk = self.rfile.read(min(left, 64 * 1024))
                if not chunk:
                    self.close_connection = True
                    break
                if keep:
                    chunks.append(chunk)
                left -= len(chunk)
        finally:
            self.connection.settimeout(None)
        return b"".join(chunks)
