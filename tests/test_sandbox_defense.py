"""The sandbox defends itself: bounded bodies, malformed headers, and nothing outliving SIGKILL.

The sandbox runs as its own process here (``python -m jupyter_k8stty.cli sandbox``), so
its memory can be measured and it can be killed with SIGKILL.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from jupyter_k8stty.sandbox.testing import collect, open_exec

READY_TIMEOUT = 30.0
ANSWER_BOUND = 1.0          # every refusal arrives within this many seconds
MEMORY_BOUND = 20 * 2**20   # RSS growth allowed while a huge body is offered
KILL_BOUND = 2.0            # pod processes are gone this long after SIGKILL
OFFERED = 400 * 2**20       # the unauthenticated body offered


@dataclass
class SandboxProcess:
    """A sandbox started with the command line, and what a client needs to reach it."""

    proc: subprocess.Popen[str]
    kubeconfig: str
    url: str
    host: str
    port: int
    token: str
    ca_pem: bytes
    tmpdir: Path

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_pem.decode())

    def stderr(self) -> str:
        return self.proc.stderr.read() if self.proc.stderr else ""


def start_sandbox(tmp: Path, name: str = "sb") -> SandboxProcess:
    tmpdir = tmp / "tmp"
    tmpdir.mkdir(exist_ok=True)
    kubeconfig = tmp / f"{name}.kubeconfig"
    # TMPDIR isolates the sandbox's temporary folders, so the test sees only its own.
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_k8stty.cli", "sandbox", "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TMPDIR": str(tmpdir)})
    line = ""
    deadline = time.monotonic() + READY_TIMEOUT
    while "Sandbox ready" not in line:
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        line = proc.stdout.readline()
    config = json.loads(kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    url = cluster["server"]
    host, port = url.removeprefix("https://").rsplit(":", 1)
    return SandboxProcess(proc, str(kubeconfig), url, host, int(port),
                          config["users"][0]["user"]["token"],
                          base64.b64decode(cluster["certificate-authority-data"]), tmpdir)


def stop_sandbox(sb: SandboxProcess) -> None:
    if sb.proc.poll() is None:
        sb.proc.send_signal(signal.SIGTERM)
        try:
            sb.proc.wait(10)
        except subprocess.TimeoutExpired:
            sb.proc.kill()
            sb.proc.wait()


@pytest.fixture(scope="module")
def sandbox_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    sb = start_sandbox(tmp_path_factory.mktemp("defense"))
    try:
        yield sb
    finally:
        stop_sandbox(sb)
        errors = sb.stderr()
        assert "Traceback" not in errors and "internal error" not in errors, errors


def connect(sb: SandboxProcess) -> ssl.SSLSocket:
    sock = socket.create_connection((sb.host, sb.port), timeout=10)
    return sb.context().wrap_socket(sock, server_hostname=sb.host)


def read_head(conn: ssl.SSLSocket, timeout: float) -> bytes:
    """Read a response's status line and headers."""
    conn.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def request(sb: SandboxProcess, head: str, *, body: bytes = b"") -> tuple[bytes, float]:
    """Send a raw request; return the response head and how long it took to come."""
    conn = connect(sb)
    try:
        start = time.monotonic()
        conn.sendall(head.encode() + body)
        answer = read_head(conn, timeout=5)
        return answer, time.monotonic() - start
    finally:
        conn.close()


def authorized_get(sb: SandboxProcess) -> bytes:
    answer, took = request(sb, f"GET /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\n"
                               f"Authorization: Bearer {sb.token}\r\nConnection: close\r\n\r\n")
    assert took < ANSWER_BOUND
    return answer


@pytest.mark.parametrize("value", ["-1", "abc", "1e3", "5, 6", " +7"])
def test_malformed_content_length_is_a_bad_request_at_once(sandbox_process, value) -> None:
    answer, took = request(sandbox_process, f"POST /api/v1/pods HTTP/1.1\r\nHost: x\r\n"
                                            f"Content-Length: {value}\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"), answer
    assert b"Connection: close" in answer
    assert took < ANSWER_BOUND
    assert authorized_get(sandbox_process).startswith(b"HTTP/1.1 200 OK")


def test_unauthenticated_huge_body_is_refused_unread(sandbox_process) -> None:
    sb = sandbox_process
    authorized_get(sb)  # warm up: TLS and the handler code are loaded
    process = psutil.Process(sb.proc.pid)
    before = process.memory_info().rss
    peak = before
    conn = connect(sb)
    sent = 0

    def offer_body() -> None:
        nonlocal sent
        chunk = b"z" * 2**20
        try:
            while sent < OFFERED:
                conn.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the sandbox hung up, as it should

    start = time.monotonic()
    conn.sendall(f"POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {OFFERED}\r\n\r\n".encode())
    sender = threading.Thread(target=offer_body, name="k8stty-test-offer", daemon=True)
    sender.start()
    answer = read_head(conn, timeout=5)
    took = time.monotonic() - start
    while sender.is_alive():
        peak = max(peak, process.memory_info().rss)
        sender.join(0.05)
    peak = max(peak, process.memory_info().rss)
    conn.close()
    assert answer.startswith(b"HTTP/1.1 401 Unauthorized\r\n"), answer
    assert took < ANSWER_BOUND
    assert sent < OFFERED  # the sandbox stopped listening long before the end
    assert peak - before < MEMORY_BOUND, f"RSS grew by {(peak - before) / 2**20:.1f} MiB"
    assert authorized_get(sb).startswith(b"HTTP/1.1 200 OK")


