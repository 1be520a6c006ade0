"""The sandbox's control socket: how the demo notebook's kernel restarts the demo's sandbox."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from jupyter_k8stty import run
from jupyter_k8stty.exec.target import ExecTarget
from jupyter_k8stty.sandbox.control import (
    ControlError,
    ControlServer,
    control_path,
    drop_connections,
    request,
    restart_sandbox,
)
from jupyter_k8stty.widget.connection import Connection
from jupyter_k8stty.widget.reconnect import Backoff

from .helpers import wait_until

TIMEOUT = 15.0


class Sink:
    def __init__(self) -> None:
        self.data = bytearray()
        self.lock = threading.Lock()

    def feed(self, data: bytes) -> None:
        with self.lock:
            self.data += data

    def reset(self, acknowledge) -> None:
        pass

    def flush(self) -> None:
        pass


@pytest.fixture
def controlled(fresh_sandbox):
    with ControlServer(fresh_sandbox) as control:
        yield fresh_sandbox, control


def test_the_socket_is_beside_the_kubeconfig_private_and_removed_on_stop(fresh_sandbox):
    control = ControlServer(fresh_sandbox).start()
    try:
        assert control.path == control_path(fresh_sandbox.kubeconfig_path)
        assert str(control.path) == fresh_sandbox.kubeconfig_path + ".control"
        mode = control.path.stat().st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
        answer = request({"action": "ping"}, kubeconfig=fresh_sandbox.kubeconfig_path)
        assert answer["url"] == fresh_sandbox.url
    finally:
        control.stop()
    assert not control.path.exists()


@contextlib.contextmanager
def connected_shell(sandbox) -> Iterator[Connection]:
    """A terminal's connection to ``sh`` in pod demo, connected, that reconnects quickly."""
    connection = Connection(ExecTarget("demo", kubeconfig=sandbox.kubeconfig_path), ["sh"], sink=Sink(),
                            backoff=Backoff(first=0.2, longest=0.5, give_up_after=20.0, jitter=0.0))
    connection.connect()
    try:
        assert wait_until(lambda: connection.status == "connected", TIMEOUT), connection.state
        yield connection
    finally:
        connection.close()


def reconnected(connection: Connection) -> bool:
    return wait_until(lambda: connection.generation >= 2 and connection.status == "connected", TIMEOUT)


def test_a_restart_from_another_process_drops_connections_and_serves_again(controlled):
    sandbox, _ = controlled
    with connected_shell(sandbox) as connection:
        code = ("from jupyter_k8stty.sandbox.control import restart_sandbox\n"
                "print(restart_sandbox(downtime=1.0))")
        # The notebook's kernel finds the sandbox through KUBECONFIG, as in the demo.
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "KUBECONFIG": sandbox.kubeconfig_path})
        assert done.returncode == 0, done.stderr
        assert float(done.stdout) >= 1.0
        assert run("demo", ["echo", "up"], kubeconfig=sandbox.kubeconfig_path).stdout == b"up\n"
        assert reconnected(connection), connection.state


def test_drop_connections_hangs_up_exec_streams(controlled):
    sandbox, _ = controlled
    with connected_shell(sandbox) as connection:
        drop_connections(kubeconfig=sandbox.kubeconfig_path)
        assert reconnected(connection), connection.state


def test_refusals_say_why(controlled, tmp_path, monkeypatch):
    sandbox, control = controlled
    with pytest.raises(ControlError, match="downtime must be 0 to 60 seconds"):
        restart_sandbox(downtime=-1, kubeconfig=sandbox.kubeconfig_path)
    with pytest.raises(ControlError, match="downtime must be"):  # the server checks too
        request({"action": "restart", "downtime": 1e9}, kubeconfig=sandbox.kubeconfig_path)
    with pytest.raises(ControlError, match="unknown action 'reboot'"):
        request({"action": "reboot"}, kubeconfig=sandbox.kubeconfig_path)
    with socket.socket(socket.AF_UNIX) as raw:  # not JSON: an answer, and the server carries on
        raw.connect(str(control.path))
        raw.sendall(b"hello\n")
        assert json.loads(raw.makefile().readline())["ok"] is False
    assert request({"action": "ping"}, kubeconfig=sandbox.kubeconfig_path)["ok"]
    # A kubeconfig with no sandbox control socket beside it (a real cluster's).
    other = tmp_path / "config"
    other.write_text("{}")
    with pytest.raises(ControlError, match="jupyter-k8stty demo"):
        restart_sandbox(kubeconfig=other)
    # KUBECONFIG lists several files: the one with a sandbox behind it answers.
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(other), sandbox.kubeconfig_path]))
    assert request({"action": "ping"})["url"] == sandbox.url


def test_a_second_server_is_refused_and_a_stale_socket_replaced(fresh_sandbox):
    with ControlServer(fresh_sandbox) as control:
        with pytest.raises(OSError, match="listens"):
            ControlServer(fresh_sandbox).start()
        path = control.path
    # A socket file nobody listens on (a demo that was killed) is replaced.
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()
    assert path.exists()
    with ControlServer(fresh_sandbox):
        assert request({"action": "ping"}, kubeconfig=fresh_sandbox.kubeconfig_path)["ok"]


def test_a_long_kubeconfig_path_gets_a_socket_in_a_private_folder(tmp_path):
    deep = tmp_path.joinpath(*["x" * 30] * 4) / "sandbox.kubeconfig"
    path = control_path(deep)
    assert len(os.fsencode(path)) <= 100 and path != deep.with_name(deep.name + ".control")
    assert path == control_path(deep)  # both sides find the same socket
    folder = path.parent
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and folder.stat().st_uid == os.getuid()


def test_the_sandbox_command_serves_a_control_socket_too(tmp_path):
    # `jupyter-k8stty sandbox`, not only the demo: a notebook against a standalone sandbox
    # can restart it to watch its terminals reconnect.
    kubeconfig = tmp_path / "sb.kubeconfig"
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_k8stty.cli", "sandbox", "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while "Sandbox ready" not in line:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            line = proc.stdout.readline() if proc.stdout else ""
        assert control_path(kubeconfig).exists()
        assert restart_sandbox(downtime=0.5, kubeconfig=kubeconfig) >= 0.5
        assert run("demo", ["echo", "up"], kubeconfig=str(kubeconfig)).stdout == b"up\n"
        drop_connections(kubeconfig=kubeconfig)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert "Sandbox stopped." in out, err
    assert not control_path(kubeconfig).exists()
