"""Uploads from the browser into the pod: files dropped on the terminal, as a tar stream.

The browser announces the files (relative names, sizes, folders) with ``upload``, then
sends their contents back to back as binary ``upload-data`` buffers. Here a named
daemon thread (``k8stty-upload-<name>``) runs the transfer package's receiving script
(:data:`~jupyter_k8stty.transfer.pod_side.RECEIVE_SCRIPT`: ``tar -x`` in the
destination folder) in a separate exec, and writes a tar archive, built on the fly with
:mod:`tarfile` in stream mode, from the buffers as they arrive. Nothing is typed into
the user's shell.

Flow control: the browser keeps at most :data:`UPLOAD_WINDOW` bytes sent and not yet
acknowledged; ``upload-progress`` acknowledges the bytes handed to ``tar`` (whose
writes block while the pod is not reading). So the kernel holds at most one window of
data, whatever the upload's size, and comm handlers never block: keystrokes and output
acknowledgements keep flowing beside a large upload.
"""

from __future__ import annotations

import posixpath
import tarfile
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from ..errors import ArgumentError, StreamError
from ..exec.checks import check_text
from ..exec.session import ExecSession
from ..exec.target import ExecTarget
from ..transfer.pod_side import READY_AS, READY_INTO, RECEIVE_SCRIPT, PodSide, failure
from ..transfer.streams import Cancelled, SessionWriter, require_v5, send_archive, watch_receiver
from .messages import SendFn
from .transfer_job import TransferJob

__all__ = ["MAX_FILES", "UPLOAD_CHUNK", "UPLOAD_WINDOW", "Upload", "UploadFile", "check_files"]

#: Bytes the browser may send ahead of the kernel's acknowledgements.
UPLOAD_WINDOW: int = 2 * 1024 * 1024
#: Largest ``upload-data`` buffer accepted (the browser sends 256 KiB).
UPLOAD_CHUNK: int = 1024 * 1024
#: Bytes handed on between two ``upload-progress`` messages.
PROGRESS_STEP: int = 512 * 1024
#: Most files and folders in one upload.
MAX_FILES: int = 100_000
#: Longest name (a relative path) accepted.
MAX_NAME: int = 4096
#: Seconds without data from the browser, while the upload waits for it, before it fails.
STALL_TIMEOUT: float = 60.0
#: Seconds for the pod's ``tar`` to say it is ready, and to exit after the archive.
POD_TIMEOUT: float = 60.0
#: Bytes per write to the pod (tar's stream buffer).
TAR_BUFFER: int = 256 * 1024


@dataclass(frozen=True)
class UploadFile:
    """One entry of an upload: a file (``size`` bytes follow in the data) or a folder."""

    name: str
    size: int = 0
    is_dir: bool = False
    mtime: float | None = None


def check_files(raw: Any) -> list[UploadFile]:
    """Return the browser's file list as :class:`UploadFile` entries, checked.

    Names are relative ``/``-separated paths: no absolute path, no ``.`` or ``..``
    part, no NUL, at most :data:`MAX_NAME` characters; sizes are whole numbers >= 0.

    Raises:
        ArgumentError: anything else (one line says which entry).
    """
    if not isinstance(raw, list) or not raw:
        raise ArgumentError("an upload needs a non-empty list of files")
    if len(raw) > MAX_FILES:
        raise ArgumentError(f"an upload takes at most {MAX_FILES} files and folders, got {len(raw)}")
    files = []
    for item in raw:
        if not isinstance(item, dict):
            raise ArgumentError(f"an upload entry is an object, got {item!r:.80}")
        name = check_text(item.get("name"), "an uploaded file's name")
        parts = name.split("/")
        if (not name or len(name) > MAX_NAME or name.startswith("/")
                or any(part in ("", ".", "..") for part in parts)):
            raise ArgumentError(f"refusing the upload of {name!r:.200}: names must be relative "
                                "paths without '.' or '..'")
        is_dir = bool(item.get("dir"))
        size = item.get("size", 0)
        if isinstance(size, bool) or not isinstance(size, int) or size < 0 or (is_dir and size):
            raise ArgumentError(f"bad size {size!r:.40} for {name!r:.200}")
        mtime = item.get("mtime")
        seconds = mtime / 1000 if isinstance(mtime, (int, float)) and not isinstance(mtime, bool) \
            and 0 < mtime < 2**53 else None  # the browser's lastModified is in ms
        files.append(UploadFile(name, size, is_dir, seconds))
    return files


