"""A short soak in the suite: 20 sessions streaming at once, then closed; nothing leaks.

The long version with a real kernel is ``benchmarks/soak.py``. Here 20 ``ExecSession``s
with flow control (acknowledging like a view) and short keepalive intervals stream
for :data:`SOAK_SECONDS`; afterwards this process's threads and file descriptors
(the in-process sandbox's included) must return to their starting level.
"""

from __future__ import annotations

import os
import threading
import time

import psutil

from jupyter_k8stty import ExecSession

from .helpers import wait_until

SESSIONS = 20
SOAK_SECONDS = 8.0
#: Seconds threads and fds get to return to the starting level after the close.
SETTLE_TIMEOUT = 10.0
#: RSS may end this much above the start (allocator caches).
RSS_SLACK = 40 * 1024 * 1024
WINDOW = 256 * 1024
STREAM = ["sh", "-c", "while :; do seq 1 400; sleep 0.02; done"]


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def threads() -> int:
    return threading.active_count()


def rss() -> int:
    return psutil.Process().memory_info().rss


def open_session(kubeconfig: str, received: list[int], index: int) -> ExecSession:
    s = ExecSession("demo", STREAM, kubeconfig=kubeconfig, flow_window=WINDOW,
                    keepalive=0.5, keepalive_timeout=5)

    def consume(channel: int, data: bytes) -> None:  # a view that keeps up
        received[index] += len(data)
        s.acknowledge(len(data))

    s.on_output(consume)
    return s


def test_twenty_streaming_sessions_leave_no_thread_fd_or_memory_behind(kubeconfig):
    warm = open_session(kubeconfig, [0], 0).start()
    warm.close()
    assert wait_until(lambda: not [t for t in threading.enumerate() if t.name.startswith("k8stty-exec")])
    threads0, fds0, rss0 = threads(), fds(), rss()

    received = [0] * SESSIONS
    sessions = [open_session(kubeconfig, received, i).start() for i in range(SESSIONS)]
    peak_threads = peak_fds = 0
    try:
        deadline = time.monotonic() + SOAK_SECONDS
        while time.monotonic() < deadline:
            assert all(s.status == "connected" for s in sessions), [s.error for s in sessions if s.error]
            peak_threads, peak_fds = max(peak_threads, threads()), max(peak_fds, fds())
            sessions[0].wait(0.5)
        assert min(received) > 100_000, received
        # Each session: its reader here and its connection in the sandbox (the keepalive
        # thread is one for all sessions; the sandbox's pump threads come and go).
        assert peak_threads >= threads0 + 2 * SESSIONS, (threads0, peak_threads)
    finally:  # a failure above must not leave 20 streams running into the next tests
        for s in sessions:
            s.close()
    assert all(s.status == "closed" for s in sessions)
    back = wait_until(lambda: threads() <= threads0 and fds() <= fds0, SETTLE_TIMEOUT, interval=0.1)
    assert back, (f"threads {threads0} -> {threads()} (peak {peak_threads}), "
                  f"fds {fds0} -> {fds()} (peak {peak_fds}): "
                  f"{sorted(t.name for t in threading.enumerate())}")
    grown = rss() - rss0
    assert grown < RSS_SLACK, f"RSS grew by {grown / 1e6:.1f} MB"
