"""Output coalescing and flow control between an exec session and the widget's comm.

The messages it sends (``output``, ``replay``) and takes (``ready``, ``ack``,
``detach``), with every other message of the widget, are listed in :mod:`.messages`.

Flow control
============

The exec session is created with a window (:data:`FLOW_WINDOW`): its reader stops
reading the websocket while more than that many output bytes are unacknowledged, so
a flood (``cat`` of a huge file, ``yes``) is throttled by the browser's real parsing
speed instead of piling up in the kernel or the browser. Policy:

* Views acknowledge the bytes xterm.js has parsed. Each view has a position in the
  output stream (where it joined, by its replay, plus what it has acknowledged);
  the session is acknowledged up to the position of the **most advanced** view, so a
  second, hidden or slow view never holds back the one the user is looking at.
* With **no view** attached (the widget was never displayed, or every view sent
  ``detach``), output is acknowledged as soon as it is sent: the pod never stalls and
  only the bounded tail is kept for a later replay.
* If views are attached but none has acknowledged anything for
  :data:`STALL_TIMEOUT` seconds while output is outstanding (a closed browser tab
  sends no ``detach``), the bridge treats them as gone and acknowledges on their
  behalf until a view sends ``ready`` or ``ack`` again.

Threads
=======

The session's reader thread calls :meth:`Bridge.feed`, which only appends to a buffer
under a short lock. One flusher thread per bridge (``k8stty-flush-<name>``) sends the
messages and ends a skip once output calms down. Comm handlers (possibly on an
ipykernel subshell thread) call :meth:`Bridge.ready`, :meth:`Bridge.ack`,
:meth:`Bridge.detach` and :meth:`Bridge.interrupt`. A send lock keeps the tail, the
stream positions and the order of ``output`` and ``replay`` messages consistent: a
``replay`` holds exactly the bytes of every ``output`` (and every skipped byte) before it.

Skipping ahead
==============

An interrupt key typed while the views are far behind a flood (:meth:`Bridge.interrupt`)
starts a skip: the bytes read meanwhile are kept in the tail and acknowledged at once,
not sent, and the views get the end of the output when it calms down. The tail
(:class:`~jupyter_k8stty.widget.replay_tail.ReplayTail`) follows the terminal modes of
what falls off its front, so a replay restores them. See
:mod:`~jupyter_k8stty.widget.skip_ahead` and :mod:`~jupyter_k8stty.widget.bridge_skip`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .bridge_skip import SkipAhead
from .messages import AckFn, SendFn
from .replay_tail import ReplayTail

log = logging.getLogger("jupyter_k8stty")

#: Seconds within which output is gathered into one message after a send.
FLUSH_INTERVAL: float = 0.004
#: Largest ``output`` message payload.
MAX_MESSAGE: int = 256 * 1024
#: Bytes of recent output kept for ``replay`` and :attr:`Bridge.tail`.
TAIL_SIZE: int = 256 * 1024
#: Unacknowledged output bytes after which the session stops reading the pod.
FLOW_WINDOW: int = 2 * 1024 * 1024
#: Seconds without any acknowledgement after which attached views count as gone.
STALL_TIMEOUT: float = 10.0


class Bridge(SkipAhead):
    """Coalesce a session's output into widget messages and apply flow control.

    Args:
        send: ``send(content, buffers)``, the widget's custom-message sender.
        acknowledge: the session's ``acknowledge(nbytes)`` (see :meth:`reset`).
        name: used in the flusher thread's name.
        on_orphaned: called (from the flusher thread) when views had been attached,
            the last one detached and none came back within ``orphan_grace`` seconds.
        orphan_grace: see ``on_orphaned``; ``None`` disables it.
        on_redraw: called (from the flusher thread) when a skip ahead ends in a
            full-screen program whose screen the replay may not complete (see
            :mod:`~jupyter_k8stty.widget.skip_ahead`).
    """

    def __init__(
        self,
        send: SendFn,
        acknowledge: AckFn | None = None,
        *,
        name: str = "terminal",
        flush_interval: float = FLUSH_INTERVAL,
        max_message: int = MAX_MESSAGE,
        tail_size: int = TAIL_SIZE,
        stall_timeout: float = STALL_TIMEOUT,
        on_orphaned: Callable[[], None] | None = None,
        orphan_grace: float | None = None,
        on_redraw: Callable[[], None] | None = None,
    ):
        self._send = send
        self._acknowledge = acknowledge
        self.flush_interval = flush_interval
        self.max_message = max_message
        self.tail_size = tail_size
        self.stall_timeout = stall_timeout
        self._on_orphaned = on_orphaned
        self._orphan_grace = orphan_grace
        self._init_skip(on_redraw)

        # Guarded by _lock (the reader thread only ever takes this one, briefly).
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending = bytearray()
        self._closed = False
        self._flushing = False

        # Guarded by _send_lock (taken before _lock when both are needed).
        self._send_lock = threading.Lock()
        self._tail = ReplayTail(tail_size)  # output sent or skipped
        self._sent = 0  # output bytes sent in this stream
        self._acked = 0  # output bytes acknowledged to the session
        self._views: dict[str, int] = {}  # view id -> stream position
        self._had_views = False
        self._orphaned_at: float | None = None
        self._auto_ack = False
        self._last_send = 0.0
        self._waiting_since: float | None = None  # first unacknowledged send

        #: Number of ``output`` messages sent (for tests and diagnostics).
        self.messages_sent = 0
        self._thread = threading.Thread(target=self._run, name=f"k8stty-flush-{name}", daemon=True)
        self._thread.start()

    # -- session side ---------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Queue output bytes (called on the session's reader thread)."""
        if not data:
            return
        if self._skip is not None and self._feed_skipped(data):
            return
        with self._lock:
            if self._closed:
                return
            was_empty = not self._pending
            self._pending += data
            # A send in progress is not quiet: its _last_send is only set once it is done.
            quiet = (was_empty and not self._flushing
                     and time.monotonic() - self._last_send > self.flush_interval)
            if not quiet and (was_empty or len(self._pending) >= self.max_message):
                self._wake.notify()
        if quiet:
            # The first bytes after a quiet spell (a keystroke's echo) leave from this
            # thread at once: handing them to the flusher would add a thread switch.
            self.flush()

    def flush(self) -> None:
        """Send everything queued now, from the calling thread."""
        with self._send_lock:
            with self._lock:
                if not self._pending:
                    return
                data = bytes(self._pending)
                self._pending.clear()
                skipping = self._skip is not None  # the bytes came just before the skip began
                self._flushing = not skipping
            if skipping:
                self._skip_bytes(data)
                return
            try:
                for start in range(0, len(data), self.max_message):
                    self._send_output(data[start : start + self.max_message])
            finally:
                with self._lock:
                    self._flushing = False

    def reset(self, acknowledge: AckFn | None) -> None:
        """Start a new stream (new session): drop queued output and the tail, reset all views."""
        with self._send_lock:
            with self._lock:
                self._pending.clear()
            self._acknowledge = acknowledge
            self._tail.clear()
            self._skip = None
            self._sent = self._acked = 0
            self._waiting_since = None
            for view in self._views:
                self._views[view] = 0
            if self._views:
                self._safe_send({"type": "replay", "view": None}, [b""])

    @property
    def tail(self) -> bytes:
        """The most recent output that was sent (at most ``tail_size`` bytes)."""
        with self._send_lock:
            return self._tail.data()

    def recent(self) -> bytes:
        """Return the tail followed by the output still queued for the next message."""
        with self._send_lock:
            with self._lock:
                pending = bytes(self._pending)
            data = self._tail.data() + pending
        return data[-self.tail_size :]

    def recent_span(self) -> tuple[bytes, int]:
        """Return :meth:`recent` and the stream position just after its last byte."""
        with self._send_lock:
            with self._lock:
                pending = bytes(self._pending)
            data = self._tail.data() + pending
            end = self._tail.end + len(pending)
        return data[-self.tail_size :], end

    @property
    def views(self) -> int:
        """Number of views currently attached."""
        return len(self._views)

    @property
    def view_ids(self) -> list[str]:
        """The ids of the views attached, in the order they first sent ``ready``."""
        with self._send_lock:
            return list(self._views)

    # -- view side ------------------------------------------------------------------------

    @property
    def handlers(self) -> dict[str, Callable[[dict, list], None]]:
        """The browser's ``ready``, ``ack`` and ``detach`` messages, by ``type``, for the widget."""
        return {
            "ack": lambda content, _buffers: self.ack(str(content.get("view")),
                                                      int(content.get("bytes") or 0)),
            "ready": lambda content, _buffers: self.ready(str(content.get("view"))),
            "detach": lambda content, _buffers: self.detach(str(content.get("view"))),
        }

    def ready(self, view: str) -> None:
        """Handle a view that rendered: send it the tail and count it in flow control."""
        with self._send_lock:
            self._views[view] = self._sent
            self._had_views = True
            self._orphaned_at = None
            self._auto_ack = False
            if self._skip is not None:
                self._skip.late_views.append(view)  # replayed once the skip ends
            else:
                self._send_replay(view)
            self._advance()

    def ack(self, view: str, nbytes: int) -> None:
        """Record that a view parsed ``nbytes`` more bytes of output."""
        if nbytes <= 0:
            return
        with self._send_lock:
            if view not in self._views:
                # A view that joined before a kernel-side reset, or one the stall policy
                # dropped: it is alive after all, count it from the current position.
                self._views[view] = self._acked
                self._had_views = True
                self._orphaned_at = None
            self._views[view] = min(self._sent, self._views[view] + nbytes)
            self._auto_ack = False
            self._advance()

    def detach(self, view: str) -> None:
        """Forget a view; with none left, output is acknowledged as it is sent."""
        with self._send_lock:
            self._views.pop(view, None)
            if not self._views:
                self._ack_all()
                if self._had_views:
                    self._orphaned_at = time.monotonic()
                    with self._lock:
                        self._wake.notify()  # arm the flusher's orphan timer
            else:
                self._advance()

    # -- lifecycle ------------------------------------------------------------------------

    def close(self, timeout: float = 5.0) -> None:
        """Stop the flusher thread (queued output is dropped)."""
        with self._lock:
            self._closed = True
            self._pending.clear()
            self._wake.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    # -- internals (the _send_lock is held) -----------------------------------------------

    def _safe_send(self, content: dict, buffers: list) -> None:
        try:
            self._send(content, buffers)
        except Exception:  # a closed comm must not kill the reader or flusher thread
            log.debug("could not send a %s message", content.get("type"), exc_info=True)

    def _send_output(self, chunk: bytes) -> None:
        self._safe_send({"type": "output"}, [chunk])
        self.messages_sent += 1
        self._last_send = time.monotonic()
        self._sent += len(chunk)
        self._tail.append(chunk)  # a replay begins at a line start, after its modes
        if not self._views or self._auto_ack:
            self._ack_all()
        elif self._waiting_since is None:
            self._waiting_since = self._last_send

    def _ack_all(self) -> None:
        self._ack_to(self._sent)

    def _advance(self) -> None:
        if self._views:
            self._ack_to(max(self._views.values()))

    def _ack_to(self, position: int) -> None:
        position = min(position, self._sent)
        if position > self._acked:
            nbytes = position - self._acked
            self._acked = position
            if self._acknowledge is not None:
                try:
                    self._acknowledge(nbytes)
                except Exception:
                    log.debug("acknowledge failed", exc_info=True)
        self._waiting_since = None if self._acked >= self._sent else time.monotonic()

    def _timer_delay(self) -> float | None:
        """Seconds until the stall or orphan timer is due; ``None`` when neither is armed.

        Reads the timer fields without ``_send_lock``: a stale value only makes the
        flusher wake early and look again.
        """
        skip_due = self._skip_due()
        deadlines = [] if skip_due is None else [skip_due]
        if self._views and not self._auto_ack and self._waiting_since is not None:
            deadlines.append(self._waiting_since + self.stall_timeout)
        if self._orphaned_at is not None and self._orphan_grace is not None and not self._views:
            deadlines.append(self._orphaned_at + self._orphan_grace)
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic())

    def _check_timers(self, now: float) -> tuple[bool, bool]:
        """Apply the stall policy, end a skip that calmed down.

        Returns whether the orphan grace period just ran out, and whether the program
        must be asked to redraw.
        """
        redraw = self._skip_timers(now)
        if (
            self._views
            and not self._auto_ack
            and self._waiting_since is not None
            and now - self._waiting_since >= self.stall_timeout
        ):
            log.debug("no acknowledgement for %.1f s: acknowledging for the views", self.stall_timeout)
            self._auto_ack = True
            self._ack_all()
        if (
            self._orphaned_at is not None
            and self._orphan_grace is not None
            and not self._views
            and now - self._orphaned_at >= self._orphan_grace
        ):
            self._orphaned_at = None
            return True, redraw
        return False, redraw

    # -- the flusher thread ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                # Sleep until output arrives or a timer is due: an idle terminal
                # costs no wake-ups at all.
                while not self._closed and not self._pending:
                    delay = self._timer_delay()
                    if delay == 0.0:
                        break
                    self._wake.wait(delay)
                if self._closed:
                    return
                if self._pending and len(self._pending) < self.max_message:
                    # Gather: wait until FLUSH_INTERVAL after the previous send.
                    delay = self._last_send + self.flush_interval - time.monotonic()
                    if delay > 0:
                        self._wake.wait(delay)
                        if self._closed:
                            return
            self.flush()
            with self._send_lock:
                orphaned, redraw = self._check_timers(time.monotonic())
            if redraw:
                self._redraw()
            if orphaned and self._on_orphaned is not None:
                try:
                    self._on_orphaned()  # closes the widget, and with it this bridge
                except Exception:
                    log.exception("closing an orphaned terminal failed")