class Upload(TransferJob):
    """One upload from a view into a folder of the pod; starts at once on its own thread.

    Args:
        upload_id: the browser's id for it.
        target: the terminal's pod and container.
        dest: the destination folder (created if missing; relative paths start at the
            container's working directory).
        files: what comes, in the order the data comes.
        send: the widget's message sender.
        view: the view that sent it (messages go to that view only).
        name: used in the thread's name.
    """

    direction = "upload"

    def __init__(self, upload_id: str, target: ExecTarget, dest: str, files: list[UploadFile],
                 send: SendFn, *, view: str | None, name: str, window: int = UPLOAD_WINDOW):
        super().__init__(upload_id, target, send, view=view, window=window)
        self.dest = dest
        self.files = files
        self.total = sum(f.size for f in files)
        self._chunks: deque[memoryview] = deque()  # slices of a buffer cost no copy
        self._queued = 0
        self._received = 0
        self._reported = 0
        #: Most bytes held here at once (for tests: it stays within the window).
        self.peak_queued = 0
        self._start(name)

    # -- comm side (never blocks) ----------------------------------------------------------

    def feed(self, data: bytes | memoryview) -> None:
        """Take the next bytes of file data from the browser."""
        data = memoryview(data).cast("B")
        problem = None
        with self._cond:
            if self.done.is_set() or self.cancelled:
                return
            if len(data) > UPLOAD_CHUNK or self._queued + len(data) > self.window + UPLOAD_CHUNK:
                problem = "the browser sent more than the flow-control window allows"
            elif self._received + len(data) > self.total:
                problem = "the browser sent more bytes than the files it announced"
            else:
                self._chunks.append(data)
                self._queued += len(data)
                self._received += len(data)
                self.peak_queued = max(self.peak_queued, self._queued)
                self._cond.notify()
        if problem:
            self.cancel(problem)

    def _on_cancel(self) -> None:
        with self._cond:
            self._chunks.clear()
            self._queued = 0

    # -- the upload thread -----------------------------------------------------------------

    def _read(self, size: int) -> bytes:
        """Up to ``size`` bytes of file data, waiting for the browser if need be."""
        with self._cond:
            waited = time.monotonic()
            while not self._chunks and not self.cancelled:
                if not self._cond.wait(1.0) and time.monotonic() - waited > STALL_TIMEOUT:
                    self.cancelled = f"no data from the browser for {STALL_TIMEOUT:g} s"
            if self.cancelled:
                raise Cancelled(self.cancelled)
            view = self._chunks.popleft()
            if len(view) > size:
                self._chunks.appendleft(view[size:])
                view = view[:size]
            chunk = bytes(view)
            self._queued -= len(chunk)
            self.bytes += len(chunk)
            report = self.bytes - self._reported >= PROGRESS_STEP or not self._chunks
            if report:
                self._reported = self.bytes
        if report:
            self._tell("upload-progress", bytes=self.bytes)
        return chunk

    def _about(self) -> str:
        return f"into {self.dest}"

    def _finish(self) -> None:
        with self._cond:
            self._chunks.clear()
            self._queued = 0
        self.done.set()
        self._tell("upload-done", bytes=self.bytes, error=self.error, dest=self.dest)

    def _transfer(self) -> None:
        folder = self.dest.rstrip("/") + "/" if self.dest != "/" else "/"
        session = ExecSession(self._target, ["sh", "-c", RECEIVE_SCRIPT, "k8stty-upload", folder],
                              tty=False, stdin=True)
        self._session = session
        side = PodSide()
        watch_receiver(session, side)
        self._check_cancelled()
        session.start()
        self._check_cancelled()  # a cancel during start closed the session
        require_v5(session, "uploading")
        if not side.ready.wait(POD_TIMEOUT):
            raise StreamError(f"the pod did not start tar within {POD_TIMEOUT:g} s")
        self._check_cancelled()
        marker = side.ready_line()
        if marker not in (READY_INTO, READY_AS):
            session.wait(5)
            raise failure(session, side, f"uploading into {self.dest}")
        try:
            send_archive(session, lambda: self._write_archive(session))
        except StreamError:
            if self.cancelled:
                raise Cancelled(self.cancelled) from None
            raise
        if session.wait(POD_TIMEOUT) != 0:
            raise failure(session, side, f"uploading into {self.dest}")

    def _write_archive(self, session: ExecSession) -> None:
        writer = SessionWriter(session)
        now = time.time()
        # typeshed wants an IO object; tarfile's stream mode only calls write() and flush().
        with tarfile.open(fileobj=writer, mode="w|", bufsize=TAR_BUFFER) as archive:  # type: ignore[call-overload]
            for entry in self.files:
                info = tarfile.TarInfo(posixpath.normpath(entry.name))
                info.mtime = int(entry.mtime if entry.mtime is not None else now)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if entry.is_dir:
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    archive.addfile(info)
                else:
                    info.size = entry.size
                    info.mode = 0o644
                    archive.addfile(info, _EntryReader(self, entry.size))  # type: ignore[arg-type]


class _EntryReader:
    """One file's bytes, out of the upload's stream of data."""

    def __init__(self, upload: Upload, size: int):
        self.upload = upload
        self.left = size

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        want = self.left if size is None or size < 0 else min(size, self.left)
        data = self.upload._read(want)
        self.left -= len(data)
        return data
