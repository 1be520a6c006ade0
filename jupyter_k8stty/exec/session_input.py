"""The input half of :class:`~jupyter_k8stty.exec.session.ExecSession`: stdin, resize, feeding.

Sends may come from any thread: ``websocket-client``'s lock serialises them.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import websocket

from ..errors import StreamError, one_line
from . import protocol
from .checks import check_size, encode_input

if TYPE_CHECKING:
    from .status import SessionStatus


__all__ = ["FEED_GRACE", "STDIN_CHUNK", "SessionInput"]

#: Largest stdin payload put in one websocket message.
STDIN_CHUNK: int = 64 * 1024
#: Seconds a stdin feeder waits, after a failed write, for the command's own exit.
FEED_GRACE: float = 5.0


class SessionInput:
    """Mixed into :class:`~jupyter_k8stty.exec.session.ExecSession`: everything sent to the pod."""

    if TYPE_CHECKING:  # provided by ExecSession
        protocol: str | None
        feed_error: str | None
        _ws: websocket.WebSocket | None
        _done: threading.Event
        _closing: bool
        _lock: threading.Lock
        _status: SessionStatus
        _size: tuple[int, int] | None
        _initial_size: tuple[int, int] | None

        @property
        def name(self) -> str: ...  # noqa: D102
        @property
        def done(self) -> bool: ...  # noqa: D102
        def close(self) -> None: ...  # noqa: D102
        def wait(self, timeout: float | None = None) -> int | None: ...  # noqa: D102

    def write(self, data: bytes | str) -> None:
        """Send ``data`` to the command's stdin (``str`` is encoded as UTF-8).

        Blocks while the connection's send buffer is full (the pod is not reading).

        Raises:
            StreamError: the session is not connected.
        """
        data = encode_input(data, "input")
        ws = self._connected_ws()
        for start in range(0, len(data), STDIN_CHUNK):
            chunk = data[start:start + STDIN_CHUNK]
            self._send(ws, protocol.encode_frame(protocol.STDIN_CHANNEL, chunk))

    def resize(self, rows: int, cols: int) -> None:
        """Tell the pod's TTY its new size. Repeated identical sizes are not resent.

        Raises:
            ArgumentError: a size out of range.
            StreamError: the session is not connected.
        """
        rows, cols = check_size(rows, cols)
        payload = protocol.encode_resize(rows, cols)
        with self._lock:
            if self._ws is None and self._status in ("new", "connecting"):
                self._initial_size = (int(rows), int(cols))
                return
            if self._size == (rows, cols):
                return
            self._size = (int(rows), int(cols))
        self._send(self._connected_ws(), bytes((protocol.RESIZE_CHANNEL,)) + payload)

    def close_stdin(self) -> None:
        """Signal end of input so commands such as ``cat``, ``wc`` or ``tar x`` finish.

        Uses the v5 close message. Protocol v4 has no way to close stdin alone.

        Raises:
            StreamError: the server only speaks v4, or the session is not connected.
        """
        ws = self._connected_ws()
        if self.protocol != protocol.V5_PROTOCOL:
            raise StreamError(
                "the API server only speaks exec protocol v4, which cannot close stdin "
                "(Kubernetes 1.30+ offers v5)"
            )
        self._send(ws, protocol.encode_close(protocol.STDIN_CHANNEL))

    def feed(self, data: bytes) -> threading.Thread:
        """Write ``data``, then close stdin, on a helper thread; return that thread.

        The one way ``run``, fan-out and ``%%k8sexec`` feed a command its input: the pod
        may not read at once (or ever), so the caller's thread stays free to keep its
        deadline. If feeding fails while the command still runs (for example on a v4-only
        server, which cannot close stdin), :attr:`feed_error` says why and the session is
        closed, since the command would wait for the end of its input forever. A command
        that exits before reading all its input is not a failure.
        """

        def feed() -> None:
            try:
                self.write(data)
                self.close_stdin()
            except StreamError as exc:
                if self.protocol == protocol.V5_PROTOCOL and not self._closing:
                    self.wait(FEED_GRACE)  # the exit status may be on its way
                if not self.done and not self._closing:
                    self.feed_error = one_line(exc)
                    self.close()

        thread = threading.Thread(target=feed, name=f"k8stty-stdin-{self.name}", daemon=True)
        thread.start()
        return thread

    def _connected_ws(self) -> websocket.WebSocket:
        ws = self._ws
        if ws is None or self._done.is_set() or self._closing:
            raise StreamError(f"the exec session into {self.name} is {self._status}")
        return ws

    def _send(self, ws: websocket.WebSocket, payload: bytes) -> None:
        try:
            ws.send(payload, opcode=websocket.ABNF.OPCODE_BINARY)
        except (OSError, websocket.WebSocketException) as exc:
            raise StreamError(f"could not send to {self.name}: {exc or type(exc).__name__}") from None
