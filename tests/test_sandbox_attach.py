"""``pods/NAME/attach`` in the sandbox: one main process per container, shared, never killed by clients."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
import websocket

from jupyter_k8stty.exec import protocol
from jupyter_k8stty.sandbox import PodSpec, Sandbox
from jupyter_k8stty.sandbox.testing import api_request, open_attach, run_exec, wait_for

READ_TIMEOUT = 10.0
REPL = PodSpec("repl", commands={"main": ("python3", "-i", "-q")}, stdin=("main",), tty=("main",))
# A main process that prints and reads nothing: attach is read-only.
TICKER = PodSpec("ticker", commands={"main": ("sh", "-c", "while true; do echo tick; sleep 0.1; done")})


@pytest.fixture
def sb(k8s_sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    return k8s_sandbox_factory(pods=[REPL, TICKER, PodSpec("idle")])


def read_until(ws: websocket.WebSocket, marker: bytes, timeout: float = READ_TIMEOUT) -> bytes:
    """Read stdout frames until ``marker`` shows up; return what came."""
    seen = b""
    deadline = time.monotonic() + timeout
    ws.settimeout(timeout)
    while marker not in seen:
        if time.monotonic() > deadline:
            raise AssertionError(f"{marker!r} did not arrive; got {seen[-300:]!r}")
        opcode, data = ws.recv_data(control_frame=False)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise AssertionError(f"closed before {marker!r}; got {seen[-300:]!r}")
        if data and data[0] == protocol.STDOUT_CHANNEL:
            seen += data[1:]
    return seen


def type_in(ws: websocket.WebSocket, text: str) -> None:
    ws.send_binary(protocol.encode_frame(protocol.STDIN_CHANNEL, text.encode()))


def main_pid(sb: Sandbox, pod: str) -> int | None:
    process = sb.kubelet.process(sb.pods.get("default", pod), "main")
    return process.pid if process is not None else None


@pytest.mark.parametrize("subprotocol", [protocol.V5_PROTOCOL, protocol.V4_PROTOCOL])
def test_attach_talks_to_the_interactive_main_process(sb: Sandbox, subprotocol: str) -> None:
    assert wait_for(lambda: main_pid(sb, "repl"), READ_TIMEOUT)
    ws = open_attach(sb, "repl", stdin=True, tty=True, protocols=[subprotocol])
    try:
        assert ws.subprotocol == subprotocol
        type_in(ws, "print('sum', 6 * 7)\r")
        assert b"sum 42" in read_until(ws, b"sum 42")
        ws.send_binary(protocol.encode_frame(protocol.RESIZE_CHANNEL,
                                             protocol.encode_resize(33, 101)))
        type_in(ws, "import os; print('size', tuple(os.get_terminal_size()))\r")
        read_until(ws, b"size (101, 33)")
    finally:
        ws.close()


def test_detaching_never_kills_and_two_attaches_share_the_process(sb: Sandbox) -> None:
    assert wait_for(lambda: main_pid(sb, "repl"), READ_TIMEOUT)
    pid = main_pid(sb, "repl")
    first = open_attach(sb, "repl", stdin=True, tty=True)
    second = open_attach(sb, "repl", stdin=True, tty=True)
    try:
        type_in(first, "shared = 'kept'; print('set', shared)\r")
        read_until(first, b"set kept")
        read_until(second, b"set kept")  # the other client sees the same terminal
    finally:
        first.close()
    type_in(second, "print('still', shared)\r")
    read_until(second, b"still kept")
    second.close()
    time.sleep(0.3)
    assert main_pid(sb, "repl") == pid
    third = open_attach(sb, "repl", stdin=True, tty=True)
    try:
        type_in(third, "print('again', shared)\r")
        read_until(third, b"again kept")
    finally:
        third.close()
    code, pod = api_request(sb, "GET", "/api/v1/namespaces/default/pods/repl")
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0
    assert pod["spec"]["containers"][0]["stdin"] is True and pod["spec"]["containers"][0]["tty"]


def test_a_container_without_stdin_gives_read_only_output(sb: Sandbox) -> None:
    ws = open_attach(sb, "ticker", stdin=True)
    try:
        type_in(ws, "exit\n")  # dropped: the container has no stdin
        read_until(ws, b"tick\ntick\n")
    finally:
        ws.close()
    assert main_pid(sb, "ticker") is not None


def test_an_idle_container_attaches_to_silence(sb: Sandbox) -> None:
    ws = open_attach(sb, "idle", stdin=True)
    try:
        ws.settimeout(0.5)
        opcode, data = ws.recv_data(control_frame=False)  # the empty frame that opens a stream
        assert (opcode, data) == (websocket.ABNF.OPCODE_BINARY, bytes((protocol.STDOUT_CHANNEL,)))
        with pytest.raises(websocket.WebSocketTimeoutException):
            ws.recv_data(control_frame=False)
    finally:
        ws.close()


def test_when_the_main_process_ends_attach_ends_with_success_and_it_restarts(sb: Sandbox) -> None:
    assert wait_for(lambda: main_pid(sb, "repl"), READ_TIMEOUT)
    pid = main_pid(sb, "repl")
    ws = open_attach(sb, "repl", stdin=True, tty=True)
    type_in(ws, "raise SystemExit(3)\r")
    status = None
    ws.settimeout(READ_TIMEOUT)
    while True:
        opcode, data = ws.recv_data(control_frame=False)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            break
        if data and data[0] == protocol.STATUS_CHANNEL:
            status = json.loads(data[1:])
    ws.close()
    assert status == {"metadata": {}, "status": "Success"}
    assert wait_for(lambda: main_pid(sb, "repl") not in (None, pid), READ_TIMEOUT)
    code, pod = api_request(sb, "GET", "/api/v1/namespaces/default/pods/repl")
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 1


def test_attach_reaches_an_ephemeral_container_by_name(fresh_sandbox: Sandbox) -> None:
    patch = {"spec": {"ephemeralContainers": [{"name": "debugger-ab12c", "image": "busybox",
                                               "stdin": True, "tty": True,
                                               "targetContainerName": "main"}]}}
    code, body = api_request(fresh_sandbox, "PATCH",
                             "/api/v1/namespaces/default/pods/demo/ephemeralcontainers", patch,
                             content_type="application/strategic-merge-patch+json")
    assert code == 200, body
    pod = fresh_sandbox.pods.get("default", "demo")
    assert wait_for(lambda: fresh_sandbox.kubelet.process(pod, "debugger-ab12c"), READ_TIMEOUT)
    ws = open_attach(fresh_sandbox, "demo", container="debugger-ab12c", stdin=True, tty=True)
    try:
        type_in(ws, "echo in-$KUBERNETES_CONTAINER\r")
        read_until(ws, b"in-debugger-ab12c")
    finally:
        ws.close()


def test_attach_refusals_match_exec(sb: Sandbox) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as err:
        open_attach(sb, "repl", container="ghost")
    assert err.value.status_code == 400
    assert json.loads(err.value.resp_body)["message"] == "container ghost is not valid for pod repl"
    with pytest.raises(websocket.WebSocketBadStatusException) as err:
        open_attach(sb, "nope")
    assert err.value.status_code == 404
    # Exec still runs a new process next to the main one.
    assert run_exec(sb, "repl", ["echo", "beside"]).stdout == b"beside\n"


def test_a_restart_drops_attached_clients_but_not_the_process(sb: Sandbox) -> None:
    assert wait_for(lambda: main_pid(sb, "repl"), READ_TIMEOUT)
    pid = main_pid(sb, "repl")
    ws = open_attach(sb, "repl", stdin=True, tty=True)
    type_in(ws, "kept = 'yes'; print('before', kept)\r")
    read_until(ws, b"before yes")
    sb.restart()
    with pytest.raises((websocket.WebSocketConnectionClosedException, OSError, AssertionError)):
        read_until(ws, b"never", timeout=3)
    ws.close()
    assert main_pid(sb, "repl") == pid
    again = open_attach(sb, "repl", stdin=True, tty=True)
    try:
        type_in(again, "print('after', kept)\r")
        read_until(again, b"after yes")
    finally:
        again.close()
