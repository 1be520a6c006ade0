"""Bridge one ``pods/NAME/attach`` websocket to a container's main process.

Same channels as exec (:mod:`jupyter_k8stty.exec.protocol`): stdin (0) goes to the main
process when the container has ``stdin: true`` and the client asked for stdin, resizes (4)
reach its terminal, output comes on 1 (and 2 without a TTY). Many clients may attach to
one process; leaving (closing the socket, or the v5 close of stdin) never stops it. When
the process ends, each attached client gets the ``Success`` status and a close frame, as
the kubelet sends them.

Output for a client goes through a bounded queue and a writer thread, so one slow client
cannot stall the process or the other clients; a client that falls :data:`MAX_QUEUED`
bytes behind is disconnected.
"""

from __future__ import annotations

import queue
import threading
from typing import cast

from jupyter_k8stty.exec import protocol
from jupyter_k8stty.sandbox.mainproc import MainProcess, Subscriber
from jupyter_k8stty.sandbox.process import log
from jupyter_k8stty.sandbox.procio import PeerGone
from jupyter_k8stty.sandbox.stream_frames import end_frames, output_frames, serve_client_frames
from jupyter_k8stty.sandbox.websocket import OP_BINARY, WebSocket

__all__ = ["MAX_QUEUED", "AttachStream"]

#: Output bytes a client may fall behind before it is disconnected.
MAX_QUEUED = 8 * 1024 * 1024
#: After our close frame, how long the client has to answer before the socket is shut.
CLOSE_GRACE = 1.0
_END = object()


class AttachStream:
    """One attached client (see the module docstring).

    Args:
        ws: the upgraded websocket.
        process: the container's main process; ``None`` for an idle container (nothing
            to read, input dropped).
        stdin: the client asked for stdin and the container has ``stdin: true``.
        stdout: the client wants stdout.
        stderr: the client wants stderr.
        v5: the ``v5.channel.k8s.io`` protocol was chosen.
    """

    def __init__(self, ws: WebSocket, process: MainProcess | None, *, stdin: bool,
                 stdout: bool, stderr: bool, v5: bool):
        self.ws = ws
        self.process = process
        self.stdin = stdin
        self.v5 = v5
        self._queue: queue.Queue[object] = queue.Queue()
        self._queued = 0
        self._lock = threading.Lock()
        self._subscriber = Subscriber(self._output, self._ended, stdout=stdout, stderr=stderr)
        self._reader_done = threading.Event()

    def run(self) -> None:
        """Serve the client in the calling thread until it leaves or the process ends."""
        try:
            self.ws.send(OP_BINARY, bytes((protocol.STDOUT_CHANNEL,)))
        except OSError:
            return
        writer = threading.Thread(target=self._write_loop, name="k8stty-attach-writer",
                                  daemon=True)
        writer.start()
        if self.process is not None and not self.process.subscribe(self._subscriber):
            self._ended(self.process.exit_code or 0)
        try:
            self._read_loop()
        finally:
            self._reader_done.set()
            if self.process is not None:
                self.process.unsubscribe(self._subscriber)
            self._queue.put(None)  # wakes the writer, which ends
            writer.join(CLOSE_GRACE + 1.0)

    def kill(self) -> None:
        """Hang up the connection (server shutdown); the process is not touched."""
        self.ws.abort()

    drop = kill

    # ---- client to process ------------------------------------------------------

    def _read_loop(self) -> None:
        try:
            # The v5 close of stdin only means the client stops sending: the container's
            # stdin stays open for the others.
            serve_client_frames(self.ws, v5=self.v5, stdin=self._input, resize=self._resize,
                                close_stdin=lambda: None)
        except (OSError, PeerGone):  # PeerGone: it left while its input waited
            pass

    def _input(self, data: bytes) -> None:
        if self.stdin and self.process is not None:
            self.process.write(data, self.ws.sock.fileno())

    def _resize(self, rows: int, cols: int) -> None:
        if self.process is not None:
            self.process.resize(rows, cols)

    # ---- process to client ------------------------------------------------------

    def _output(self, channel: int, data: bytes) -> None:
        with self._lock:
            self._queued += len(data)
            too_far = self._queued > MAX_QUEUED
        if too_far:
            log("an attached client fell too far behind; disconnecting it")
            self.ws.abort()
            return
        self._queue.put((channel, data))

    def _ended(self, exit_code: int) -> None:
        self._queue.put(_END)

    def _write_loop(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                if item is _END:
                    self.ws.send_many(end_frames(protocol.success_status()))
                    if not self._reader_done.wait(CLOSE_GRACE):
                        self.ws.abort()
                    return
                channel, data = cast("tuple[int, bytes]", item)
                with self._lock:
                    self._queued -= len(data)
                self.ws.send_many(output_frames([(channel, data)]))
        except OSError:
            self.ws.abort()
