"""The bridge's side of skipping ahead: :class:`SkipAhead`, mixed into :class:`~.bridge.Bridge`.

What a skip does and when it ends is described in :mod:`~jupyter_k8stty.widget.skip_ahead`;
the ``skip`` and ``skipped`` messages in :mod:`~jupyter_k8stty.widget.messages`. While a
skip is in progress the reader thread's bytes go to the tail under the send lock (nothing
is sent) and are acknowledged to the session at once, so the pod is read at full speed.
The flusher thread asks :meth:`SkipAhead._skip_timers` whether output calmed down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .messages import AckFn
from .replay_tail import ReplayTail
from .skip_ahead import SKIP_BEHIND, SKIP_QUIET, SKIP_TAIL, Skip, needs_redraw, screen_tail, skip_replay

log = logging.getLogger("jupyter_k8stty")

__all__ = ["SkipAhead"]


class SkipAhead:
    """Skipping ahead after an interrupt key, for :class:`~.bridge.Bridge` (locks and all).

    Attributes:
        skip_behind: bytes the views must be behind for :meth:`interrupt` to skip ahead.
        skip_tail: bytes of the skipped output's end that the views are sent.
        skip_quiet: seconds of each look at the output rate while skipping (calm: few
            bytes in one).
    """

    if TYPE_CHECKING:  # the bridge's own state, used under its locks
        _lock: threading.Lock
        _wake: threading.Condition
        _send_lock: threading.Lock
        _pending: bytearray
        _closed: bool
        _tail: ReplayTail
        _sent: int
        _views: dict[str, int]
        _acknowledge: AckFn | None

        def _safe_send(self, content: dict, buffers: list) -> None: ...
        def _ack_all(self) -> None: ...

    def _init_skip(self, on_redraw: Callable[[], None] | None) -> None:
        self._on_redraw = on_redraw
        self.skip_behind = SKIP_BEHIND
        self.skip_tail = SKIP_TAIL
        self.skip_quiet = SKIP_QUIET
        self._skip: Skip | None = None  # a skip in progress (guarded by _send_lock, also read unlocked)

    @property
    def skipping(self) -> bool:
        """Whether a skip ahead is in progress."""
        return self._skip is not None

    def interrupt(self, key: str, size: tuple[int, int] | None = None) -> bool:
        """Skip ahead if the views are far behind: ``key`` (``"Ctrl-C"``) was just typed.

        ``size`` is the terminal's ``(rows, cols)``: the end of the output the views then
        get is cut to what fits on the screen. Returns whether a skip began (see
        :mod:`~jupyter_k8stty.widget.skip_ahead`).
        """
        with self._send_lock:
            if self._skip is not None or not self._views or self._closed:
                return False
            with self._lock:
                behind = self._sent - max(self._views.values()) + len(self._pending)
                if behind < self.skip_behind:
                    return False
                skip = self._skip = Skip(key, time.monotonic(), size, quiet=self.skip_quiet)
                queued = bytes(self._pending)
                self._pending.clear()
                self._wake.notify()  # the flusher watches the output calm down
            skip.skipped = self._sent - max(self._views.values())  # sent, not drawn yet
            self._safe_send({"type": "skip"}, [])
            self._ack_all()  # what the views hold counts as read: the pod may run on
            self._skip_bytes(queued)
        log.debug("%s with %d bytes not drawn: skipping ahead", key, behind)
        return True

    # -- internals ------------------------------------------------------------------------

    def _send_replay(self, view: str) -> None:
        """Send ``view`` the tail, after the modes in force where it begins (_send_lock held)."""
        modes, data = self._tail.replay()
        restore = modes.restore()
        self._safe_send({"type": "replay", "view": view}, [restore, data] if restore else [data])

    def _feed_skipped(self, data: bytes) -> bool:
        """Keep ``data`` in the tail if a skip is (still) in progress; return whether it was."""
        with self._send_lock:
            if self._skip is None:
                return False
            with self._lock:  # bytes queued in a race with interrupt() come first
                queued = bytes(self._pending)
                self._pending.clear()
            self._skip_bytes(queued)
            self._skip_bytes(data)
            return True

    def _skip_bytes(self, data: bytes) -> None:
        """Keep ``data`` in the tail without sending it, and acknowledge it (_send_lock held)."""
        if not data:
            return
        if self._skip is not None:
            self._skip.count(len(data))
        self._tail.append(data)
        if self._acknowledge is not None:
            try:
                self._acknowledge(len(data))  # never sent: read on at full speed
            except Exception:
                log.debug("acknowledge failed", exc_info=True)

    def _end_skip(self) -> bool:
        """Send the views the end of the skipped output; return whether the program must redraw."""
        skip, self._skip = self._skip, None
        if skip is None:
            return False
        start, data = self._tail.replay(self.skip_tail)
        if skip.size is not None:
            start, data = screen_tail(start, data, *skip.size)
        payload = skip_replay(start, data, skipped=skip.skipped, key=skip.key)
        self._safe_send({"type": "skipped", "bytes": skip.skipped}, [payload])
        for view in skip.late_views:
            if view in self._views:
                self._views[view] = self._sent
                self._send_replay(view)
        log.debug("skipped %d bytes in %.3f s", skip.skipped, time.monotonic() - skip.started)
        return needs_redraw(start, data)

    def _skip_due(self) -> float | None:
        """When the flusher should next look at a skip in progress (``time.monotonic()``)."""
        skip = self._skip
        return skip.due() if skip is not None else None

    def _skip_timers(self, now: float) -> bool:
        """End a skip whose output calmed down (_send_lock held); return whether to redraw."""
        return self._skip is not None and self._skip.calm(now) and self._end_skip()

    def _redraw(self) -> None:
        """Ask the program to redraw (flusher thread, no lock held)."""
        if self._on_redraw is not None:
            try:
                self._on_redraw()
            except Exception:
                log.exception("asking the program to redraw after a skip failed")
