"""Exec streams of the sandbox, driven by independent websocket clients."""

from __future__ import annotations

import json
import os
import time

import pytest
import websocket

from jupyter_k8stty.exec import protocol
from jupyter_k8stty.sandbox import Sandbox
from jupyter_k8stty.sandbox.testing import (
    RawExecClient,
    collect,
    exec_path,
    open_exec,
    run_exec,
)

THROUGHPUT_BYTES = 50_000_000
#: Well below the ~500 MB/s measured on a 2-core machine, so a loaded CI box passes.
MIN_THROUGHPUT = 100e6
RECORD_TRIES = 5


def test_pipes_split_stdout_and_stderr(sandbox: Sandbox) -> None:
    result = run_exec(sandbox, "demo", ["sh", "-c", "echo out; echo err >&2"])
    assert (result.stdout, result.stderr) == (b"out\n", b"err\n")
    assert result.status == {"metadata": {}, "status": "Success"}
    assert result.closed


def test_tty_merges_stderr(sandbox: Sandbox) -> None:
    result = run_exec(sandbox, "demo", ["sh", "-c", "echo out; echo err >&2"], tty=True)
    assert result.stdout == b"out\r\nerr\r\n"
    assert result.stderr == b""
    assert result.status["status"] == "Success"


def test_environment_and_workdir(sandbox: Sandbox) -> None:
    result = run_exec(sandbox, "demo", ["sh", "-c", 'echo "$HOSTNAME $KUBERNETES_NAMESPACE '
                                        '$KUBERNETES_CONTAINER $TERM"; pwd; echo $HOME'],
                      container="sidecar", tty=True)
    first, cwd, home = result.stdout.decode().split("\r\n")[:3]
    assert first == "demo default sidecar xterm"
    assert cwd == home and cwd.endswith("/default/demo/sidecar")


def test_resize_reaches_the_terminal(sandbox: Sandbox) -> None:
    ws = open_exec(sandbox, "demo", ["sh", "-c", "read x; stty size; read x; stty size"],
                   stdin=True, tty=True)
    try:
        ws.send_binary(bytes((protocol.RESIZE_CHANNEL,)) + protocol.encode_resize(30, 100))
        ws.send_binary(protocol.encode_frame(protocol.STDIN_CHANNEL, b"\n"))
        assert b"30 100" in collect(ws, until=b"30 100").stdout
        ws.send_binary(bytes((protocol.RESIZE_CHANNEL,)) + protocol.encode_resize(40, 120))
        ws.send_binary(protocol.encode_frame(protocol.STDIN_CHANNEL, b"\n"))
        result = collect(ws)
        assert b"40 120" in result.stdout
        assert result.status["status"] == "Success"
    finally:
        ws.close()


def test_v5_close_stdin_ends_cat(sandbox: Sandbox) -> None:
    result = run_exec(sandbox, "demo", ["cat"], stdin_data=b"abc")
    assert result.stdout == b"abc"
    assert result.status["status"] == "Success"


def test_v5_close_stdin_sends_eof_to_a_tty(sandbox: Sandbox) -> None:
    # ^D ends input only at the start of a line, as when typing it.
    result = run_exec(sandbox, "demo", ["wc", "-c"], stdin_data=b"12345\n", tty=True)
    assert result.stdout.split()[-1] == b"6"
    assert result.status["status"] == "Success"


def test_v4_only_client(sandbox: Sandbox) -> None:
    ws = open_exec(sandbox, "demo", ["sh", "-c", "echo v4; exit 2"],
                   protocols=[protocol.V4_PROTOCOL])
    try:
        assert ws.subprotocol == protocol.V4_PROTOCOL
        result = collect(ws)
    finally:
        ws.close()
    assert result.stdout == b"v4\n"
    assert protocol.parse_status(json.dumps(result.status).encode()).exit_code == 2


@pytest.mark.parametrize(("script", "code"), [("exit 3", 3), ("kill -9 $$", 137),
                                              ("kill -TERM $$", 143)])
def test_exit_status(sandbox: Sandbox, script: str, code: int) -> None:
    result = run_exec(sandbox, "demo", ["sh", "-c", script])
    assert json.dumps(result.status, separators=(",", ":")).encode() == \
        protocol.exit_code_status(code, ["sh", "-c", script])
    assert protocol.parse_status(protocol.exit_code_status(code, [])).exit_code == code


def test_missing_executable_reports_containerd_error(sandbox: Sandbox) -> None:
    result = run_exec(sandbox, "demo", ["no-such-program", "x"])
    assert result.status["reason"] == "InternalError"
    assert result.status["code"] == 500
    message = result.status["message"]
    assert message.startswith("Internal error occurred: error executing command in container: "
                              "failed to exec in container: failed to start exec \"")
    assert message.endswith('OCI runtime exec failed: exec failed: unable to start container '
                            'process: exec: "no-such-program": executable file not found in '
                            "$PATH: unknown")
    assert result.closed


