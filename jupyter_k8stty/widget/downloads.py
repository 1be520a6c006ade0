"""Downloads from the pod to the browser: a file as itself, a folder as a ``.tar``.

A named daemon thread (``k8stty-download-<name>``) runs the transfer package's sending
script (:data:`~jupyter_k8stty.transfer.pod_side.SEND_SCRIPT`: ``tar -c``) in a separate
exec and reads the archive as it arrives. When its first member is a regular file (the
path named a file), the file's own bytes are sent; otherwise (a folder, a link) the
archive itself, unchanged, as ``NAME.tar``. Either way the bytes go to one view as
binary ``download-data`` buffers, after a ``download-start`` saying the name and kind.

Flow control both ways: the exec session pauses reading the pod while
:data:`POD_WINDOW` bytes wait here unread, and at most :data:`DOWNLOAD_WINDOW` bytes are
sent to the view and not yet acknowledged (``download-ack``), so the kernel's memory
stays bounded whatever the size.
"""

from __future__ import annotations

import logging
import posixpath
import tarfile
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..errors import K8sTTYError, one_line
from ..exec.checks import check_text
from ..exec.protocol import STDOUT_CHANNEL
from ..exec.session import ExecSession
from ..exec.target import ExecTarget
from ..transfer.pod_side import SEND_SCRIPT, PodSide, failure

log = logging.getLogger("jupyter_k8stty")

__all__ = ["DOWNLOAD_CHUNK", "DOWNLOAD_WINDOW", "POD_WINDOW", "Download", "split_path"]

#: Bytes per ``download-data`` message.
DOWNLOAD_CHUNK: int = 256 * 1024
#: Bytes sent to the view and not yet acknowledged, at most.
DOWNLOAD_WINDOW: int = 4 * 1024 * 1024
#: Archive bytes from the pod waiting here, at most (the exec session's flow window).
POD_WINDOW: int = 4 * 1024 * 1024
#: Seconds without an acknowledgement, while the window is full, before the download fails.
STALL_TIMEOUT: float = 60.0

SendFn = Callable[[dict, list], None]


def split_path(path: str) -> tuple[str, str]:
    """``(parent, name)`` as :data:`SEND_SCRIPT` takes them (``/`` and ``.`` give ``name`` ``.``)."""
    trimmed = path.rstrip("/") or "/"
    parent, base = posixpath.split(trimmed)
    if trimmed == "/" or base in (".", ".."):
        parent, base = trimmed, "."
    return parent or ".", base


class _Cancelled(Exception):
    pass


class _Pipe:
    """The archive as a blocking file object; bytes are acknowledged to the session as read."""

    def __init__(self, session: ExecSession, owner: Download):
        self.session = session
        self.owner = owner
        self.chunks: deque[bytes] = deque()
        self.cond = threading.Condition()
        self.closed = False
        self.recording: bytearray | None = bytearray()

    def feed(self, data: bytes) -> None:
        with self.cond:
            self.chunks.append(data)
            self.cond.notify()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def read(self, size: int | None = -1) -> bytes:
        with self.cond:
            while not self.chunks and not self.closed and not self.owner.cancelled:
                self.cond.wait(1.0)
            if self.owner.cancelled:
                raise _Cancelled(self.owner.cancelled)
            if not self.chunks:
                return b""
            chunk = self.chunks.popleft()
            if size is not None and 0 <= size < len(chunk):
                self.chunks.appendleft(chunk[size:])
                chunk = chunk[:size]
        self.session.acknowledge(len(chunk))
        if self.recording is not None:
            self.recording += chunk
        return chunk

    def take_recording(self) -> bytes:
        """Everything read so far (the archive's start), and stop recording."""
        data, self.recording = bytes(self.recording or b""), None
        return data


