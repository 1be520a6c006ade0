"""Automatic reconnect (issue 15 item 1): bounded backoff, fresh credentials, never after an exit.

The connection is driven without a kernel (its output goes to a list); faults come from
the sandbox: a dropped connection, an API server restart with downtime, and a token that
expired while the session was open.
"""

from __future__ import annotations

import threading
import time

import pytest

from jupyter_k8stty.errors import ApiError, ArgumentError, TargetError
from jupyter_k8stty.exec.target import ExecTarget
from jupyter_k8stty.sandbox import PodSpec, Sandbox
from jupyter_k8stty.widget.connection import Connection, ConnectionState
from jupyter_k8stty.widget.reconnect import Backoff, retryable

from .helpers import live_threads, wait_until

FAST = Backoff(first=0.2, factor=2.0, longest=1.0, give_up_after=20.0, jitter=0.0)
TIMEOUT = 15.0


class Sink:
    """Collects output like the widget's bridge."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.resets = 0
        self._lock = threading.Lock()

    def feed(self, data: bytes) -> None:
        with self._lock:
            self.data += data

    def reset(self, acknowledge) -> None:
        with self._lock:
            self.resets += 1
            self.data.clear()

    def flush(self) -> None:
        pass

    def text(self) -> str:
        with self._lock:
            return self.data.decode("utf-8", "replace")


@pytest.fixture(autouse=True)
def _no_threads_left():
    yield
    prefixes = ("k8stty-connect", "k8stty-reader", "k8stty-keepalive", "k8stty-input",
                "k8stty-reconnect")
    left = lambda: [n for p in prefixes for n in live_threads(p)]  # noqa: E731
    assert wait_until(lambda: not left(), 5), left()


def open_connection(kubeconfig: str, backoff: Backoff | None = FAST, pod: str = "demo"):
    sink = Sink()
    states: list[ConnectionState] = []
    connection = Connection(ExecTarget(pod, kubeconfig=kubeconfig), ["sh"], sink=sink,
                            on_change=states.append, backoff=backoff)
    connection.connect()
    if not wait_until(lambda: connection.status == "connected", TIMEOUT):
        connection.close()
        raise AssertionError(f"not connected: {connection.state}")
    return connection, sink, states


def echo(connection: Connection, sink: Sink, word: str) -> None:
    connection.write(f"echo {word}-$((6*7))\n".encode())
    assert wait_until(lambda: f"{word}-42" in sink.text(), TIMEOUT), sink.text()[-300:]


def test_backoff_doubles_from_half_a_second_to_15_s_and_gives_up_after_2_minutes():
    waits = Backoff().schedule()
    assert waits[:6] == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0]
    assert set(waits[5:]) == {15.0}
    assert sum(waits) <= 120.0 < sum(waits) + 15.0
    jittered = [Backoff().delay(1) for _ in range(50)]
    assert all(0.45 <= w <= 0.55 for w in jittered)
    with pytest.raises(ArgumentError):
        Backoff(factor=0.5)


def test_only_refusals_that_cannot_change_stop_the_attempts():
    assert retryable(ApiError("unreachable", status=None))
    assert retryable(ApiError("token expired", status=401))
    assert retryable(ApiError("pod being replaced", status=404))
    assert retryable(ApiError("server restarting", status=503))
    assert not retryable(ApiError("forbidden", status=403))
    assert not retryable(TargetError("bad name"))


def test_a_dropped_connection_reconnects_by_itself(fresh_sandbox):
    fault = fresh_sandbox.inject("drop", after=0.5)
    connection, sink, states = open_connection(fresh_sandbox.kubeconfig_path)
    try:
        assert fault.wait(TIMEOUT)
        assert wait_until(lambda: connection.generation >= 2 and connection.status == "connected",
                          TIMEOUT), connection.state
        assert any(s.reconnect_attempt == 1 and s.status == "connecting" for s in states)
        assert connection.state.reconnect_attempt == 0
        assert not connection.done.is_set()
        echo(connection, sink, "after-drop")
    finally:
        connection.close()


def test_reconnect_after_an_api_server_restart_with_downtime(fresh_sandbox):
    connection, sink, states = open_connection(fresh_sandbox.kubeconfig_path)
    try:
        fresh_sandbox.restart(downtime=2.0)  # 0.2 + 0.4 + 0.8 s of refused attempts first
        assert wait_until(lambda: connection.status == "connected" and connection.generation > 1,
                          TIMEOUT), connection.state
        attempts = max(s.reconnect_attempt for s in states)
        assert attempts >= 3, [(s.status, s.reconnect_attempt) for s in states]
        echo(connection, sink, "after-restart")
    finally:
        connection.close()


def test_an_exit_is_never_reconnected(fresh_sandbox):
    connection, sink, states = open_connection(fresh_sandbox.kubeconfig_path)
    connection.write(b"exit 3\n")
    assert connection.wait(TIMEOUT)
    time.sleep(FAST.first * 3)
    assert connection.status == "exited" and connection.state.exit_code == 3
    assert connection.generation == 1
    assert all(s.reconnect_attempt == 0 for s in states)
    connection.close()


def test_gives_up_after_the_budget_and_says_why(fresh_sandbox):
    backoff = Backoff(first=0.2, longest=0.4, give_up_after=1.5, jitter=0.0)
    connection, sink, states = open_connection(fresh_sandbox.kubeconfig_path, backoff)
    try:
        threading.Thread(target=fresh_sandbox.restart, kwargs={"downtime": 6.0}, daemon=True).start()
        assert connection.wait(TIMEOUT)
        assert connection.status == "error"
        assert connection.state.error.startswith("gave up reconnecting after ")
        assert connection.state.reconnect_attempt == 0
    finally:
        connection.close()


def test_closing_while_waiting_to_reconnect_stops_the_attempts(fresh_sandbox):
    slow = Backoff(first=5.0, jitter=0.0)
    fresh_sandbox.inject("drop", after=0.3)
    connection, sink, states = open_connection(fresh_sandbox.kubeconfig_path, slow)
    assert wait_until(lambda: connection.state.reconnect_attempt == 1, TIMEOUT)
    started = time.monotonic()
    connection.close()
    assert time.monotonic() - started < 2.0
    time.sleep(0.3)
    assert connection.status == "closed" and connection.generation >= 1
    assert not any(t.name.startswith("k8stty-reconnect") and t.is_alive() for t in threading.enumerate())


def test_without_a_backoff_a_drop_is_an_error(fresh_sandbox):
    fresh_sandbox.inject("drop", after=0.3)
    connection, sink, states = open_connection(fresh_sandbox.kubeconfig_path, None)
    assert connection.wait(TIMEOUT)
    assert connection.status == "error" and "dropped" in connection.state.error
    connection.close()


def test_reconnect_after_the_token_expired_runs_the_credential_plugin_again(tmp_path):
    lifetime = 5.0  # long enough for a loaded machine to run the plugin and connect
    with Sandbox(pods=[PodSpec("demo")]) as sb:
        rotator = sb.rotating_tokens("notebook-sa", ["get pods", "list pods", "create pods/exec"],
                                     lifetime=lifetime, folder=tmp_path / "sa")
        kubeconfig = rotator.write_plugin_kubeconfig(tmp_path / "plugin-kubeconfig")
        first = rotator.rotate()
        rotator.start(period=lifetime / 3)  # as the kubelet does: a new token well before expiry
        try:
            connection, sink, states = open_connection(kubeconfig)
        except BaseException:
            rotator.stop()
            raise
        try:
            time.sleep(lifetime + 0.3)  # the first token has expired now
            echo(connection, sink, "still-open")  # an open session outlives its token
            sb.drop_connections()
            assert wait_until(lambda: connection.status == "connected" and connection.generation > 1,
                              TIMEOUT), connection.state
            echo(connection, sink, "fresh-token")
            assert rotator.token != first
        finally:
            rotator.stop()
            connection.close()
