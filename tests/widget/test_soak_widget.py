"""A short soak in a real kernel: 20 terminals streaming to views that acknowledge, then closed.

The kernel's threads and file descriptors must return to where they started
(``benchmarks/soak.py`` is the long version with the same measurements).
"""

from __future__ import annotations

import os
import time

from .frontend import Frontend, new_view_id

TERMINALS = 20
SOAK_SECONDS = 8.0
SETTLE_TIMEOUT = 15.0
STREAM = ["sh", "-c", "while :; do seq 1 400; sleep 0.02; done"]
RSS_SLACK = 40 * 1024 * 1024


def kernel_sample(fe: Frontend, pid: int) -> tuple[int, int, int]:
    threads = fe.eval("len(threading.enumerate())")
    rss = fe.eval("psutil.Process().memory_info().rss")
    return threads, len(os.listdir(f"/proc/{pid}/fd")), rss


def test_twenty_terminals_streaming_then_closed_leave_the_kernel_as_it_was(fe):
    pid = fe.km.provisioner.process.pid
    fe.execute("warm = Terminal('demo', kubeconfig=KUBECONFIG)\n"
               "import time\nwhile warm.status == 'connecting': time.sleep(0.02)\nwarm.close()")
    # pyzmq starts its garbage-collector thread lazily, at the first zero-copy send of a
    # large buffer: start it now, so that the baseline holds it (it lives until exit).
    fe.execute("from zmq.utils.garbage import gc as zmq_gc\nzmq_gc.is_alive() or zmq_gc.start()")
    threads0, fds0, rss0 = kernel_sample(fe, pid)
    fe.execute(f"soak = [Terminal('demo', {STREAM!r}, kubeconfig=KUBECONFIG) for _ in range({TERMINALS})]")
    comms = [fe.terminal_comm(f"soak[{i}]") for i in range(TERMINALS)]
    views = {}
    acked = {}
    for comm in comms:
        views[comm.comm_id] = new_view_id()
        fe.send_custom(comm, {"type": "ready", "view": views[comm.comm_id]})
        acked[comm.comm_id] = 0

    def ack_all() -> None:
        for comm in comms:
            total = len(comm.output())
            if total > acked[comm.comm_id]:
                fe.send_custom(comm, {"type": "ack", "view": views[comm.comm_id],
                                      "bytes": total - acked[comm.comm_id]})
                acked[comm.comm_id] = total

    peak_threads = 0
    deadline = time.monotonic() + SOAK_SECONDS
    while time.monotonic() < deadline:
        fe.pump(0.05)
        ack_all()
        for comm in comms:  # the output is not kept: only its size matters here
            if len(comm.messages) > 200:
                comm.messages[:] = comm.messages[-50:]
                acked[comm.comm_id] = len(comm.output())
    peak_threads = fe.eval("len(threading.enumerate())")
    assert fe.eval("sorted({t.status for t in soak})") == ["connected"]
    assert peak_threads >= threads0 + 2 * TERMINALS
    fe.execute("for t in soak: t.close()\ndel soak")

    settle = time.monotonic() + SETTLE_TIMEOUT
    while True:
        threads, fds, rss = kernel_sample(fe, pid)
        if (threads <= threads0 and fds <= fds0) or time.monotonic() > settle:
            break
        fe.pump(0.1)
    names = " ".join(fe.eval("[t.name for t in threading.enumerate()]"))
    assert threads <= threads0, (threads0, threads, names)
    assert fds <= fds0, (fds0, fds)
    assert rss - rss0 < RSS_SLACK, f"kernel RSS grew by {(rss - rss0) / 1e6:.1f} MB"
