"""The reader thread of an exec stream, and its flow-control gate.

The reader parses frames straight off the socket (:mod:`.frames`) rather than through
``WSClient.update()``/``read_channel()`` of the ``kubernetes`` client, which
concatenate bytes while draining (quadratic in the output size) and keep every
byte with ``capture_all`` (kubernetes-client/python#1013 and its kin), or through the
websocket client's ``recv_data_frame()``, which makes several ``recv`` calls and objects
per frame. It hands each payload to the output callbacks and turns the status frame, a
close or a broken socket into the session's end.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field

import websocket

from . import protocol
from .frames import OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, ConnectionLost, FrameError, FrameSource
from .status import SessionStatus

log = logging.getLogger("jupyter_k8stty")

__all__ = ["MAX_STATUS", "FlowGate", "FrameReader", "OutputCallback", "ViewCallback"]

#: Bytes an exec status message may have (a ``metav1.Status`` is well under 1 KiB).
MAX_STATUS: int = 64 * 1024

_KNOWN_CHANNELS = (-1, protocol.STDOUT_CHANNEL, protocol.STDERR_CHANNEL, protocol.CLOSE_CHANNEL)

#: Called with each output chunk as ``bytes``.
OutputCallback = Callable[[int, bytes], None]
#: Called with a view of the reader's buffer, valid only during the call.
ViewCallback = Callable[[int, memoryview], None]
EndCallback = Callable[[SessionStatus, "int | None", "str | None"], None]


class FlowGate:
    """Counts output delivered but not acknowledged; the reader waits while the window is full.

    With ``window=None`` there is no flow control and the reader never waits. Read, not
    set, from outside: ``window``, ``unacked`` (bytes delivered, not acknowledged) and
    ``paused`` (whether the reader is waiting for acknowledgements).
    """

    def __init__(self, window: int | None):
        self.window = window
        self.unacked = 0
        self.paused = False
        self._released = False
        self._cond = threading.Condition(threading.Lock())

    @property
    def full(self) -> bool:
        """Whether the reader must wait before reading on."""
        return self.window is not None and self.unacked >= self.window

    def delivered(self, nbytes: int) -> None:
        """Count ``nbytes`` handed to the callbacks."""
        with self._cond:
            self.unacked += nbytes

    def acknowledge(self, nbytes: int) -> None:
        """Mark ``nbytes`` as consumed; wake the reader when the window has room again."""
        with self._cond:
            self.unacked = max(0, self.unacked - int(nbytes))
            if not self.full:
                self._cond.notify_all()

    def wait(self) -> None:
        """Block while the window is full and the gate is not released."""
        with self._cond:
            self.paused = True
            while self.full and not self._released:
                self._cond.wait()
            self.paused = False

    def release(self) -> None:
        """Let a waiting reader go for good (the session is closing or over)."""
        with self._cond:
            self._released = True
            self._cond.notify_all()


@dataclass(eq=False)
class FrameReader:
    """Reads one exec websocket on a daemon thread named ``k8stty-reader-NAME``.

    Args:
        ws: the connected websocket.
        name: ``namespace/pod``, for the thread name and messages.
        callbacks: called as ``callback(channel, payload)`` for stdout and stderr.
        gate: the flow-control gate (``FlowGate(None)``: none).
        view_callbacks: called likewise with a ``memoryview`` of the payload, valid only
            during the call (for callbacks that copy it anyway: no ``bytes`` is made for them).
        closing: returns whether the session is being closed on purpose (then a broken
            socket is not an error).
        on_end: called once, on the reader thread, as ``on_end(status, exit_code, error)``.
    """

    ws: websocket.WebSocket
    name: str
    callbacks: list[OutputCallback]
    gate: FlowGate
    _: KW_ONLY
    closing: Callable[[], bool]
    on_end: EndCallback
    view_callbacks: list[ViewCallback] = field(default_factory=list)
    #: ``time.monotonic()`` of the last frame (or of the end of a pause).
    last_frame: float = field(default_factory=time.monotonic, init=False)
    #: Pongs received (answers to keepalive pings).
    pongs: int = field(default=0, init=False)
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, name=f"k8stty-reader-{self.name}",
                                       daemon=True)

    def start(self) -> FrameReader:
        """Start the thread; returns ``self``."""
        self.thread.start()
        return self

    def _run(self) -> None:
        result: tuple[SessionStatus, int | None, str | None] | None = None
        try:
            sock = self.ws.sock
            if sock is None:
                raise ConnectionLost("the socket was closed")
            result = self._read(FrameSource(sock))
        except FrameError as exc:
            if not self.closing():
                result = ("error", None, self._lost(f"broke the websocket protocol: {exc}"))
        except (ConnectionLost, OSError, websocket.WebSocketException) as exc:
            if not self.closing():
                detail = str(exc) or type(exc).__name__
                result = ("error", None, self._lost(f"dropped the connection ({detail})"))
        except Exception as exc:  # a failing output callback must not vanish silently
            log.exception("output handler failed for %s", self.name)
            result = ("error", None, f"output handler failed: {type(exc).__name__}: {exc}")
        finally:
            self.on_end(*(result or ("closed", None, None)))

    def _read(self, source: FrameSource) -> tuple[SessionStatus, int | None, str | None] | None:
        """Read frames until the exit status, a close or (raised) a broken stream."""
        callbacks, views, gate = self.callbacks, self.view_callbacks, self.gate
        flow_control = gate.window is not None
        stdout, stderr = protocol.STDOUT_CHANNEL, protocol.STDERR_CHANNEL
        channel = -1  # the current message's channel; -1 before its first byte
        status = bytearray()
        while True:
            if flow_control and gate.full:
                gate.wait()
                self.last_frame = time.monotonic()  # time spent paused is not silence
                if self.closing():
                    return None
            fin, opcode, length = source.header()
            self.last_frame = time.monotonic()
            if opcode == OP_PONG:
                source.control_payload(length)
                self.pongs += 1
                continue
            if opcode == OP_PING:
                self.ws.pong(source.control_payload(length))
                continue
            if opcode == OP_CLOSE:
                source.control_payload(length)
                self._answer_close()
                if self.closing():
                    return None
                return ("error", None, self._lost("closed the stream"))
            if opcode != OP_CONTINUATION:
                channel = -1
            for piece in source.payload(length):
                if channel < 0:
                    if not piece:
                        continue
                    channel, piece = piece[0], piece[1:]
                if not piece:
                    continue
                if channel == stdout or channel == stderr:
                    if flow_control:
                        gate.delivered(len(piece))
                    if callbacks:
                        data = bytes(piece)
                        for callback in callbacks:
                            callback(channel, data)
                    for view in views:
                        view(channel, piece)
                    if flow_control and gate.full and length > source.buffer_size:
                        gate.wait()  # the window holds inside a frame bigger than the buffer
                elif channel == protocol.STATUS_CHANNEL:
                    if len(status) + len(piece) > MAX_STATUS:
                        raise FrameError(f"an exec status over {MAX_STATUS} bytes")
                    status += piece
            if not fin:
                continue
            if channel == protocol.STATUS_CHANNEL:
                parsed = protocol.parse_status(bytes(status))
                if parsed.error is None:
                    return ("exited", parsed.exit_code, None)
                return ("error", None, parsed.error)
            if channel not in _KNOWN_CHANNELS:
                log.debug("ignoring a frame on unknown channel %d from %s", channel, self.name)

    def _answer_close(self) -> None:
        try:
            self.ws.send_close()
        except (OSError, websocket.WebSocketException):
            pass

    def _lost(self, what: str) -> str:
        return f"the API server {what} before the command's exit status arrived ({self.name})"
