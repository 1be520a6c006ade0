"""Files between the browser and the pod for one terminal: the messages, and ``Terminal.download``.

:class:`Transfers` handles the browser's ``upload-where``, ``upload``, ``upload-data``,
``upload-cancel``, ``download``, ``download-ack`` and ``download-cancel`` messages (the
full list is in :mod:`jupyter_k8stty.widget.messages`), starts an
:class:`~.uploads.Upload` or a :class:`~.downloads.Download` on its own thread, and
finds the shell's directory (:mod:`.shell_dir`) on a thread too: comm handlers never
block. Transfers use a separate exec into the terminal's own pod and container, never
the user's shell.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..errors import ArgumentError, K8sTTYError, StreamError, one_line
from ..exec.checks import check_text
from ..exec.session import ExecSession
from ..exec.target import ExecTarget
from .downloads import Download
from .messages import SendFn
from .shell_dir import shell_directory
from .uploads import Upload, check_files

log = logging.getLogger("jupyter_k8stty")

__all__ = ["MAX_RUNNING", "Transfer", "Transfers"]

#: Transfers one terminal runs at once (each holds at most one flow-control window).
MAX_RUNNING: int = 4
#: Longest id accepted from the browser.
_MAX_ID = 100

class Transfer:
    """A file transfer between the pod and the browser, as :meth:`Terminal.download` returns it.

    Attributes:
        kind: ``download`` (or ``upload``).
        path: the path in the pod.
    """

    def __init__(self, job: Download | Upload):
        self._job = job
        self.kind = "download" if isinstance(job, Download) else "upload"
        self.path = job.path if isinstance(job, Download) else job.dest

    @property
    def done(self) -> bool:
        """Whether the transfer has ended (successfully or not)."""
        return self._job.done.is_set()

    @property
    def error(self) -> str | None:
        """Why it failed (one line), or ``None``."""
        return self._job.error

    @property
    def bytes(self) -> int:
        """Bytes transferred so far."""
        return self._job.bytes

    @property
    def name(self) -> str | None:
        """The name the browser saves a download under (``NAME.tar`` for a folder), once known."""
        return self._job.name if isinstance(self._job, Download) else None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the transfer has ended; return whether it has.

        In a cell, this needs comms over subshells (JupyterLab 4.4+ with ipykernel 7):
        otherwise the browser's acknowledgements wait behind the cell.
        """
        return self._job.done.wait(timeout)

    def cancel(self) -> None:
        """Stop the transfer."""
        self._job.cancel("cancelled")

    def __repr__(self) -> str:
        state = "running" if not self.done else f"failed: {self.error}" if self.error else "done"
        return f"<Transfer {self.kind} {self.path!r} {self.bytes} bytes, {state}>"


