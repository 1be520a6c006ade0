"""The connection lifecycle behind a terminal, against the sandbox, with no kernel and no widget."""

from __future__ import annotations

import logging
import threading

import pytest

from jupyter_k8stty import StreamError
from jupyter_k8stty.exec.target import ExecTarget
from jupyter_k8stty.widget.connection import Connection, ConnectionState

from ..helpers import EXPECT_TIMEOUT, live_threads, wait_until

PROMPT_CMD = ["sh", "-c", "PS1='RE''ADY> ' exec sh"]


class Recorder:
    """An output sink and state listener that keeps everything, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self.acknowledge = None
        self._cond = threading.Condition()

    def _add(self, kind: str, value: object) -> None:
        with self._cond:
            self.events.append((kind, value))
            self._cond.notify_all()

    # OutputSink
    def feed(self, data: bytes) -> None:
        self._add("output", data)

    def reset(self, acknowledge) -> None:
        self.acknowledge = acknowledge
        self._add("reset", None)

    def flush(self) -> None:
        self._add("flush", None)

    # state callback
    def __call__(self, state: ConnectionState) -> None:
        self._add("state", state)

    @property
    def output(self) -> bytes:
        with self._cond:
            return b"".join(v for k, v in self.events if k == "output")  # type: ignore[misc]

    @property
    def states(self) -> list[ConnectionState]:
        with self._cond:
            return [v for k, v in self.events if k == "state"]  # type: ignore[misc]

    def wait_for(self, predicate, what: str, timeout: float = EXPECT_TIMEOUT):
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                raise AssertionError(f"timed out waiting for {what}; events: {self.events[-8:]!r}")

    def wait_output(self, needle: bytes) -> None:
        self.wait_for(lambda: needle in b"".join(v for k, v in self.events if k == "output"),
                      repr(needle))

    def wait_status(self, status: str) -> ConnectionState:
        self.wait_for(lambda: any(k == "state" and v.status == status for k, v in self.events),
                      f"status {status}")
        return [s for s in self.states if s.status == status][-1]


@pytest.fixture
def connect(kubeconfig):
    made: list[Connection] = []

    def make(name: str = "demo", command=None, **kwargs) -> tuple[Connection, Recorder]:
        recorder = Recorder()
        target = ExecTarget.of(name, kubeconfig=kubeconfig, **kwargs)
        connection = Connection(target, command, sink=recorder, on_change=recorder)
        made.append(connection)
        connection.connect()
        return connection, recorder

    yield make
    for connection in made:
        connection.close()


def test_connecting_then_connected_with_the_resolved_title(connect):
    connection, rec = connect()
    connected = rec.wait_status("connected")
    assert rec.states[0].status == "connecting" and rec.states[0].title == "demo"
    assert connected.title.startswith("default/demo [") and connected.exit_code is None
    assert connection.status == "connected" and connection.session is not None


def test_keys_typed_while_connecting_arrive_first_and_in_order(connect):
    connection, rec = connect(command=PROMPT_CMD)
    connection.write(b"echo early-$((1+1))\r")  # before the session is even started
    connection.write(b"echo then-$((2+2))\r")
    rec.wait_status("connected")
    connection.write(b"echo late-$((3+3))\r")
    rec.wait_output(b"late-6\r\n")
    out = rec.output
    assert out.index(b"early-2\r\n") < out.index(b"then-4\r\n") < out.index(b"late-6\r\n")


def test_session_end_flushes_output_before_the_exited_state(connect):
    connection, rec = connect(command=["sh", "-c", "echo bye-bye; exit 3"])
    exited = rec.wait_status("exited")
    assert exited.exit_code == 3 and exited.error == ""
    kinds = [k for k, v in rec.events if k != "state" or v.status == "exited"]
    assert kinds.index("flush") < kinds.index("state")
    assert b"bye-bye" in rec.output
    assert connection.wait(1) and connection.done.is_set()


def test_reconnect_starts_a_new_generation_on_a_reset_stream(connect):
    connection, rec = connect(command=PROMPT_CMD)
    rec.wait_status("connected")
    first, generation = connection.session, connection.generation
    connection.write(b"echo one\r")
    rec.wait_output(b"one\r\n")
    connection.reconnect()
    assert wait_until(lambda: connection.status == "connected" and connection.session is not first)
    assert connection.generation > generation
    assert first is not None and first.done and first.status == "closed"
    assert [k for k, _ in rec.events].count("reset") == 2
    assert rec.acknowledge == connection.session.acknowledge
    connection.write(b"echo two-$((1+1))\r")
    rec.wait_output(b"two-2\r\n")


def test_a_missing_pod_becomes_an_error_state_not_an_exception(connect):
    connection, rec = connect("nope")
    failed = rec.wait_status("error")
    assert "not found" in failed.error and "\n" not in failed.error
    assert failed.title == "default/nope"
    assert connection.wait(1)
    with pytest.raises(StreamError, match="is error"):
        connection.write(b"x", strict=True)


def test_resize_reaches_the_pod_tty(connect):
    connection, rec = connect(command=PROMPT_CMD)
    rec.wait_status("connected")
    connection.resize(33, 91)
    connection.write(b"stty size\r")
    rec.wait_output(b"33 91\r\n")


def test_close_ends_the_session_and_every_thread(connect):
    connection, rec = connect(command=PROMPT_CMD)
    rec.wait_status("connected")
    session = connection.session
    connection.close()
    assert rec.states[-1].status == "closed"
    assert session is not None and session.done
    prefixes = ("k8stty-connect", "k8stty-reader", "k8stty-input")
    assert wait_until(lambda: not [n for p in prefixes for n in live_threads(p)])
    # one keepalive thread serves every session of the process: this one is no longer watched
    assert session._keepalive is not None and not session._keepalive.watched
    with pytest.raises(StreamError):
        connection.reconnect()
    connection.close()  # twice is fine


def test_a_failing_state_callback_is_logged_and_the_terminal_goes_on(kubeconfig, caplog):
    recorder = Recorder()

    def on_change(state: ConnectionState) -> None:
        recorder(state)
        raise RuntimeError("callback bug")

    target = ExecTarget.of("demo", kubeconfig=kubeconfig)
    connection = Connection(target, PROMPT_CMD, sink=recorder, on_change=on_change)
    try:
        with caplog.at_level(logging.ERROR, logger="jupyter_k8stty"):
            connection.connect()
            recorder.wait_status("connected")
            connection.write(b"echo fine\r")
            recorder.wait_output(b"fine\r\n")
        assert any("state callback" in r.getMessage() and r.exc_info for r in caplog.records)
    finally:
        connection.close()
