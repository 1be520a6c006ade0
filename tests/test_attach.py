"""Attach to a container's main process, as ``kubectl attach`` does."""

from __future__ import annotations

import fcntl
import os
import struct
import termios
import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qsl, urlparse

import pytest

from jupyter_k8stty import ApiError, ExecSession
from jupyter_k8stty.errors import ArgumentError
from jupyter_k8stty.exec import protocol
from jupyter_k8stty.exec.connect import attach_url, exec_url
from jupyter_k8stty.exec.endpoint import attach_settings
from jupyter_k8stty.sandbox import PodSpec, Sandbox

from .helpers import EXPECT_TIMEOUT, OutputCollector, wait_until

# ---- pure: the request and the container's settings --------------------------------------


def test_attach_url_is_kubectls_query():
    # kubectl attach -it demo -c main: PodAttachOptions with the false flags left out.
    url = attach_url("https://10.0.0.1:6443", "default", "demo", container="main", tty=True, stdin=True)
    parsed = urlparse(url)
    assert (parsed.scheme, parsed.netloc, parsed.path) == (
        "wss", "10.0.0.1:6443", "/api/v1/namespaces/default/pods/demo/attach")
    assert parse_qsl(parsed.query) == [("container", "main"), ("stdin", "true"), ("stdout", "true"),
                                       ("tty", "true")]


def test_attach_url_without_tty_asks_for_stderr_and_without_stdin_omits_it():
    url = attach_url("http://h", "ns", "web-0", container=None, tty=False, stdin=False)
    assert urlparse(url).scheme == "ws"
    assert parse_qsl(urlparse(url).query) == [("stdout", "true"), ("stderr", "true")]


def test_exec_url_is_unchanged_by_attach():
    url = exec_url("https://h", "default", "demo", ["sh"], container="main", tty=True, stdin=True)
    assert urlparse(url).path.endswith("/pods/demo/exec")
    assert ("command", "sh") in parse_qsl(urlparse(url).query)


def _pod(**container: object) -> dict:
    return {"spec": {"containers": [{"name": "main", **container}]}}


def test_attach_settings_follow_the_containers_spec():
    assert attach_settings(_pod(stdin=True, tty=True), "main", True) == (True, True, None)
    tty, stdin, note = attach_settings(_pod(tty=True), "main", True)
    assert (tty, stdin) == (True, False)
    assert note == "container main was not started with stdin (stdin: true), so this terminal is read-only"
    tty, stdin, note = attach_settings(_pod(stdin=True), "main", True)
    assert (tty, stdin) == (False, True) and note == "container main did not allocate a TTY"
    # Not asking for stdin is no reason for a note.
    assert attach_settings(_pod(tty=True), "main", False) == (True, False, None)


def test_attach_settings_find_ephemeral_containers():
    pod = {"spec": {"containers": [{"name": "main"}],
                    "ephemeralContainers": [{"name": "debugger-x", "stdin": True, "tty": True}]}}
    assert attach_settings(pod, "debugger-x", True) == (True, True, None)


def test_attach_takes_no_command():
    with pytest.raises(ArgumentError, match="give no command"):
        ExecSession("demo", ["sh"], attach=True)
    session = ExecSession("demo", attach=True)
    assert session.attach and session.command == []


# ---- against the sandbox ------------------------------------------------------------------

REPL = PodSpec("repl", commands={"main": ("sh", "-i")}, stdin=("main",), tty=("main",))
TICKER = PodSpec("ticker", commands={"main": ("sh", "-c", "while true; do echo tick; sleep 0.1; done")})
PLAIN = PodSpec("plain", commands={"main": ("sh", "-c", "read line; echo got:$line; sleep 30")},
                stdin=("main",))
#: A raw-mode program busy elsewhere: its terminal's input buffer fills and stays full.
DEAF = PodSpec("deaf", commands={"main": ("sh", "-c", "stty raw -echo; exec sleep 60")},
               stdin=("main",), tty=("main",))


