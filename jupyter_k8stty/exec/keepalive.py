"""Keepalive for an exec stream: ping when quiet, give up when the peer stays silent.

A dead peer (a dropped NAT mapping, a stopped API server) never closes the TCP
connection, so a reader blocked in ``recv`` would wait forever. The keepalive thread
sends a websocket ping after ``interval`` seconds of silence and declares the
connection dead when no frame at all arrives within ``timeout`` seconds of the ping.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("jupyter_k8stty")

__all__ = ["Keepalive"]


class Keepalive:
    """Watches one stream from a daemon thread named ``k8stty-keepalive-NAME``.

    Args:
        name: the stream's name, for thread names and messages.
        interval: seconds of silence before a ping.
        timeout: seconds without any frame after a ping before ``fail`` is called.
        done: set when the stream has ended; the thread then stops.
        last_frame: returns the ``time.monotonic()`` of the last frame received.
        paused: returns whether the reader is paused on purpose (flow control): silence
            then is ours, not the peer's.
        ping: sends one ping; may block (behind a stuck stdin write), so it runs on a
            short-lived thread of its own and this one keeps the time.
        fail: called once with a one-line reason when the peer is dead.
    """

    def __init__(self, name: str, *, interval: float, timeout: float, done: threading.Event,
                 last_frame: Callable[[], float], paused: Callable[[], bool],
                 ping: Callable[[], None], fail: Callable[[str], None]):
        self.name = name
        self.interval = interval
        self.timeout = timeout
        self._done = done
        self._last_frame = last_frame
        self._paused = paused
        self._ping = ping
        self._fail = fail
        #: The watching thread.
        self.thread = threading.Thread(target=self._loop, name=f"k8stty-keepalive-{name}", daemon=True)

    def start(self) -> Keepalive:
        """Start the watching thread; returns ``self``."""
        self.thread.start()
        return self

    def _loop(self) -> None:
        pinged_at: float | None = None
        pinger: threading.Thread | None = None
        while not self._done.wait(min(self.interval, self.timeout) / 2):
            if self._paused():
                pinged_at = None
                continue
            now = time.monotonic()
            if pinged_at is not None and self._last_frame() < pinged_at:
                if now - pinged_at >= self.timeout:
                    log.warning("no answer from %s for %.0f s after a ping", self.name, now - pinged_at)
                    self._fail(
                        f"the connection to {self.name} is dead: no answer to a keepalive ping "
                        f"within {self.timeout:g} s"
                    )
                    return
                continue
            if now - self._last_frame() >= self.interval:
                # The deadline runs from the attempt: closing the socket releases a stuck ping.
                pinged_at = time.monotonic()
                if pinger is None or not pinger.is_alive():
                    pinger = threading.Thread(target=self._ping, name=f"k8stty-ping-{self.name}",
                                              daemon=True)
                    pinger.start()
            else:
                pinged_at = None
