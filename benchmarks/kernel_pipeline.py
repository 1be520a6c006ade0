"""The terminal widget in a real kernel: throughput, idle cost, memory and start time.

Usage::

    python benchmarks/kernel_pipeline.py [--mb 200] [--gb 1] [--idle-seconds 30] [--quick]

A real ipykernel runs the widget; this process plays the browser with
``jupyter_client``: it attaches a view (``ready``) and acknowledges every ``output``
message as it arrives, as xterm.js does once it has parsed the bytes. The sandbox
runs in its own process.

* pipeline: bytes/s from the pod's exec websocket to comm messages received here,
  against raw frames read off the client's websocket (same command, same TTY).
* idle: kernel CPU over N seconds with 10 idle terminals open (and with none).
* memory: kernel RSS growth after streaming 1 GB through one terminal.
* start: ``%k8sexec demo`` in a warm kernel until the shell prompt arrives.
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import sys
import time
import uuid

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from kubernetes import client, config  # noqa: E402
from kubernetes.stream import stream  # noqa: E402
from sandbox_process import sandbox_process  # noqa: E402

from tests.widget.frontend import Frontend  # noqa: E402

MB = 1024 * 1024


#: The view acknowledges once this many parsed bytes have gathered, or when it has
#: caught up with everything it received (js/src/flow.js does the same).
ACK_CHUNK = 512 * 1024


class Browser:
    """Reads the kernel's iopub stream and acknowledges output like one xterm.js view."""

    def __init__(self, fe: Frontend, ack_chunk: int = ACK_CHUNK):
        self.fe = fe
        self.view = f"bench-{uuid.uuid4().hex[:8]}"
        self.ack_chunk = ack_chunk

    def comm_of(self, variable: str) -> str:
        return self.fe.eval(f"{variable}.comm.comm_id")

    def attach(self, comm_id: str) -> None:
        self._send(comm_id, {"type": "ready", "view": self.view})

    def _send(self, comm_id: str, content: dict, buffers: list[bytes] | None = None) -> None:
        msg = self.fe.kc.session.msg(
            "comm_msg", {"comm_id": comm_id, "data": {"method": "custom", "content": content}}
        )
        self.fe.kc.session.send(self.fe.kc.shell_channel.socket, msg, buffers=buffers or [])

    def type(self, comm_id: str, text: str) -> None:
        self._send(comm_id, {"type": "input"}, [text.encode()])

    def ack(self, comm_id: str, nbytes: int) -> None:
        """Tell the terminal this view has parsed ``nbytes`` more output bytes."""
        self._send(comm_id, {"type": "ack", "view": self.view, "bytes": nbytes})

    def stream(self, comm_id: str, *, until_bytes: int | None = None, until: bytes | None = None,
               timeout: float = 600.0) -> tuple[int, float | None, float]:
        """Receive output (acknowledging it); return (bytes, first-byte time, end time)."""
        received = 0
        unacked = 0
        first = None
        tail = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.fe.kc.get_iopub_msg(timeout=0 if unacked else 1)
            except queue.Empty:
                if unacked:  # caught up with everything received: acknowledge at once
                    self._send(comm_id, {"type": "ack", "view": self.view, "bytes": unacked})
                    unacked = 0
                continue
            content = msg["content"]
            if msg["header"]["msg_type"] != "comm_msg" or content.get("comm_id") != comm_id:
                continue
            data = content["data"]
            kind = data["content"].get("type") if data.get("method") == "custom" else None
            if kind not in ("output", "replay"):
                continue
            # What arrived before this view attached (a fast prompt) comes as its replay:
            # searched for ``until``, not counted or acknowledged as output.
            if kind == "output":
                nbytes = sum(len(b) for b in msg["buffers"])
                if first is None:
                    first = time.perf_counter()
                received += nbytes
                unacked += nbytes
                if unacked >= self.ack_chunk:
                    self._send(comm_id, {"type": "ack", "view": self.view, "bytes": unacked})
                    unacked = 0
            if until is not None:
                tail = (tail + b"".join(bytes(b) for b in msg["buffers"]))[-4096:]
                if until in tail:
                    return received, first, time.perf_counter()
            if until_bytes is not None and received >= until_bytes:
                return received, first, time.perf_counter()
        raise RuntimeError(f"timed out after {received} bytes")


def raw_frames_tty(kubeconfig: str, nbytes: int) -> float:
    """MB/s of raw frames off the websocket for the same TTY command."""
    api = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))
    resp = stream(api.connect_get_namespaced_pod_exec, "demo", "default",
                  command=["head", "-c", str(nbytes), "/dev/zero"], stderr=False, stdin=True,
                  stdout=True, tty=True, _preload_content=False, binary=True)
    ws = resp.sock
    received = 0
    first = None
    while True:
        opcode, frame = ws.recv_data_frame(True)
        if opcode == 0x8:
            break
        data = frame.data
        if data and data[0] == 1 and len(data) > 1:
            if first is None:
                first = time.perf_counter()
            received += len(data) - 1
        elif data and data[0] == 3:
            break
    end = time.perf_counter()
    ws.close()
    assert received == nbytes, (received, nbytes)
    return nbytes / MB / (end - first)


