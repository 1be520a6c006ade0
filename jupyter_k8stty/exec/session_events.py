"""The callbacks of :class:`~jupyter_k8stty.exec.session.ExecSession`: output, waiting, exit.

Output callbacks run on the reader thread; wait callbacks on the thread in ``start()``;
exit callbacks on whichever thread ends the session. A failing wait or exit callback
is logged, never lets the session hang.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, overload

from .reader import OutputCallback, ViewCallback

if TYPE_CHECKING:
    from .session import ExecSession
    from .status import SessionStatus

log = logging.getLogger("jupyter_k8stty")

__all__ = ["ExitCallback", "OutputCallback", "SessionEvents", "ViewCallback"]

#: Called with the session (exit and wait callbacks).
ExitCallback = Callable[["ExecSession"], None]


class _Cancelled(Exception):
    """The session was closed while waiting for its pod."""


class SessionEvents:
    """Mixed into :class:`~jupyter_k8stty.exec.session.ExecSession`: its callbacks."""

    if TYPE_CHECKING:  # provided by ExecSession
        pod: str
        phase_note: str | None
        _closing: bool
        _lock: threading.Lock
        _done: threading.Event
        _status: SessionStatus
        _output_callbacks: list[OutputCallback]
        _view_callbacks: list[ViewCallback]
        _wait_callbacks: list[ExitCallback]
        _exit_callbacks: list[ExitCallback]

        @property
        def name(self) -> str: ...  # noqa: D102

    @overload
    def on_output(self, callback: OutputCallback, *, view: Literal[False] = False) -> None: ...
    @overload
    def on_output(self, callback: ViewCallback, *, view: Literal[True]) -> None: ...

    def on_output(self, callback: Any, *, view: bool = False) -> None:
        """Call ``callback(channel, data)`` on the reader thread for each output chunk.

        ``channel`` is 1 (stdout, or the merged TTY) or 2 (stderr). Keep callbacks fast:
        they run on the reader thread. An exception in a callback ends the session with
        an error rather than losing output silently.

        ``view=True``: ``data`` is a ``memoryview`` of the reader's buffer, valid only
        during the call (the next read reuses it). For a callback that copies what it
        keeps (into a file, a ``bytearray``), this saves a copy of every byte.
        """
        (self._view_callbacks if view else self._output_callbacks).append(callback)

    def on_wait(self, callback: ExitCallback) -> None:
        """Call ``callback(session)`` each time the pod is polled while it is not running.

        :attr:`status` is then ``waiting`` and :attr:`phase_note` says why (``Pending``,
        or ``starting debug container debugger-ab12c (busybox)``).
        """
        self._wait_callbacks.append(callback)

    def _waiting(self, namespace: str, pod: str, reason: str) -> None:
        if self._closing:
            raise _Cancelled
        with self._lock:
            if self._status in ("connecting", "waiting"):
                self._status = "waiting"
        self.pod, self.phase_note = pod, reason
        for callback in list(self._wait_callbacks):
            try:
                callback(self)  # type: ignore[arg-type]
            except Exception:
                log.exception("wait callback failed for %s", self.name)

    def on_exit(self, callback: ExitCallback) -> None:
        """Call ``callback(session)`` once when the stream ends for any reason.

        If the session has already ended, the callback runs at once.
        """
        with self._lock:
            if not self._done.is_set():
                self._exit_callbacks.append(callback)
                return
        self._run_exit_callback(callback)

    def _run_exit_callback(self, callback: ExitCallback) -> None:
        try:
            callback(self)  # type: ignore[arg-type]  # self is the ExecSession
        except Exception:
            log.exception("exit callback failed for %s", self.name)
