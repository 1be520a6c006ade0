"""%%k8sexec within bounds (issue 16): deadlines hold under a flood, kernel memory stays flat,
--out keeps at most --max-output, an interrupt does not wait for a pod that does not read.

Real kernels driven over ZMQ; the pods are the sandbox's, run on this machine, so a
script can leave its PID in a file for the test to check that the process ended.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from .helpers import process_alive, wait_until
from .notebook_kernel import Kernel, PeakRss, in_process_shell

MB = 1024 * 1024
#: The bounds the issue promises, in seconds and bytes.
TIMEOUT_SLACK = 1.0
INTERRUPT_BOUND = 1.0
RSS_GROWTH_BOUND = 64 * MB


@pytest.fixture
def kernel(kubeconfig, monkeypatch) -> Iterator[Kernel]:
    monkeypatch.setenv("KUBECONFIG", kubeconfig)
    k = Kernel()
    try:
        k.run("%load_ext jupyter_k8stty")
        k.run("%%k8sexec demo\necho warm\n")  # imports and first connection out of the way
        yield k
    finally:
        k.shutdown()


def timed(kernel: Kernel, code: str, timeout: float = 60.0) -> tuple[str, float]:
    """Run ``code``; return its message id and the seconds the kernel was busy with it."""
    msg_id = kernel.submit(code)
    kernel.pump_until(lambda: kernel.idle(msg_id), timeout=timeout)
    return msg_id, kernel.busy_seconds(msg_id)


def pid_from(path: Path) -> int:
    assert wait_until(lambda: path.exists() and path.read_text().strip()), f"no PID in {path}"
    return int(path.read_text())


def test_timeout_holds_against_a_flood_and_ends_the_pod_command(kernel, tmp_path):
    pidfile = tmp_path / "pid"
    kernel.keep_streams = False
    msg_id, wall = timed(kernel, f"%%k8sexec demo --timeout 2\necho $$ > {pidfile}\n"
                                 "timeout 12 yes flood; echo pod-side-finished\n")
    flooded = kernel.stream_bytes
    print(f"--timeout 2 against a flood: {wall:.2f} s, {flooded / MB:.0f} MiB of stream output")
    assert wall <= 2 + TIMEOUT_SLACK
    assert flooded > 1 * MB  # the flood did reach the cell, throttled
    (line,) = kernel.text(msg_id, "stderr").splitlines()
    assert line.startswith("[k8sexec] timed out after 2 s: closed the session into default/demo; kept ")
    assert line.endswith(" of stdout and 0 B of stderr")
    assert wait_until(lambda: not process_alive(pid_from(pidfile)), timeout=2)


def test_kernel_memory_stays_flat_under_a_flood(kernel):
    kernel.keep_streams = False
    base = kernel.rss()
    with PeakRss(kernel.pid) as peak:
        msg_id, wall = timed(kernel, "%%k8sexec demo\ntimeout 8 yes\n")
    growth = peak.peak - base
    print(f"timeout 8 yes: {wall:.2f} s, {kernel.stream_bytes / MB:.0f} MiB streamed, kernel RSS "
          f"{base / MB:.0f} MiB + {growth / MB:.1f} MiB at peak")
    assert kernel.stream_bytes > 32 * MB
    assert growth < RSS_GROWTH_BOUND
    assert wall < 8 + 5  # throttled, not buffered: the cell ends soon after the pod command
    assert kernel.text(msg_id, "stderr") == "[k8sexec] exited with code 124\n"


def test_out_keeps_at_most_max_output_and_says_so(kernel):
    msg_id = kernel.run("%%k8sexec demo --out v --err e --max-output 1000\n"
                        "head -c 5000 /dev/zero | tr '\\0' x; echo small >&2\n")
    assert kernel.text(msg_id) == ""
    assert kernel.text(msg_id, "stderr") == (
        "[k8sexec] --out v kept the first 1000 B of stdout; 3.9 KiB more dropped "
        "(raise --max-output to keep more)\n")
    check = kernel.run("print(len(v), set(v), repr(e))")
    assert kernel.text(check) == "1000 {'x'} 'small\\n'\n"


def test_out_under_a_flood_stays_bounded(kernel):
    base = kernel.rss()
    with PeakRss(kernel.pid) as peak:
        msg_id, wall = timed(kernel, "%%k8sexec demo --out v --max-output 4000000\ntimeout 4 yes\n")
    assert "--out v kept the first 3.8 MiB of stdout;" in kernel.text(msg_id, "stderr")
    assert peak.peak - base < RSS_GROWTH_BOUND
    check = kernel.run("print(len(v))")
    assert kernel.text(check) == "4000000\n"


def interrupt_a_pod_that_does_not_read(kernel: Kernel, pidfile: Path) -> tuple[str, int, float]:
    """Start a script whose pod never reads its stdin, interrupt it once the feeder is blocked.

    Returns the message id, the pod process's PID and the seconds the interrupt took.
    """
    # Far more than the pipe, the sandbox and TCP hold: the writer blocks. Made in the kernel
    # and passed to run_cell_magic, as in the timeout test: IPython takes half a second to
    # parse a 16 MB cell for the interrupt's traceback, which is not the interrupt's time.
    line = f"demo --shell \"sh -c 'echo $$ > {pidfile}; echo reading-nothing; exec sleep 30'\""
    kernel.run(f"body = '#' * {16 * MB}\nline = {line!r}")
    msg_id = kernel.submit("get_ipython().run_cell_magic('k8sexec', line, body)")
    kernel.pump_until(lambda: "reading-nothing" in kernel.text(msg_id), timeout=30)
    pid = pid_from(pidfile)
    time.sleep(0.5)  # the stdin feeder is now blocked on a full socket
    interrupted = time.monotonic()
    kernel.km.interrupt_kernel()
    kernel.pump_until(lambda: kernel.idle(msg_id), timeout=15)
    return msg_id, pid, kernel.idle_at(msg_id) - interrupted


def test_interrupt_does_not_wait_for_a_pod_that_does_not_read(kernel, tmp_path):
    msg_id, _, took = interrupt_a_pod_that_does_not_read(kernel, tmp_path / "pid")
    print(f"interrupt with a blocked stdin writer: {took:.2f} s")
    assert took < INTERRUPT_BOUND
    assert kernel.text(msg_id, "stderr") == "[k8sexec] interrupted: closed the session into default/demo\n"
    threads = kernel.run("import threading\n"
                         "print([t.name for t in threading.enumerate() if t.name.startswith('k8stty-')])")
    assert kernel.text(threads) == "[]\n"


def test_interrupt_ends_a_pod_process_that_does_not_read(kernel, tmp_path):
    _, pid, _ = interrupt_a_pod_that_does_not_read(kernel, tmp_path / "pid")
    assert wait_until(lambda: not process_alive(pid), timeout=2)


def test_timeout_does_not_wait_for_a_pod_that_does_not_read_and_ends_it(kernel, tmp_path):
    pidfile = tmp_path / "pid"
    line = f"demo --timeout 2 --shell \"sh -c 'echo $$ > {pidfile}; exec sleep 30'\""
    # Timed inside the kernel: parsing a 16 MB cell is IPython's time, not the deadline's.
    kernel.run(f"body = '#' * {16 * MB}\nline = {line!r}")
    msg_id = kernel.run("import time\nstarted = time.monotonic()\n"
                        "get_ipython().run_cell_magic('k8sexec', line, body)\n"
                        "print(f'{time.monotonic() - started:.3f}')")
    wall = float(kernel.text(msg_id))
    print(f"--timeout 2 with a blocked stdin writer: {wall:.2f} s")
    assert wall <= 2 + TIMEOUT_SLACK
    assert "[k8sexec] timed out after 2 s" in kernel.text(msg_id, "stderr")
    pid = pid_from(pidfile)
    assert wait_until(lambda: not process_alive(pid), timeout=2), "the pod's process outlived the deadline"


def test_fan_out_timeout_holds_against_a_flood(kernel):
    kernel.keep_streams = False
    base = kernel.rss()
    with PeakRss(kernel.pid) as peak:
        msg_id, wall = timed(kernel, "%%k8sexec deploy/web --timeout 2 --max-output 1000000\n"
                                     "timeout 12 yes flood\n")
    growth = peak.peak - base
    print(f"fan-out --timeout 2 against a flood: {wall:.2f} s, {kernel.stream_bytes / MB:.0f} MiB, "
          f"kernel RSS + {growth / MB:.1f} MiB")
    assert wall <= 2 + TIMEOUT_SLACK
    assert growth < RSS_GROWTH_BOUND
    err = kernel.text(msg_id, "stderr")
    assert "[k8sexec] 2 pods: 0 exited 0, 2 failed: " in err and err.count("(timed out after 2 s)") == 2
    assert "output kept in the results cut at 976.6 KiB per stream on 2 pod(s)" in err


# -- connecting counts against the deadline --------------------------------------------------


@pytest.fixture
def silent_kubeconfig(kubeconfig, tmp_path) -> Iterator[str]:
    """A kubeconfig whose server accepts TCP connections and then never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, name="test-silent-server", daemon=True)
    thread.start()
    config = yaml.safe_load(Path(kubeconfig).read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{listener.getsockname()[1]}"
    path = tmp_path / "silent-kubeconfig"
    path.write_text(yaml.safe_dump(config))
    try:
        yield str(path)
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


def test_timeout_covers_a_server_that_never_answers(silent_kubeconfig, capsys):
    ip = in_process_shell()
    started = time.monotonic()
    ip.run_cell_magic("k8sexec", f"demo --kubeconfig {silent_kubeconfig} --timeout 2", "echo never\n")
    took = time.monotonic() - started
    err = capsys.readouterr().err
    with capsys.disabled():
        print(f"--timeout 2 against a server that never answers: {took:.2f} s")
    assert took <= 2 + TIMEOUT_SLACK, took
    assert err.startswith("[k8sexec] timed out after 2 s before the command started (")
    assert err.count("\n") == 1
