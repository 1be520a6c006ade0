"""Keepalive for exec streams: ping when quiet, give up when the peer stays silent.

A dead peer (a dropped NAT mapping, a stopped API server) never closes the TCP
connection, so a reader blocked in ``recv`` would wait forever. Each watched stream
gets a websocket ping after ``interval`` seconds of silence and is declared dead when
no frame at all arrives within ``timeout`` seconds of the ping.

One daemon thread, ``k8stty-keepalive``, watches every stream of the process (a
fan-out over hundreds of pods costs one thread, not one per session); it starts with
the first watch and ends when the last one is cancelled.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field

log = logging.getLogger("jupyter_k8stty")

__all__ = ["Keepalive", "watcher_thread"]


@dataclass(eq=False)  # watches are told apart by identity
class Keepalive:
    """The keepalive watch of one stream; :meth:`start` registers it with the shared watcher.

    Args:
        name: the stream's name, for thread names and messages.
        interval: seconds of silence before a ping.
        timeout: seconds without any frame after a ping before ``fail`` is called.
        done: set when the stream has ended; the watch then ends.
        last_frame: returns the ``time.monotonic()`` of the last frame received.
        paused: returns whether the reader is paused on purpose (flow control): silence
            then is ours, not the peer's.
        ping: sends one ping; may block (behind a stuck stdin write), so it runs on a
            short-lived thread of its own and the watcher keeps the time.
        fail: called once with a one-line reason when the peer is dead.
    """

    name: str
    _: KW_ONLY
    interval: float
    timeout: float
    done: threading.Event
    last_frame: Callable[[], float]
    paused: Callable[[], bool]
    ping: Callable[[], None]
    fail: Callable[[str], None]
    _pinged_at: float | None = field(default=None, init=False)
    _pinger: threading.Thread | None = field(default=None, init=False)
    _cancelled: bool = field(default=False, init=False)

    @property
    def watched(self) -> bool:
        """Whether the shared watcher still watches this stream."""
        return _WATCHER.watches(self)

    @property
    def period(self) -> float:
        """Seconds between two checks of this stream."""
        return min(self.interval, self.timeout) / 2

    def start(self) -> Keepalive:
        """Register with the shared watcher thread (started if needed); returns ``self``."""
        _WATCHER.add(self)
        return self

    def cancel(self) -> None:
        """Stop watching (the stream has ended); the watcher thread ends with its last watch."""
        self._cancelled = True
        _WATCHER.remove(self)

    def check(self, now: float) -> bool:
        """Ping or give up as due at ``now``; return whether to keep watching."""
        if self._cancelled or self.done.is_set():
            return False
        if self.paused():
            self._pinged_at = None
            return True
        pinged_at = self._pinged_at
        if pinged_at is not None and self.last_frame() < pinged_at:
            if now - pinged_at >= self.timeout:
                log.warning("no answer from %s for %.0f s after a ping", self.name, now - pinged_at)
                self.fail(f"the connection to {self.name} is dead: no answer to a keepalive ping "
                           f"within {self.timeout:g} s")
                return False
            return True
        if now - self.last_frame() >= self.interval:
            # The deadline runs from the attempt: closing the socket releases a stuck ping.
            self._pinged_at = now
            if self._pinger is None or not self._pinger.is_alive():
                self._pinger = threading.Thread(target=self.ping, name=f"k8stty-ping-{self.name}",
                                                daemon=True)
                self._pinger.start()
        else:
            self._pinged_at = None
        return True


class _Watcher:
    """The one thread that checks every registered :class:`Keepalive` when it is due."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: dict[Keepalive, float] = {}
        self.thread: threading.Thread | None = None

    def watches(self, keepalive: Keepalive) -> bool:
        with self._cond:
            return keepalive in self._due

    def add(self, keepalive: Keepalive) -> None:
        with self._cond:
            self._due[keepalive] = time.monotonic() + keepalive.period
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, name="k8stty-keepalive", daemon=True)
                self.thread.start()
            self._cond.notify_all()

    def remove(self, keepalive: Keepalive) -> None:
        with self._cond:
            if self._due.pop(keepalive, None) is not None:
                self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._due:
                    self.thread = None
                    return
                now = time.monotonic()
                due = [k for k, at in self._due.items() if at <= now]
                if not due:
                    self._cond.wait(min(self._due.values()) - now)
                    continue
                for keepalive in due:
                    self._due[keepalive] = now + keepalive.period
            for keepalive in due:  # outside the lock: fail() may close sockets
                try:
                    keep = keepalive.check(now)
                except Exception:  # one stream's surprise must not stop the others' keepalive
                    log.exception("keepalive check failed for %s", keepalive.name)
                    keep = False
                if not keep:
                    self.remove(keepalive)


_WATCHER = _Watcher()


def watcher_thread() -> threading.Thread | None:
    """Return the shared keepalive thread, or ``None`` while no stream is watched."""
    return _WATCHER.thread