class Download:
    """One download from the pod to a view; starts at once on its own thread.

    Args:
        download_id: the id its messages carry.
        target: the terminal's pod and container.
        path: the file or folder in the pod (relative paths start at the container's
            working directory).
        send: the widget's message sender.
        view: the view that receives it.
        name: used in the thread's name.
    """

    def __init__(self, download_id: str, target: ExecTarget, path: str, send: SendFn, *,
                 view: str | None, name: str, window: int = DOWNLOAD_WINDOW):
        self.id = download_id
        self.view = view
        self.path = path
        self.window = window
        #: The name the browser saves it under, once known.
        self.name: str | None = None
        #: ``file`` or ``tar``, once known.
        self.kind: str | None = None
        #: Bytes sent to the view so far.
        self.bytes = 0
        #: Why the download failed, once it has; ``None`` while it runs or when it succeeded.
        self.error: str | None = None
        self.done = threading.Event()
        self.cancelled: str | None = None
        self._target = target
        self._send = send
        self._cond = threading.Condition()
        self._acked = 0
        self._pipe: _Pipe | None = None
        self._session: ExecSession | None = None
        self._thread = threading.Thread(target=self._run, name=f"k8stty-download-{name}", daemon=True)
        self._thread.start()

    def ack(self, nbytes: int) -> None:
        """Count ``nbytes`` more bytes as received by the view."""
        with self._cond:
            self._acked += max(0, nbytes)
            self._cond.notify_all()

    def cancel(self, reason: str = "cancelled") -> None:
        """Stop the download (the view saves nothing)."""
        with self._cond:
            if self.cancelled or self.done.is_set():
                return
            self.cancelled = reason
            self._cond.notify_all()
        pipe = self._pipe
        if pipe is not None:
            with pipe.cond:
                pipe.cond.notify_all()
        session = self._session
        if session is not None and not session.done:
            session.close()

    # -- the download thread ---------------------------------------------------------------

    def _message(self, message_type: str, buffers: list | None = None, **values: Any) -> None:
        self._send({"type": message_type, "id": self.id, "view": self.view, **values}, buffers or [])

    def _push(self, data: bytes) -> None:
        for start in range(0, len(data), DOWNLOAD_CHUNK):
            chunk = data[start:start + DOWNLOAD_CHUNK]
            with self._cond:
                waited = time.monotonic()
                while self.bytes - self._acked >= self.window and not self.cancelled:
                    if not self._cond.wait(1.0) and time.monotonic() - waited > STALL_TIMEOUT:
                        self.cancelled = f"the browser received nothing for {STALL_TIMEOUT:g} s"
                if self.cancelled:
                    raise _Cancelled(self.cancelled)
                self.bytes += len(chunk)
            self._message("download-data", [chunk])

    def _run(self) -> None:
        try:
            self._transfer()
        except _Cancelled as exc:
            self.error = str(exc)
        except K8sTTYError as exc:
            self.error = one_line(exc)
        except Exception as exc:  # the thread boundary: a failure becomes a message the user sees
            log.warning("download %s of %s failed", self.id, self.path, exc_info=True)
            self.error = one_line(exc)
        finally:
            session = self._session
            if session is not None and not session.done:
                session.close()
            self.done.set()
            try:
                self._message("download-done", bytes=self.bytes, error=self.error)
            except Exception:
                log.debug("could not send download-done", exc_info=True)

    def _transfer(self) -> None:
        check_text(self.path, "the path to download")
        if not self.path.strip():
            raise K8sTTYError("say which file or folder of the pod to download")
        parent, base = split_path(self.path)
        session = ExecSession(self._target, ["sh", "-c", SEND_SCRIPT, "k8stty-download", parent, base,
                                             self.path], tty=False, stdin=False, flow_window=POD_WINDOW)
        self._session = session
        pipe = _Pipe(session, self)
        self._pipe = pipe
        side = PodSide()

        def on_output(channel: int, data: bytes) -> None:
            if channel == STDOUT_CHANNEL:
                pipe.feed(data)
            else:
                side.add(data)
                session.acknowledge(len(data))

        session.on_output(on_output)
        session.on_exit(lambda _s: pipe.close())
        session.start()
        if self.cancelled:  # a cancel during start closed the session
            raise _Cancelled(self.cancelled)
        what = f"reading {self.path}"
        try:
            archive = tarfile.open(fileobj=pipe, mode="r|", bufsize=DOWNLOAD_CHUNK)  # type: ignore[call-overload]
            first = archive.next()
        except tarfile.TarError:
            session.wait(10)
            raise failure(session, side, what) from None
        if first is None:
            session.wait(10)
            raise failure(session, side, what) if session.exit_code else K8sTTYError(
                f"{self.path}: nothing to download")
        if first.isreg():
            self.kind, self.name = "file", posixpath.basename(first.name.rstrip("/")) or "download"
            pipe.take_recording()
            self._message("download-start", name=self.name, kind=self.kind, size=first.size,
                          path=self.path)
            member = archive.extractfile(first)
            assert member is not None
            while chunk := member.read(DOWNLOAD_CHUNK):
                self._push(chunk)
            while pipe.read(DOWNLOAD_CHUNK):  # the archive's end, unused
                pass
        else:
            top = base if base not in (".", "/") else (posixpath.basename(parent.rstrip("/")) or "root")
            self.kind, self.name = "tar", f"{top}.tar"
            self._message("download-start", name=self.name, kind=self.kind, size=None,
                          path=self.path)
            self._push(pipe.take_recording())
            while chunk := pipe.read(DOWNLOAD_CHUNK):
                self._push(chunk)
        code = session.wait(60)
        if session.status != "exited" or code != 0:
            raise failure(session, side, what)
        if self.cancelled:
            raise _Cancelled(self.cancelled)