class Transfers:
    """Uploads, downloads and the shell's directory for one terminal.

    Args:
        send: the widget's custom-message sender.
        session: returns the terminal's current exec session (or ``None``).
        size: returns the terminal's ``(rows, cols)``.
        views: returns the ids of the views attached, the most recent last.
        name: used in thread names.
    """

    def __init__(self, send: SendFn, session: Callable[[], ExecSession | None],
                 size: Callable[[], tuple[int, int]], views: Callable[[], list[str]], *, name: str):
        self._send = send
        self._session = session
        self._size = size
        self._views = views
        self._name = name
        self._lock = threading.Lock()
        self._jobs: dict[str, Upload | Download] = {}
        self._ids = itertools.count(1)
        # When the current session began connecting (the first one begins now) and
        # when it was connected: its shell started in between (see shell_dir).
        self._connecting_at = time.monotonic()
        self._connected_at: float | None = None
        self._closed = False
        #: Browser messages this class handles, by ``type``.
        self.handlers: dict[str, Callable[[dict, list], None]] = {
            "upload-where": self._on_where,
            "upload": self._on_upload,
            "upload-data": self._on_upload_data,
            "upload-cancel": self._on_cancel,
            "download": self._on_download,
            "download-ack": self._on_download_ack,
            "download-cancel": self._on_cancel,
        }

    # -- public ---------------------------------------------------------------------------

    def download(self, path: str, view: str | None = None) -> Transfer:
        """Send the pod's ``path`` to a view, which saves it (see :meth:`Terminal.download`)."""
        check_text(path, "path")
        if not path.strip():
            raise ArgumentError("path must name a file or folder in the pod")
        if view is None:
            views = self._views()
            if not views:
                raise StreamError("the terminal is not displayed: a download is saved by the "
                                  "browser that shows it")
            view = views[-1]
        job = self._start(f"k{next(self._ids)}", lambda job_id: Download(
            job_id, self._target(), path, self._send, view=view, name=self._name))
        assert isinstance(job, Download)
        return Transfer(job)

    def note_status(self, status: str) -> None:
        """Follow the terminal's status (when its session started helps find its shell)."""
        if status == "connecting":
            self._connecting_at, self._connected_at = time.monotonic(), None
        elif status == "connected":
            self._connected_at = time.monotonic()

    def close(self) -> None:
        """Cancel every transfer."""
        with self._lock:
            self._closed = True
            jobs = list(self._jobs.values())
            self._jobs.clear()
        for job in jobs:
            job.cancel("the terminal was closed")

    @property
    def running(self) -> list[Upload | Download]:
        """The transfers still running."""
        with self._lock:
            return [job for job in self._jobs.values() if not job.done.is_set()]

    # -- internals ------------------------------------------------------------------------

    def _target(self) -> ExecTarget:
        """Return the terminal's pod and container, pinned (a workload must not pick another pod)."""
        session = self._session()
        if session is None or session.status != "connected":
            status = session.status if session is not None else "not started"
            raise StreamError(f"the terminal is {status}: files move only while it is connected")
        return replace(session.target, name=session.pod, selector=None,
                       namespace=session.namespace, container=session.container)

    def _start(self, job_id: str, make: Callable[[str], Upload | Download]) -> Upload | Download:
        with self._lock:
            if self._closed:
                raise StreamError("the terminal is closed")
            for key in [k for k, job in self._jobs.items() if job.done.is_set()]:
                del self._jobs[key]
            if job_id in self._jobs:
                raise ArgumentError(f"a transfer with id {job_id!r} is already running")
            if len(self._jobs) >= MAX_RUNNING:
                raise StreamError(f"{MAX_RUNNING} transfers are running already: wait for one to end")
            job = make(job_id)
            self._jobs[job_id] = job
            return job

    def _job(self, content: dict) -> Upload | Download | None:
        with self._lock:
            return self._jobs.get(str(content.get("id")))

    def _answer_error(self, kind: str, content: dict, exc: Exception) -> None:
        self._send({"type": kind, "id": content.get("id"), "view": content.get("view"),
                    "bytes": 0, "error": one_line(exc)}, [])

    def _on_where(self, content: dict, buffers: list) -> None:
        request, view = content.get("request"), content.get("view")

        def look() -> None:
            answer: dict[str, Any] = {"type": "upload-where", "request": request, "view": view}
            try:
                rows, cols = self._size()
                now = time.monotonic()
                started = None if self._connected_at is None else (
                    now - self._connecting_at, now - self._connected_at)
                found = shell_directory(self._target(), rows, cols, started)
                answer.update(path=found.path, source=found.source)
            except K8sTTYError as exc:
                answer["error"] = one_line(exc)
            except Exception as exc:  # the thread boundary: the view shows it
                log.warning("finding the shell's directory failed", exc_info=True)
                answer["error"] = one_line(exc)
            try:
                self._send(answer, [])
            except Exception:
                log.debug("could not send upload-where", exc_info=True)

        threading.Thread(target=look, name=f"k8stty-where-{self._name}", daemon=True).start()

    def _on_upload(self, content: dict, buffers: list) -> None:
        def prepare() -> Callable[[str, str | None], Upload]:
            dest = check_text(content.get("dest"), "the destination folder")
            if not dest.strip() or len(dest) > 4096:
                raise ArgumentError("the destination folder must be a path in the pod")
            files = check_files(content.get("files"))
            return lambda job_id, view: Upload(job_id, self._target(), dest, files, self._send,
                                               view=view, name=self._name)

        self._begin(content, "upload-done", prepare)

    def _on_upload_data(self, content: dict, buffers: list) -> None:
        job = self._job(content)
        if isinstance(job, Upload):
            for buffer in buffers:
                job.feed(buffer)

    def _on_cancel(self, content: dict, buffers: list) -> None:
        job = self._job(content)
        if job is not None:
            job.cancel(str(content.get("reason") or "cancelled")[:200])

    def _on_download(self, content: dict, buffers: list) -> None:
        def prepare() -> Callable[[str, str | None], Download]:
            path = check_text(content.get("path"), "the path to download")
            return lambda job_id, view: Download(job_id, self._target(), path, self._send,
                                                 view=view, name=self._name)

        self._begin(content, "download-done", prepare)

    def _begin(self, content: dict, done_type: str,
               prepare: Callable[[], Callable[[str, str | None], Upload | Download]]) -> None:
        """Start the upload or download the browser asked for; a bad request gets ``done_type``.

        ``prepare`` checks the request's own fields and returns how to make the job from
        its id and view.
        """
        try:
            job_id = _check_id(content.get("id"))
            make = prepare()
            view = content.get("view")
            self._start(job_id, lambda jid: make(jid, str(view) if view is not None else None))
        except (K8sTTYError, ValueError) as exc:
            self._answer_error(done_type, content, exc)

    def _on_download_ack(self, content: dict, buffers: list) -> None:
        job = self._job(content)
        if isinstance(job, Download):
            nbytes = content.get("bytes")
            job.ack(nbytes if isinstance(nbytes, int) and not isinstance(nbytes, bool) else 0)


def _check_id(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX_ID:
        raise ArgumentError(f"a transfer id is a short string, got {value!r:.40}")
    return value
