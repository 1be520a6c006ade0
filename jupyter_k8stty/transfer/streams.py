"""The two ends of a tar stream over an exec session.

Shared by ``copy_to`` / ``copy_from`` (:mod:`.upload`, :mod:`.download`) and the
widget's drag-and-drop uploads and downloads: the file object ``tarfile`` writes into
(the pod's stdin), the one it reads from (the pod's stdout, with flow control), how the
sessions' output is routed, and how a path names what ``tar -c`` sends.
"""

from __future__ import annotations

import posixpath
import threading
from collections import deque
from collections.abc import Callable

from ..errors import StreamError
from ..exec.protocol import STDOUT_CHANNEL, V5_PROTOCOL
from ..exec.session import ExecSession
from .pod_side import PodSide

__all__ = ["EXIT_GRACE", "STREAM_CHUNK", "Cancelled", "OutputPipe", "SessionWriter", "require_v5",
           "send_archive", "split_path", "watch_receiver"]

#: Bytes handed to the session per write (tar stream buffer size).
STREAM_CHUNK: int = 256 * 1024

#: Seconds to wait for the pod side's exit status once the archive stream failed (either way).
EXIT_GRACE: float = 10.0


class Cancelled(Exception):
    """A transfer was stopped; the message says why."""


def split_path(path: str) -> tuple[str, str]:
    """``(parent, name)`` as the pod's sending script takes them (``/`` and ``.`` give ``.``)."""
    trimmed = path.rstrip("/") or "/"
    parent, base = posixpath.split(trimmed)
    if trimmed == "/" or base in (".", ".."):
        parent, base = trimmed, "."
    return parent or ".", base


def require_v5(session: ExecSession, what: str) -> None:
    """Fail unless the session speaks exec protocol v5, which closing stdin needs.

    Raises:
        StreamError: the API server speaks an older protocol.
    """
    if session.protocol != V5_PROTOCOL:
        raise StreamError(f"{what} needs exec protocol v5 (Kubernetes 1.30+) to close stdin; "
                          f"the API server only speaks {session.protocol}")


def send_archive(session: ExecSession, write: Callable[[], None], *,
                 grace: float = EXIT_GRACE) -> None:
    """Call ``write`` (it streams the archive into the pod's stdin), then close stdin.

    ``tar -x`` may exit as soon as it has read the end-of-archive blocks, before the
    archive's last padding or the close of stdin arrives; the API server then ends the
    stream and sending fails, possibly a moment before the exit status is read. So a
    failed send is only an error when the command has not exited within ``grace``
    seconds; otherwise the caller judges its exit code.

    Raises:
        StreamError: sending failed and the command did not exit.
    """
    try:
        write()
        session.close_stdin()
    except StreamError:
        session.wait(grace)
        if session.status != "exited":
            raise


def watch_receiver(session: ExecSession, side: PodSide) -> None:
    """Route the output of the pod's ``tar -x`` side: its ready line to ``side``, stderr too."""

    def on_output(channel: int, data: bytes) -> None:
        if channel == STDOUT_CHANNEL:
            if not side.ready.is_set():
                side.stdout += data
                if b"\n" in side.stdout:
                    side.ready.set()
        else:
            side.add(data)

    session.on_output(on_output)
    session.on_exit(lambda _s: side.ready.set())


class SessionWriter:
    """A write-only file object that sends everything to the pod's stdin.

    ``tarfile`` writes the archive here as it produces it, on the transfer's thread, and
    not through :meth:`ExecSession.feed`: ``feed`` takes the whole input at once, which
    would hold the whole archive in memory. A pod that stops reading blocks this write;
    closing the session (from another thread, or on interrupt) fails it with
    :class:`StreamError`.
    """

    def __init__(self, session: ExecSession):
        self.session = session
        self.sent = 0

    def write(self, data: bytes) -> int:
        """Send ``data`` to the pod's stdin (blocks while the pod does not read)."""
        self.session.write(bytes(data))
        self.sent += len(data)
        return len(data)

    def flush(self) -> None:
        """Nothing to do: every write is sent at once."""


class OutputPipe:
    """A blocking, read-only file object over the pod's stdout, for ``tar -c`` archives.

    Bytes are acknowledged to the session as they are read, so the session stops reading
    the socket while its flow window of bytes waits here. :meth:`listen` routes the
    session's output here (stderr to a :class:`PodSide`).

    Args:
        session: the exec running the pod's sending script.
        on_read: told how many bytes each read returned.
        cancelled: says why the transfer was stopped, or ``None``; a read then raises
            :class:`Cancelled` (call :meth:`wake` after cancelling).
        record: keep what is read until :meth:`take_recording`.
    """

    def __init__(self, session: ExecSession, *, on_read: Callable[[int], None] | None = None,
                 cancelled: Callable[[], str | None] = lambda: None, record: bool = False):
        self.session = session
        self._on_read = on_read
        self._cancelled = cancelled
        self.chunks: deque[bytes] = deque()
        self.cond = threading.Condition()
        self.closed = False
        self.recording: bytearray | None = bytearray() if record else None

    def listen(self, side: PodSide) -> None:
        """Take the session's stdout; its stderr goes to ``side``; the end closes the pipe."""
        session = self.session

        def on_output(channel: int, data: bytes) -> None:
            if channel == STDOUT_CHANNEL:
                self.feed(data)
            else:
                side.add(data)
                session.acknowledge(len(data))

        session.on_output(on_output)
        session.on_exit(lambda _s: self.close())

    def feed(self, data: bytes) -> None:
        """Add a chunk of the pod's stdout."""
        with self.cond:
            self.chunks.append(data)
            self.cond.notify()

    def close(self) -> None:
        """Mark the end of the output: reads return what is left, then ``b""``."""
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def wake(self) -> None:
        """Wake a waiting read (to see a cancel)."""
        with self.cond:
            self.cond.notify_all()

    def read(self, size: int | None = -1) -> bytes:
        """Return up to ``size`` bytes (all held with a negative size), waiting for some.

        ``b""`` at the end of the output.

        Raises:
            Cancelled: the transfer was stopped.
        """
        with self.cond:
            while not self.chunks and not self.closed and not self._cancelled():
                self.cond.wait(1.0)
            reason = self._cancelled()
            if reason:
                raise Cancelled(reason)
            if not self.chunks:
                return b""
            if size is None or size < 0:
                data = b"".join(self.chunks)
                self.chunks.clear()
            else:
                parts = []
                need = size
                while self.chunks and need > 0:
                    chunk = self.chunks[0]
                    if len(chunk) <= need:
                        parts.append(self.chunks.popleft())
                        need -= len(chunk)
                    else:
                        parts.append(chunk[:need])
                        self.chunks[0] = chunk[need:]
                        need = 0
                data = b"".join(parts)
        self.session.acknowledge(len(data))
        if self._on_read is not None:
            self._on_read(len(data))
        if self.recording is not None:
            self.recording += data
        return data

    def drain(self) -> None:
        """Read (and drop) the rest, up to the end of the output."""
        while self.read(STREAM_CHUNK):
            pass

    def take_recording(self) -> bytes:
        """Return everything read so far (the archive's start), and stop recording."""
        data, self.recording = bytes(self.recording or b""), None
        return data
