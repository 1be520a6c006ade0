"""The reader thread of an exec stream, and its flow-control gate.

The reader reads frames straight off the socket rather than through
``WSClient.update()``/``read_channel()`` of the ``kubernetes`` client, which
concatenate bytes while draining (quadratic in the output size) and keep every
byte with ``capture_all`` (kubernetes-client/python#1013 and its kin). It hands
each payload to the output callbacks and turns the status frame, a close or a
broken socket into the session's end.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field

import websocket

from . import protocol
from .status import SessionStatus

log = logging.getLogger("jupyter_k8stty")

__all__ = ["FlowGate", "FrameReader"]

OutputCallback = Callable[[int, bytes], None]
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
        recv = self.ws.recv_data_frame
        callbacks, gate = self.callbacks, self.gate
        flow_control = gate.window is not None
        binary, text = websocket.ABNF.OPCODE_BINARY, websocket.ABNF.OPCODE_TEXT
        result: tuple[SessionStatus, int | None, str | None] | None = None
        try:
            while result is None:
                if flow_control and gate.full:
                    gate.wait()
                    self.last_frame = time.monotonic()  # time spent paused is not silence
                    if self.closing():
                        break
                opcode, frame = recv(True)
                self.last_frame = time.monotonic()
                if opcode == binary or opcode == text:
                    data = frame.data
                    if not data:
                        continue
                    channel = data[0]
                    if channel == protocol.STDOUT_CHANNEL or channel == protocol.STDERR_CHANNEL:
                        if len(data) > 1:
                            payload = data[1:]
                            if flow_control:
                                gate.delivered(len(payload))
                            for callback in callbacks:
                                callback(channel, payload)
                    elif channel == protocol.STATUS_CHANNEL:
                        status = protocol.parse_status(data[1:])
                        if status.error is None:
                            result = ("exited", status.exit_code, None)
                        else:
                            result = ("error", None, status.error)
                    elif channel != protocol.CLOSE_CHANNEL:
                        log.debug("ignoring a frame on unknown channel %d from %s", channel, self.name)
                elif opcode == websocket.ABNF.OPCODE_PONG:
                    self.pongs += 1
                elif opcode == websocket.ABNF.OPCODE_CLOSE:
                    if not self.closing():
                        result = ("error", None, self._lost("closed the stream"))
                    break
        except (OSError, websocket.WebSocketException) as exc:
            if not self.closing():
                detail = str(exc) or type(exc).__name__
                result = ("error", None, self._lost(f"dropped the connection ({detail})"))
        except Exception as exc:  # a failing output callback must not vanish silently
            log.exception("output handler failed for %s", self.name)
            result = ("error", None, f"output handler failed: {type(exc).__name__}: {exc}")
        finally:
            self.on_end(*(result or ("closed", None, None)))

    def _lost(self, what: str) -> str:
        return f"the API server {what} before the command's exit status arrived ({self.name})"
