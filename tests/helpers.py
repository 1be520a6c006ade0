"""Small helpers shared by the integration tests."""

from __future__ import annotations

import os
import re
import threading
import time

#: Seconds any single interactive expectation may take on the sandbox.
EXPECT_TIMEOUT = 10.0


class OutputCollector:
    """Collects a session's output and waits for patterns in it."""

    def __init__(self) -> None:
        self.chunks: list[tuple[int, bytes]] = []
        self._cond = threading.Condition()

    def __call__(self, channel: int, data: bytes) -> None:
        with self._cond:
            self.chunks.append((channel, data))
            self._cond.notify_all()

    def data(self, channel: int | None = None) -> bytes:
        with self._cond:
            return b"".join(d for c, d in self.chunks if channel is None or c == channel)

    def expect(self, pattern: bytes, timeout: float = EXPECT_TIMEOUT) -> re.Match:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        with self._cond:
            while True:
                match = regex.search(b"".join(d for _, d in self.chunks))
                if match:
                    return match
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{pattern!r} not seen within {timeout} s; got {self.data()[-400:]!r}"
                    )
                self._cond.wait(left)


def live_threads(prefix: str) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix) and t.is_alive()]


def wait_until(predicate, timeout: float = EXPECT_TIMEOUT, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            # The state follows the command name, which may itself contain spaces.
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
