"""Keystrokes to the pod on a thread of their own.

Comm handlers must never block: they also carry the acknowledgements that let the
session read output again. A big paste into ``cat`` fills the pod's stdin while
``cat`` waits for us to read its output; writing that paste on the comm thread
would stop the acknowledgements and deadlock the terminal. So input is queued here
and written by ``k8stty-input-<name>``, which sleeps on a condition when idle.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("jupyter_k8stty")

#: Most input bytes queued before further input is refused (a paste bigger than this
#: is unusual; refusing it is better than growing without bound).
MAX_QUEUED: int = 64 * 1024 * 1024


class InputPump:
    """Queue bytes and write them, in order, with ``write`` on a daemon thread.

    Args:
        write: called with each batch of bytes; it may block (the pod is not reading).
        name: used in the thread's name.
        max_queued: bytes that may wait before :meth:`put` refuses more.
    """

    def __init__(self, write: Callable[[bytes], None], *, name: str, max_queued: int = MAX_QUEUED):
        self._write = write
        self._max_queued = max_queued
        self._queue = bytearray()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"k8stty-input-{name}", daemon=True)
        self._thread.start()

    def put(self, data: bytes) -> bool:
        """Queue ``data``; return ``False`` if the pump is closed or the queue is full."""
        with self._cond:
            if self._closed or len(self._queue) + len(data) > self._max_queued:
                return False
            self._queue += data
            self._cond.notify()
            return True

    @property
    def queued(self) -> int:
        """Bytes waiting to be written."""
        return len(self._queue)

    def close(self, timeout: float = 2.0) -> None:
        """Drop queued input and stop the thread."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                data = bytes(self._queue)
                self._queue.clear()
            try:
                self._write(data)
            except Exception:  # a failed write must not end the pump: the session reports it
                log.debug("writing input failed", exc_info=True)