def test_authenticated_body_over_the_limit_is_413(sandbox_process) -> None:
    sb = sandbox_process
    answer, took = request(sb, f"POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\n"
                               f"Authorization: Bearer {sb.token}\r\n"
                               f"Content-Length: {OFFERED}\r\n\r\n", body=b"z" * 65536)
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert took < ANSWER_BOUND


def test_small_bodies_are_read_and_the_connection_kept(sandbox_process) -> None:
    sb = sandbox_process
    conn = connect(sb)
    try:
        for _ in range(2):  # the same connection serves a second request
            conn.sendall(f"PUT /api/v1/namespaces/default/pods/demo HTTP/1.1\r\nHost: x\r\n"
                         f"Authorization: Bearer {sb.token}\r\nContent-Length: 5\r\n\r\n"
                         f"hello".encode())
            answer = read_head(conn, timeout=ANSWER_BOUND)
            assert answer.startswith(b"HTTP/1.1 405 "), answer
            conn.recv(65536)  # the Status body
    finally:
        conn.close()


def _pod_processes(sandbox_pid: int) -> list[psutil.Process]:
    found = []
    for child in psutil.Process(sandbox_pid).children(recursive=True):
        try:
            if "KUBERNETES_POD_NAME" in child.environ():
                found.append(child)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def _gone(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _start_pods(sb: SandboxProcess) -> list:
    """Start a pipe exec and a tty exec that each leave a grandchild running."""
    sockets = [
        open_exec(sb, "worker-0", ["sh", "-c", "sleep 987 & sleep 988; echo never"]),
        open_exec(sb, "worker-1", ["sh", "-c", "sleep 989 & sleep 990"], tty=True, stdin=True),
        open_exec(sb, "worker-2", ["sleep", "991"]),
    ]
    wanted = {f"sleep {n}" for n in range(987, 992)}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        running = {" ".join(p.cmdline()) for p in _pod_processes(sb.proc.pid)}
        if wanted <= running:
            break
        time.sleep(0.05)
    return sockets


def test_pod_processes_run_in_their_own_process_group(sandbox_process) -> None:
    sb = sandbox_process
    ws = open_exec(sb, "demo", ["sh", "-c", "echo $$; cut -d' ' -f5 /proc/$$/stat"])
    try:
        pid, pgid = collect(ws).stdout.split()
    finally:
        ws.close()
    assert pid == pgid
    assert int(pgid) != os.getpgid(sb.proc.pid)


def test_sigkill_of_the_sandbox_ends_its_pods_and_the_next_sandbox_sweeps(tmp_path) -> None:
    sb = start_sandbox(tmp_path, "first")
    try:
        sockets = _start_pods(sb)
        pods = _pod_processes(sb.proc.pid)
        commands = {" ".join(p.cmdline()) for p in pods}
        assert {f"sleep {n}" for n in range(987, 992)} <= commands, commands  # grandchildren too
        assert {p.pid for p in pods if p.pid == os.getpgid(p.pid)}  # group leaders of their own
        stale = sorted(p.name for p in sb.tmpdir.iterdir())
        assert any(name.startswith(f"k8stty-sandbox-pods-{sb.proc.pid}-") for name in stale), stale
        sb.proc.send_signal(signal.SIGKILL)
        sb.proc.wait(5)
        killed = time.monotonic()
        while not all(_gone(p) for p in pods) and time.monotonic() - killed < KILL_BOUND:
            time.sleep(0.02)
        alive = [p.cmdline() for p in pods if not _gone(p)]
        assert not alive, f"still running {time.monotonic() - killed:.1f} s after SIGKILL: {alive}"
        for ws in sockets:
            ws.close()
    finally:
        stop_sandbox(sb)
    assert any(p.name.startswith(f"k8stty-sandbox-pods-{sb.proc.pid}-") for p in sb.tmpdir.iterdir())
    second = start_sandbox(tmp_path, "second")
    try:
        left = sorted(p.name for p in sb.tmpdir.iterdir())
        assert not any(f"-{sb.proc.pid}-" in name for name in left), left
        assert any(f"-{second.proc.pid}-" in name for name in left), left  # its own stays
    finally:
        stop_sandbox(second)


def test_parent_death_signal_alone_ends_a_direct_child(tmp_path) -> None:
    """Without the guardian, the kernel's parent-death signal still ends the pod process."""
    sb = start_sandbox(tmp_path)
    try:
        ws = open_exec(sb, "worker-2", ["sleep", "992"])
        deadline = time.monotonic() + 10
        while not _pod_processes(sb.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        [pod] = _pod_processes(sb.proc.pid)
        guardians = [c for c in psutil.Process(sb.proc.pid).children()
                     if "killpg" in " ".join(c.cmdline())]
        assert len(guardians) == 1
        guardians[0].kill()  # a zombie until the sandbox reaps it
        deadline = time.monotonic() + 5
        while not _gone(guardians[0]) and time.monotonic() < deadline:
            time.sleep(0.02)
        sb.proc.send_signal(signal.SIGKILL)
        sb.proc.wait(5)
        killed = time.monotonic()
        while not _gone(pod) and time.monotonic() - killed < KILL_BOUND:
            time.sleep(0.02)
        assert _gone(pod)
        ws.close()
    finally:
        stop_sandbox(sb)
