"""Real kernels for the magic tests: notebooks run by nbclient, a bare ZMQ kernel client, and
the in-process IPython shell.

The kernels find the sandbox through ``KUBECONFIG`` (set it before starting them).
"""

from __future__ import annotations

import queue
import threading
import time

import IPython
import nbformat
import psutil
import zmq
from IPython.testing.globalipapp import start_ipython
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

#: Seconds a notebook cell may run before nbclient gives up.
CELL_TIMEOUT = 60


def in_process_shell():
    """The test session's one in-process IPython shell, with the extension loaded.

    ``start_ipython`` starts it on the first call only (later calls return ``None``).
    """
    shell = start_ipython() or IPython.get_ipython()
    shell.run_line_magic("load_ext", "jupyter_k8stty")  # loading twice is a no-op
    return shell


def notebook(*cells: str | tuple[str, list[str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for cell in cells:
        source, tags = cell if isinstance(cell, tuple) else (cell, [])
        nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": tags}))
    return nb


def execute_and_save(nb, path) -> nbformat.NotebookNode:
    """Run ``nb`` in a fresh kernel, save it and return what was saved, read back from disk."""
    try:
        NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3").execute()
    finally:
        nbformat.write(nb, str(path))
    saved = nbformat.read(str(path), as_version=4)
    nbformat.validate(saved)
    return saved


def streams(cell, name: str) -> str:
    return "".join(o["text"] for o in cell["outputs"] if o["output_type"] == "stream" and o["name"] == name)


def errors(cell) -> list[dict]:
    return [o for o in cell["outputs"] if o["output_type"] == "error"]


class Kernel:
    """A bare kernel client that records iopub messages with their arrival times.

    Stream text is counted (``stream_bytes``); stdout is not kept once ``keep_streams``
    is off (a flood would otherwise fill the test process).
    """

    def __init__(self) -> None:
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel()
        # No receive high-water mark on IOPub: a flood outpaces this client's Python, and
        # ZeroMQ drops what a full PUB pipe cannot take, the final idle status included.
        # Unbounded, ZeroMQ's I/O thread keeps every message until this client reads it.
        self._context = zmq.Context()
        self._context.setsockopt(zmq.RCVHWM, 0)
        self.kc = self.km.client(context=self._context)
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=60)
        except RuntimeError:
            self.shutdown()
            raise
        self.messages: list[tuple[float, dict]] = []
        self.keep_streams = True
        self.stream_bytes = 0
        self.idle_times: dict[str, float] = {}

    @property
    def pid(self) -> int:
        return self.km.provisioner.pid

    def rss(self) -> int:
        return psutil.Process(self.pid).memory_info().rss

    def submit(self, code: str) -> str:
        return self.kc.execute(code, allow_stdin=False)

    def pump_until(self, predicate, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while True:
            found = predicate()
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; messages: {[m for _, m in self.messages][-10:]}")
            try:
                msg = self.kc.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                continue
            now = time.monotonic()
            kind = msg["header"]["msg_type"]
            if kind == "stream":
                self.stream_bytes += len(msg["content"]["text"])
                if not self.keep_streams and msg["content"]["name"] == "stdout":
                    continue  # counted, not kept
            if kind == "status" and msg["content"].get("execution_state") == "idle":
                self.idle_times.setdefault(msg["parent_header"].get("msg_id"), now)
            self.messages.append((now, msg))

    def of(self, msg_id: str, kind: str | None = None) -> list[tuple[float, dict]]:
        return [(t, m) for t, m in self.messages
                if m["parent_header"].get("msg_id") == msg_id
                and (kind is None or m["header"]["msg_type"] == kind)]

    def idle(self, msg_id: str) -> bool:
        return msg_id in self.idle_times

    def idle_at(self, msg_id: str) -> float:
        return self.idle_times[msg_id]

    def busy_seconds(self, msg_id: str) -> float:
        """Seconds the kernel was busy with ``msg_id``, by its own clock (its busy and idle
        statuses' header dates): what a user waits for, not how far behind this client is."""
        states = {m["content"]["execution_state"]: m["header"]["date"]
                  for _, m in self.of(msg_id, "status")}
        return (states["idle"] - states["busy"]).total_seconds()

    def text(self, msg_id: str, name: str = "stdout") -> str:
        return "".join(m["content"]["text"] for _, m in self.of(msg_id, "stream")
                       if m["content"]["name"] == name)

    def run(self, code: str, timeout: float = 30.0) -> str:
        msg_id = self.submit(code)
        self.pump_until(lambda: self.idle(msg_id), timeout=timeout)
        return msg_id

    def shutdown(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
        self._context.destroy(linger=0)


class PeakRss:
    """Samples a process's resident memory on a thread; ``peak`` is the largest seen."""

    def __init__(self, pid: int, interval: float = 0.05):
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="test-rss-sampler", daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