def test_ping_gets_pong(sandbox: Sandbox) -> None:
    ws = open_exec(sandbox, "demo", ["cat"], stdin=True)
    try:
        ws.ping(b"are-you-there")
        while True:
            opcode, data = ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_PONG:
                break
        assert data == b"are-you-there"
    finally:
        ws.close()


def test_text_and_fragmented_client_frames(sandbox: Sandbox) -> None:
    ws = open_exec(sandbox, "demo", ["cat"], stdin=True)
    try:
        ws.send("\x00text ", opcode=websocket.ABNF.OPCODE_TEXT)
        ws.send_frame(websocket.ABNF.create_frame(b"\x00frag", websocket.ABNF.OPCODE_BINARY,
                                                  fin=0))
        ws.ping(b"between fragments")
        ws.send_frame(websocket.ABNF.create_frame(b"mented", websocket.ABNF.OPCODE_CONT, fin=1))
        ws.send_binary(protocol.encode_close(protocol.STDIN_CHANNEL))
        result = collect(ws)
    finally:
        ws.close()
    assert result.stdout == b"text fragmented"


def test_large_stdin_is_unmasked_correctly(sandbox: Sandbox) -> None:
    payload = os.urandom(1 << 20) * 20
    result = run_exec(sandbox, "demo", ["sha256sum"], stdin_data=payload)
    import hashlib

    assert result.stdout.split()[0].decode() == hashlib.sha256(payload).hexdigest()


def test_client_close_hangs_up_the_process(sandbox: Sandbox) -> None:
    for tty in (False, True):
        ws = open_exec(sandbox, "demo", ["sh", "-c", "echo $$; exec sleep 600"], tty=tty)
        pid = int(collect(ws, until=b"\n").stdout.split()[0])
        ws.close()  # a clean websocket close from the client
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.02)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_drop_connections_closes_without_status(fresh_sandbox: Sandbox) -> None:
    ws = open_exec(fresh_sandbox, "demo", ["sh", "-c", "echo ready; exec sleep 600"])
    try:
        assert collect(ws, until=b"ready").stdout == b"ready\n"
        fresh_sandbox.drop_connections()
        with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError,
                            OSError)):
            while True:
                opcode, data = ws.recv_data()
                assert data[:1] != bytes((protocol.STATUS_CHANNEL,))
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    raise AssertionError("got a close frame; a drop must be abrupt")
    finally:
        ws.close()


def test_last_output_and_status_share_one_tls_record(sandbox: Sandbox) -> None:
    # One SSL recv returns at most one TLS record, so output, status and close
    # arriving in a single recv proves they were written together.
    for _ in range(RECORD_TRIES):
        client = RawExecClient(sandbox, exec_path("default", "demo", ["printf", "hello"]))
        try:
            while not client.parse_frames():  # the initial empty stdout frame
                client.buf += client.sock.recv(65536)
            client.buf += client.sock.recv(65536)
            frames = client.parse_frames()
        finally:
            client.close()
        if len(frames) == 3:
            break
    assert [f[0] for f in frames] == [0x2, 0x2, 0x8]
    assert frames[0][1] == b"\x01hello"
    assert frames[1][1] == b"\x03" + protocol.success_status()


def test_throughput_through_pipes(sandbox: Sandbox) -> None:
    client = RawExecClient(sandbox, exec_path("default", "demo",
                                              ["head", "-c", str(THROUGHPUT_BYTES), "/dev/zero"]))
    try:
        started = time.perf_counter()
        total, status = client.count_stdout_until_close()
        elapsed = time.perf_counter() - started
    finally:
        client.close()
    assert total == THROUGHPUT_BYTES and status["status"] == "Success"
    rate = total / elapsed
    print(f"sandbox exec throughput: {rate / 1e6:.0f} MB/s")
    assert rate > MIN_THROUGHPUT


def test_a_restart_ends_every_exec_without_a_status(fresh_sandbox: Sandbox) -> None:
    # Killing the processes of a restart must not race the drop: an exit status would
    # tell a client "your shell exited" where a real API server going away is a dropped
    # connection (and a terminal reconnects only after a drop).
    from jupyter_k8stty import ExecSession

    sessions = [ExecSession("demo", ["sh"], tty=True, kubeconfig=fresh_sandbox.kubeconfig_path).start()
                for _ in range(24)]
    try:
        fresh_sandbox.restart()
        deadline = time.monotonic() + 10
        while not all(s.done for s in sessions):
            assert time.monotonic() < deadline, [s.status for s in sessions]
            time.sleep(0.02)
        assert [s.status for s in sessions] == ["error"] * len(sessions), [
            (s.status, s.exit_code) for s in sessions]
    finally:
        for s in sessions:
            s.close()
