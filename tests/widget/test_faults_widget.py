"""The terminal widget in a real kernel against a misbehaving API server.

Faults come from the sandbox (``Sandbox.inject``): the widget must end with status
``error`` and a readable one-line message within seconds, never crash the kernel, and
the Reconnect button's message (``{"type": "reconnect"}``) must open a fresh working
session. Also: raw bytes and every control key reach the pod, and commands stay argv.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from jupyter_k8stty.sandbox import Sandbox

from .conftest import class_setting
from .frontend import Frontend, new_view_id

#: Seconds within which a broken stream must show as status "error".
ERROR_DEADLINE = 8.0
KEEPALIVE = 0.2
KEEPALIVE_TIMEOUT = 0.6


@pytest.fixture(scope="module")
def faulty(fe: Frontend) -> Iterator[Sandbox]:
    sb = Sandbox().start()
    fe.execute(f"FAULTY = {sb.kubeconfig_path!r}")
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture(autouse=True)
def _clear_faults(faulty: Sandbox) -> Iterator[None]:
    faulty.faults.clear()
    yield
    faulty.faults.clear()


def open_faulty(fe: Frontend, variable: str, args: str = '"demo"'):
    fe.execute(f"{variable} = Terminal({args}, kubeconfig=FAULTY, auto_reconnect=False)")
    comm = fe.terminal_comm(variable)
    fe.send_custom(comm, {"type": "ready", "view": new_view_id()})
    fe.wait_for(lambda: comm.state.get("status") != "connecting", what="the session to start")
    return comm


def wait_error(fe: Frontend, comm, timeout: float = ERROR_DEADLINE) -> str:
    fe.wait_for(lambda: comm.state.get("status") == "error", timeout=timeout,
                what=f"status error (now {comm.state.get('status')!r})")
    message = comm.state["error"]
    assert message and "\n" not in message and "Traceback" not in message, message
    return message


def assert_works(fe: Frontend, comm, tag: str) -> None:
    fe.type(comm, f"echo {tag}-$((40+2))\r")
    fe.expect_output(comm, f"{tag}-42".encode())


def reconnect_and_check(fe: Frontend, comm, tag: str) -> None:
    fe.send_custom(comm, {"type": "reconnect"})
    fe.wait_for(lambda: comm.state.get("status") == "connected", what="connected again")
    assert comm.state["error"] == ""
    assert_works(fe, comm, tag)


def kernel_alive(fe: Frontend) -> None:
    assert fe.eval("1 + 1") == 2


def test_stall_is_reported_by_keepalive_and_reconnect_recovers(fe, faulty):
    fault = faulty.inject("stall", after=0.5, seconds=30)
    with class_setting(fe, "keepalive", KEEPALIVE), class_setting(fe, "keepalive_timeout", KEEPALIVE_TIMEOUT):
        comm = open_faulty(fe, "stalled")
        assert comm.state["status"] == "connected"
        assert fault.wait(ERROR_DEADLINE)
        message = wait_error(fe, comm, KEEPALIVE + KEEPALIVE_TIMEOUT + ERROR_DEADLINE)
        assert re.search(r"the connection to default/demo is dead: no answer to a keepalive ping "
                         rf"within {KEEPALIVE_TIMEOUT:g} s", message), message
        assert fe.eval("stalled.session._reader.is_alive()") is False
        reconnect_and_check(fe, comm, "AFTER-STALL")


def test_server_restart_is_an_error_and_reconnect_opens_a_working_session(fe, faulty):
    comm = open_faulty(fe, "restarted")
    assert_works(fe, comm, "BEFORE")
    faulty.restart(downtime=0.2)
    message = wait_error(fe, comm)
    assert "before the command's exit status arrived" in message, message
    assert not [n for n in fe.eval("k8stty_threads()") if n.startswith("k8stty-reader")]
    reconnect_and_check(fe, comm, "AFTER-RESTART")


@pytest.mark.parametrize("kind, expected", [
    ("drop", "before the command's exit status arrived"),
    ("close", "closed the stream before the command's exit status arrived"),
    ("bad-status", "malformed exec status from the server: b'this is not json'"),
    ("truncated-status", "malformed exec status from the server"),
])
def test_broken_streams_end_in_a_readable_error(fe, faulty, kind, expected):
    faulty.inject(kind, after=0.3)
    comm = open_faulty(fe, "broken")
    assert expected in wait_error(fe, comm)
    assert fe.eval("broken.status, broken.exit_code") == ("error", None)
    kernel_alive(fe)
    reconnect_and_check(fe, comm, "FIXED")


def test_upgrade_slower_than_the_connect_timeout_is_a_timeout_error(fe, faulty):
    faulty.inject("slow", delay=5)
    with class_setting(fe, "connect_timeout", 0.5):
        comm = open_faulty(fe, "slow")
    assert "timed out" in wait_error(fe, comm)
    reconnect_and_check(fe, comm, "FAST-AGAIN")


@pytest.mark.parametrize("kind", ["unknown-channel", "invalid-utf8", "huge-frame"])
def test_malformed_output_frames_never_crash_kernel_or_view(fe, faulty, kind):
    fault = faulty.inject(kind, after=0.3)
    comm = open_faulty(fe, "odd")
    view = comm.custom("replay")[-1].custom["view"] if comm.custom("replay") else new_view_id()
    if kind != "huge-frame":  # that one is read only as the view acknowledges (flow control)
        assert fault.wait(ERROR_DEADLINE)
    acked = 0

    def caught_up_with(needle: bytes) -> bool:
        nonlocal acked
        total = len(comm.output())
        if total > acked:
            fe.send_custom(comm, {"type": "ack", "view": view, "bytes": total - acked})
            acked = total
        return needle in comm.output()

    if kind == "invalid-utf8":
        fe.wait_for(lambda: caught_up_with(b"bad\xff\xfe\xc3(\xed\xa0\x80utf8"), what="raw bytes")
    if kind == "huge-frame":
        fe.wait_for(lambda: caught_up_with(b"x" * 1000) and comm.output().count(b"x") >= 16 * 1024 * 1024,
                    timeout=60, what="the 16 MB frame")
        assert fault.wait(ERROR_DEADLINE)
    fe.type(comm, "echo STILL-$((40+2))\r")
    fe.wait_for(lambda: caught_up_with(b"STILL-42"), timeout=30, what="the shell to answer")
    assert comm.state["status"] == "connected"
    assert b"mystery" not in comm.output()
    kernel_alive(fe)
    # The tail kept for replays stays bounded even after a 16 MB frame.
    assert fe.eval("len(odd.output_bytes)") <= 256 * 1024


def test_every_byte_and_control_key_reaches_the_pod_raw(fe, kubeconfig):
    fe.execute("raw = Terminal('demo', kubeconfig=KUBECONFIG)")
    comm = fe.terminal_comm("raw")
    fe.wait_for(lambda: comm.state.get("status") == "connected", what="connected")
    # The arithmetic keeps the marker out of the command's own echo.
    fe.type(comm, "stty raw -echo; echo RAW-$((1+1))-READY; head -c 256 | od -An -tx1 -v; "
                  "stty sane; echo DONE-$((2+2))\r")
    fe.expect_output(comm, b"RAW-2-READY")
    everything = bytes(range(256))  # 0x00-0x1f, 0x7f (DEL) and every high byte
    fe.send_custom(comm, {"type": "input"}, [everything[:128]])
    fe.send_custom(comm, {"type": "input"}, [everything[128:]])
    out = fe.expect_output(comm, b"DONE-4")
    dump = out.split(b"RAW-2-READY", 1)[1].split(b"DONE-4", 1)[0]
    values = [int(token, 16) for token in re.findall(rb"\b[0-9a-f]{2}\b", dump)]
    assert values == list(range(256)), values


def test_magic_command_after_double_dash_stays_an_argv_list(fe, kubeconfig):
    fe.execute(f"import os; os.environ['KUBECONFIG'] = {kubeconfig!r}\n%load_ext jupyter_k8stty")
    fe.execute("""argv = %k8sexec demo -- printf '<%s>' 'a b' '$(echo injected)' ';echo x' '*' '$HOME'""")
    comm = fe.terminal_comm("argv")
    out = fe.expect_output(comm, b"<$HOME>")
    assert b"<a b><$(echo injected)><;echo x><*><$HOME>" in out
    assert fe.eval("argv.session.command") == ["printf", "<%s>", "a b", "$(echo injected)",
                                              ";echo x", "*", "$HOME"]
    fe.wait_for(lambda: comm.state.get("status") in ("exited", "error", "closed"),
                what=f"printf to exit (status {comm.state.get('status')!r})")
    assert (comm.state["status"], comm.state["exit_code"]) == ("exited", 0), comm.state
    # Without a command, the shell is the package's constant, not built from any input.
    fe.execute("shell = %k8sexec demo")
    assert fe.eval("shell.session.command == list(__import__('jupyter_k8stty').exec.session.DEFAULT_SHELL)")