def kernel_pipeline(fe: Frontend, browser: Browser, nbytes: int) -> float:
    """MB/s from the websocket to comm messages received here, with a view acking."""
    fe.execute(f"p = Terminal('demo', ['sh', '-c', 'sleep 1; head -c {nbytes} /dev/zero'])")
    comm_id = browser.comm_of("p")
    browser.attach(comm_id)
    received, first, end = browser.stream(comm_id, until_bytes=nbytes)
    fe.execute("p.close()")
    return received / MB / (end - first)


def kernel_cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def idle_cost(fe: Frontend, pid: int, seconds: float) -> tuple[float, float]:
    """Percent of one core the kernel uses idle, without and with 10 idle terminals."""
    time.sleep(2)
    before = kernel_cpu(pid)
    time.sleep(seconds)
    baseline = (kernel_cpu(pid) - before) / seconds * 100
    fe.execute("idle = [Terminal('demo') for _ in range(10)]")
    fe.execute("import time\nwhile any(t.status != 'connected' for t in idle): time.sleep(0.05)")
    time.sleep(3)  # shells print their prompts, then all is quiet
    before = kernel_cpu(pid)
    time.sleep(seconds)
    with_terminals = (kernel_cpu(pid) - before) / seconds * 100
    fe.execute("for t in idle: t.close()")
    return baseline, with_terminals


def memory_growth(fe: Frontend, browser: Browser, pid: int, nbytes: int) -> tuple[float, float]:
    """Kernel RSS growth (MB) after streaming ``nbytes`` through one terminal, and MB/s."""
    fe.execute("warm = Terminal('demo', ['sh', '-c', 'head -c 10000000 /dev/zero'])")
    comm_id = browser.comm_of("warm")
    browser.stream(comm_id, until_bytes=10_000_000)
    fe.execute("warm.close()")
    rss_before = psutil.Process(pid).memory_info().rss
    fe.execute(f"big = Terminal('demo', ['sh', '-c', 'sleep 1; head -c {nbytes} /dev/zero'])")
    comm_id = browser.comm_of("big")
    browser.attach(comm_id)
    received, first, end = browser.stream(comm_id, until_bytes=nbytes, timeout=1200)
    rss_after = psutil.Process(pid).memory_info().rss
    fe.execute("big.close()")
    return (rss_after - rss_before) / MB, received / MB / (end - first)


def start_time(fe: Frontend, browser: Browser, runs: int) -> list[float]:
    """Seconds from executing ``%k8sexec demo`` to the shell prompt arriving here."""
    fe.execute("%load_ext jupyter_k8stty")
    fe.execute("warm = %k8sexec demo\nwarm.close()")
    results = []
    for i in range(runs):
        started = time.perf_counter()
        fe.execute(f"s{i} = %k8sexec demo")
        comm_id = browser.comm_of(f"s{i}")
        browser.attach(comm_id)
        browser.stream(comm_id, until=b"# ", timeout=30)
        results.append(time.perf_counter() - started)
        fe.execute(f"s{i}.close()")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="MB for the pipeline runs (default 200)")
    parser.add_argument("--gb", type=float, default=1.0, help="GB for the memory run (default 1)")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small sizes and 10 s idle, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.mb, args.gb, args.idle_seconds, args.repeat = 50, 0.2, 10.0, 1
    with sandbox_process() as kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig
        fe = Frontend()
        try:
            pid = fe.km.provisioner.process.pid
            fe.execute(f"import os; os.environ['KUBECONFIG'] = {kubeconfig!r}\n"
                       "from jupyter_k8stty import Terminal")
            browser = Browser(fe)
            nbytes = args.mb * MB
            ours, raw = [], []
            for _ in range(args.repeat):  # interleaved, so machine load hits both alike
                raw.append(raw_frames_tty(kubeconfig, nbytes))
                ours.append(kernel_pipeline(fe, browser, nbytes))
                print(f"  raw {raw[-1]:.1f} MB/s, pipeline {ours[-1]:.1f} MB/s", file=sys.stderr)
            starts = start_time(fe, browser, 5)
            baseline, idle = idle_cost(fe, pid, args.idle_seconds)
            grown, rate = memory_growth(fe, browser, pid, int(args.gb * 1024 * MB))
        finally:
            fe.shutdown()
    r, o = statistics.median(raw), statistics.median(ours)
    print(f"\nkernel pipeline ({args.mb} MB through a TTY, median of {args.repeat}, a view acking)")
    print(f"  raw frames off the websocket   {r:8.1f} MB/s")
    print(f"  websocket -> comm -> client    {o:8.1f} MB/s   ratio {o / r:.2f}  (target >= 0.5)")
    print(f"\nstart: %k8sexec demo to prompt, warm kernel: median {statistics.median(starts) * 1000:.0f} ms, "
          f"max {max(starts) * 1000:.0f} ms  (target < 1000 ms)")
    print(f"\nidle kernel CPU over {args.idle_seconds:g} s: {baseline:.2f}% of a core with no terminal, "
          f"{idle:.2f}% with 10 idle terminals  (target < 1%)")
    print(f"\nmemory: kernel RSS grew {grown:.1f} MB after {args.gb:g} GB through one terminal "
          f"({rate:.0f} MB/s)  (target < 30 MB)")


if __name__ == "__main__":
    main()