@pytest.fixture
def sb(k8s_sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    return k8s_sandbox_factory(pods=[REPL, TICKER, PLAIN, DEAF], workloads=[])


def attach(sandbox: Sandbox, pod: str, **kw) -> tuple[ExecSession, OutputCollector]:
    session = ExecSession(pod, attach=True, kubeconfig=sandbox.kubeconfig_path, **kw)
    out = OutputCollector()
    session.on_output(out)
    return session, out


def main_pid(sandbox: Sandbox, pod: str) -> int | None:
    process = sandbox.kubelet.process(sandbox.pods.get("default", pod), "main")
    return process.pid if process is not None else None


@pytest.mark.parametrize("protocols", [(protocol.V5_PROTOCOL, protocol.V4_PROTOCOL),
                                       (protocol.V4_PROTOCOL,)])
def test_attach_talks_to_the_main_process(k8s_sandbox_factory, protocols):
    sandbox = k8s_sandbox_factory(pods=[REPL], workloads=[], protocols=protocols)
    assert wait_until(lambda: main_pid(sandbox, "repl"))
    session, out = attach(sandbox, "repl")
    with session.start(deadline=time.monotonic() + EXPECT_TIMEOUT):
        assert session.protocol == protocols[0] and session.tty and not session.read_only
        # a shell waiting for input prints no prompt of its own: say so, as kubectl does
        assert session.note == "If you don't see a command prompt, try pressing enter."
        assert session.command == []
        session.write(b"echo pid=$$\r")
        assert int(out.expect(rb"pid=(\d+)").group(1)) == main_pid(sandbox, "repl")


def test_resize_reaches_the_attached_terminal(sb):
    assert wait_until(lambda: main_pid(sb, "repl"))
    session, out = attach(sb, "repl", rows=24, cols=80)
    with session.start(deadline=time.monotonic() + EXPECT_TIMEOUT):
        session.write(b"echo size=$(stty size)\r")
        out.expect(rb"size=24 80")
        session.resize(33, 101)
        session.write(b"echo size=$(stty size)\r")
        out.expect(rb"size=33 101")


def test_detaching_never_kills_the_main_process(sb):
    assert wait_until(lambda: main_pid(sb, "repl"))
    pid = main_pid(sb, "repl")
    session, out = attach(sb, "repl")
    with session.start(deadline=time.monotonic() + EXPECT_TIMEOUT):
        session.write(b"KEEP=still-here\r")
        out.expect(rb"KEEP=still-here")
    assert session.status == "closed"
    time.sleep(0.3)
    assert main_pid(sb, "repl") == pid
    again, out2 = attach(sb, "repl")
    with again.start(deadline=time.monotonic() + EXPECT_TIMEOUT):
        again.write(b"echo $KEEP\r")
        out2.expect(rb"\nstill-here")


def test_a_container_without_stdin_is_read_only_and_says_so(sb):
    session, out = attach(sb, "ticker")
    with session.start(deadline=time.monotonic() + EXPECT_TIMEOUT):
        assert session.read_only and not session.stdin and not session.tty
        assert session.note == ("container main was not started with stdin (stdin: true), so this "
                                "terminal is read-only; container main did not allocate a TTY")
        out.expect(rb"tick\ntick\n")


def test_attach_without_a_tty_keeps_stdout_and_stderr(sb):
    session, out = attach(sb, "plain")
    with session.start(deadline=time.monotonic() + EXPECT_TIMEOUT):
        assert not session.tty and session.stdin
        session.write(b"hello\n")
        out.expect(rb"got:hello")


def test_attach_to_a_completed_pod_is_refused(k8s_sandbox_factory):
    sandbox = k8s_sandbox_factory()
    session = ExecSession("finished", attach=True, kubeconfig=sandbox.kubeconfig_path)
    with pytest.raises(ApiError, match="completed pod"):
        session.start(deadline=time.monotonic() + EXPECT_TIMEOUT)


def _slave_size(pid: int) -> tuple[int, int]:
    fd = os.open(os.readlink(f"/proc/{pid}/fd/0"), os.O_RDONLY | os.O_NOCTTY)
    try:
        rows, cols = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, bytes(8)))[:2]
    finally:
        os.close(fd)
    return rows, cols


def test_a_client_that_leaves_mid_paste_does_not_hold_the_process_hostage(sb):
    # kubectl attach -it to a raw-mode program busy elsewhere, a big paste, Ctrl-C: the
    # paste waits for room that never comes. The next client must still be served.
    assert wait_until(lambda: main_pid(sb, "deaf"))
    pid = main_pid(sb, "deaf")
    first, _ = attach(sb, "deaf")
    first.start(deadline=time.monotonic() + EXPECT_TIMEOUT)

    def paste() -> None:
        try:
            first.write(b"y" * 20_000_000)
        except Exception:
            pass

    writer = threading.Thread(target=paste, daemon=True)
    writer.start()
    time.sleep(0.5)
    assert writer.is_alive(), "the paste should wait for the full terminal"
    first.close()

    second, _ = attach(sb, "deaf", rows=24, cols=80)
    with second.start(deadline=time.monotonic() + EXPECT_TIMEOUT):
        second.resize(31, 97)
        assert wait_until(lambda: _slave_size(pid) == (31, 97), 2.0), _slave_size(pid)
    assert main_pid(sb, "deaf") == pid  # leaving never stops the main process
