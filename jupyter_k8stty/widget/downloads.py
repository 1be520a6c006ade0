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

import posixpath
import tarfile
import time

from ..errors import K8sTTYError
from ..exec.checks import check_text
from ..exec.session import ExecSession
from ..exec.target import ExecTarget
from ..transfer.pod_side import SEND_SCRIPT, PodSide, failure
from ..transfer.streams import OutputPipe, split_path
from .messages import SendFn
from .transfer_job import TransferJob

__all__ = ["DOWNLOAD_CHUNK", "DOWNLOAD_WINDOW", "POD_WINDOW", "Download", "split_path"]

#: Bytes per ``download-data`` message.
DOWNLOAD_CHUNK: int = 256 * 1024
#: Bytes sent to the view and not yet acknowledged, at most.
DOWNLOAD_WINDOW: int = 4 * 1024 * 1024
#: Archive bytes from the pod waiting here, at most (the exec session's flow window).
POD_WINDOW: int = 4 * 1024 * 1024
#: Seconds without an acknowledgement, while the window is full, before the download fails.
STALL_TIMEOUT: float = 60.0


class Download(TransferJob):
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

    direction = "download"

    def __init__(self, download_id: str, target: ExecTarget, path: str, send: SendFn, *,
                 view: str | None, name: str, window: int = DOWNLOAD_WINDOW):
        super().__init__(download_id, target, send, view=view, window=window)
        self.path = path
        #: The name the browser saves it under, once known.
        self.name: str | None = None
        #: ``file`` or ``tar``, once known.
        self.kind: str | None = None
        self._acked = 0
        self._pipe: OutputPipe | None = None
        self._start(name)

    def ack(self, nbytes: int) -> None:
        """Count ``nbytes`` more bytes as received by the view."""
        with self._cond:
            self._acked += max(0, nbytes)
            self._cond.notify_all()

    def _on_cancel(self) -> None:
        pipe = self._pipe
        if pipe is not None:
            pipe.wake()

    # -- the download thread ---------------------------------------------------------------

    def _push(self, data: bytes) -> None:
        for start in range(0, len(data), DOWNLOAD_CHUNK):
            chunk = data[start:start + DOWNLOAD_CHUNK]
            with self._cond:
                waited = time.monotonic()
                while self.bytes - self._acked >= self.window and not self.cancelled:
                    if not self._cond.wait(1.0) and time.monotonic() - waited > STALL_TIMEOUT:
                        self.cancelled = f"the browser received nothing for {STALL_TIMEOUT:g} s"
                self._check_cancelled()
                self.bytes += len(chunk)
            self._message("download-data", [chunk])

    def _about(self) -> str:
        return f"of {self.path}"

    def _finish(self) -> None:
        self.done.set()
        self._tell("download-done", bytes=self.bytes, error=self.error)

    def _transfer(self) -> None:
        check_text(self.path, "the path to download")
        if not self.path.strip():
            raise K8sTTYError("say which file or folder of the pod to download")
        parent, base = split_path(self.path)
        session = ExecSession(self._target, ["sh", "-c", SEND_SCRIPT, "k8stty-download", parent, base,
                                             self.path], tty=False, stdin=False, flow_window=POD_WINDOW)
        self._session = session
        pipe = OutputPipe(session, cancelled=lambda: self.cancelled, record=True)
        self._pipe = pipe
        side = PodSide()
        pipe.listen(side)
        session.start()
        self._check_cancelled()  # a cancel during start closed the session
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
        self._check_cancelled()
