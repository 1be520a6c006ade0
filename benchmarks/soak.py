"""Soak: many terminals streaming at once in a real kernel, then closed: does anything leak.

Usage::

    python benchmarks/soak.py [--minutes 3] [--terminals 20] [--sample-seconds 30]

A real ipykernel runs the widgets; this process plays the browser with
``kernel_pipeline.Browser`` (one view per terminal, acknowledging output as xterm.js
does). Each terminal's pod prints a few KB every 20 ms for the whole run. The kernel's
thread count (``threading.enumerate()``), open file descriptors (``/proc/PID/fd``) and
RSS are reported before, during (peak) and after; "after" waits up to
``--settle-seconds`` for them to return to the starting level.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from kernel_pipeline import ACK_CHUNK, Browser  # noqa: E402
from sandbox_process import sandbox_process  # noqa: E402

from tests.widget.frontend import Frontend  # noqa: E402

MB = 1024 * 1024
#: The pod side of each terminal: steady output, about 100 KB/s per terminal.
STREAM_COMMAND = ["sh", "-c", "while :; do seq 1 400; sleep 0.02; done"]
#: RSS may end this much above the start (allocator caches, imported modules).
RSS_SLACK = 30 * MB


@dataclass
class Sample:
    threads: int
    k8stty_threads: int
    fds: int
    rss: int

    def row(self, label: str) -> str:
        return (f"  {label:<8} threads {self.threads:4d} (k8stty {self.k8stty_threads:3d})   "
                f"fds {self.fds:5d}   RSS {self.rss / MB:7.1f} MB")


def sample(fe: Frontend, pid: int) -> Sample:
    threads, ours = fe.eval(
        "(lambda ts: (len(ts), sum(t.name.startswith('k8stty-') for t in ts)))"
        "(__import__('threading').enumerate())")
    return Sample(threads, ours, len(os.listdir(f"/proc/{pid}/fd")),
                  psutil.Process(pid).memory_info().rss)


def stream_all(fe: Frontend, browser: Browser, comms: list[str], seconds: float,
               on_tick=None, tick: float = 30.0) -> dict[str, int]:
    """Receive and acknowledge every terminal's output for ``seconds``; bytes per comm.

    Messages are read through ``fe.pump`` (``fe.eval`` pumps too), then forgotten.
    """
    received = dict.fromkeys(comms, 0)
    unacked = dict.fromkeys(comms, 0)
    end = time.monotonic() + seconds
    next_tick = time.monotonic() + tick
    while time.monotonic() < end:
        if on_tick is not None and time.monotonic() >= next_tick:
            on_tick()
            next_tick += tick
        got = fe.pump(0.05)
        for comm_id in comms:
            comm = fe.comms.get(comm_id)
            if comm is None:
                continue
            messages, comm.messages = comm.messages, []
            for message in messages:
                if message.custom and message.custom.get("type") == "output":
                    nbytes = sum(len(b) for b in message.buffers)
                    received[comm_id] += nbytes
                    unacked[comm_id] += nbytes
            # Acknowledge in chunks, and everything once caught up, as xterm.js does.
            if unacked[comm_id] >= ACK_CHUNK or (unacked[comm_id] and not got):
                browser.ack(comm_id, unacked[comm_id])
                unacked[comm_id] = 0
    return received


def settle(fe: Frontend, pid: int, start: Sample, timeout: float) -> tuple[Sample, bool]:
    """Wait until threads and fds are back at the start level; return the last sample."""
    deadline = time.monotonic() + timeout
    while True:
        fe.pump(0.05)
        now = sample(fe, pid)
        back = (now.threads <= start.threads and now.fds <= start.fds
                and now.rss <= start.rss + RSS_SLACK)
        if back or time.monotonic() >= deadline:
            return now, back
        time.sleep(0.2)


def soak(fe: Frontend, pid: int, terminals: int, seconds: float, sample_every: float,
         settle_seconds: float) -> bool:
    browser = Browser(fe)
    fe.execute("from jupyter_k8stty import Terminal\n"
               "warm = Terminal('demo')\n"
               "import time\nwhile warm.status == 'connecting': time.sleep(0.02)\n"
               "warm.close()")
    start, _ = settle(fe, pid, sample(fe, pid), 2.0)
    fe.execute(f"soak = [Terminal('demo', {STREAM_COMMAND!r}) for _ in range({terminals})]")
    comms = [fe.eval(f"soak[{i}].comm.comm_id") for i in range(terminals)]
    for comm_id in comms:
        browser.attach(comm_id)
    samples: list[Sample] = [sample(fe, pid)]
    started = time.monotonic()
    received = stream_all(fe, browser, comms, seconds,
                          on_tick=lambda: samples.append(sample(fe, pid)), tick=sample_every)
    elapsed = time.monotonic() - started
    samples.append(sample(fe, pid))
    statuses = fe.eval("sorted({t.status for t in soak})")
    fe.execute("for t in soak: t.close()\ndel soak")
    after, back = settle(fe, pid, start, settle_seconds)

    total = sum(received.values())
    peak = Sample(*(max(getattr(s, f) for s in samples) for f in ("threads", "k8stty_threads", "fds", "rss")))
    print(f"\nsoak: {terminals} terminals streaming for {elapsed / 60:.1f} min, then closed")
    print(f"  output received and acknowledged: {total / MB:.0f} MB "
          f"({total / MB / elapsed:.1f} MB/s in all; slowest terminal "
          f"{min(received.values()) / MB:.1f} MB, fastest {max(received.values()) / MB:.1f} MB)")
    print(f"  session states during the run: {statuses}")
    print(start.row("before"))
    print(peak.row("peak"))
    print(after.row("after"))
    verdict = "returned to the starting level" if back else "DID NOT return to the starting level"
    print(f"  threads/fds/RSS {verdict} (RSS slack {RSS_SLACK / MB:.0f} MB, "
          f"RSS {(after.rss - start.rss) / MB:+.1f} MB)")
    return back and statuses == ["connected"] and min(received.values()) > 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="streaming time (default 3)")
    parser.add_argument("--terminals", type=int, default=20, help="terminals at once (default 20)")
    parser.add_argument("--sample-seconds", type=float, default=30.0,
                        help="how often to sample the kernel during the run (default 30)")
    parser.add_argument("--settle-seconds", type=float, default=15.0,
                        help="how long the kernel gets to return to its start level (default 15)")
    args = parser.parse_args()
    with sandbox_process() as kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig
        fe = Frontend()
        try:
            pid = fe.km.provisioner.process.pid
            fe.execute(f"import os; os.environ['KUBECONFIG'] = {kubeconfig!r}")
            ok = soak(fe, pid, args.terminals, args.minutes * 60, args.sample_seconds,
                      args.settle_seconds)
        finally:
            fe.shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
