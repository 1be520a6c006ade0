"""What an upload and a download between a view and the pod share.

An id and the view its messages go to, a named daemon thread (``k8stty-<direction>-<name>``)
that runs the transfer, its separate exec session (closed when the thread ends, or by a
cancel to unblock it), and the one-line error the user sees.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from ..errors import K8sTTYError, one_line
from ..exec.session import ExecSession
from ..exec.target import ExecTarget
from ..transfer.streams import Cancelled
from .messages import SendFn

log = logging.getLogger("jupyter_k8stty")

__all__ = ["TransferJob"]

class TransferJob:
    """The common part of :class:`~.uploads.Upload` and :class:`~.downloads.Download`.

    Subclasses set :attr:`direction`, do the work in :meth:`_transfer` and report the end in
    :meth:`_finish`; they call :meth:`_start` once their own state is set.
    """

    #: ``upload`` or ``download``: in thread names and log lines.
    direction = "transfer"

    def __init__(self, job_id: str, target: ExecTarget, send: SendFn, *, view: str | None,
                 window: int):
        self.id = job_id
        self.view = view
        self.window = window
        #: Bytes moved so far.
        self.bytes = 0
        #: Why the transfer failed, once it has; ``None`` while it runs or when it succeeded.
        self.error: str | None = None
        self.done = threading.Event()
        #: Why the transfer was stopped (:meth:`cancel`, or a stall), else ``None``.
        self.cancelled: str | None = None
        self._target = target
        self._send = send
        self._cond = threading.Condition()
        self._session: ExecSession | None = None

    def cancel(self, reason: str = "cancelled") -> None:
        """Stop the transfer: the view saves nothing; what the pod's ``tar`` extracted stays."""
        with self._cond:
            if self.cancelled or self.done.is_set():
                return
            self.cancelled = reason
            self._cond.notify_all()
        self._on_cancel()
        self._close_session()  # unblocks a read or write waiting for the pod

    def _on_cancel(self) -> None:
        """Drop what is held and wake the transfer's thread (after :attr:`cancelled` is set)."""

    def _check_cancelled(self) -> None:
        if self.cancelled:
            raise Cancelled(self.cancelled)

    def _start(self, name: str) -> None:
        self._thread = threading.Thread(target=self._run, name=f"k8stty-{self.direction}-{name}",
                                        daemon=True)
        self._thread.start()

    def _message(self, message_type: str, buffers: list | None = None, **values: Any) -> None:
        self._send({"type": message_type, "id": self.id, "view": self.view, **values}, buffers or [])

    def _tell(self, message_type: str, **values: Any) -> None:
        """Send a message without buffers; a failure to send is only logged."""
        try:
            self._message(message_type, **values)
        except Exception:
            log.debug("could not send %s", message_type, exc_info=True)

    def _close_session(self) -> None:
        session = self._session
        if session is not None and not session.done:
            session.close()

    def _run(self) -> None:
        try:
            self._transfer()
        except Cancelled as exc:
            self.error = str(exc)
        except K8sTTYError as exc:
            self.error = one_line(exc)
        except Exception as exc:  # the thread boundary: a failure becomes a message the user sees
            log.warning("%s %s %s failed", self.direction, self.id, self._about(), exc_info=True)
            self.error = one_line(exc)
        finally:
            self._close_session()
            self._finish()

    def _about(self) -> str:
        """Say what is transferred, for log lines."""
        return ""

    def _transfer(self) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        """Set :attr:`done` and tell the view how it ended."""
        raise NotImplementedError
