"""Faults injected in the sandbox: every ExecSession ends (or recovers) clearly and quickly.

Each test queues a fault for the next exec stream (``Sandbox.inject``) and checks that
the session reaches a final status with a readable error within a deadline, and that
its reader and keepalive threads end. Keepalive settings are shortened so a stalled
peer is noticed in about a second instead of a minute.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from collections.abc import Iterator

import pytest
import websocket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_k8stty import ApiError, ExecSession, ExecTimeout, run
from jupyter_k8stty.exec import protocol
from jupyter_k8stty.exec.frames import BUFFER_SIZE
from jupyter_k8stty.sandbox import Sandbox
from jupyter_k8stty.sandbox.faults import HUGE_FRAME, parse_fault
from jupyter_k8stty.sandbox.testing import open_exec
from jupyter_k8stty.sandbox.websocket import unmask

from .helpers import EXPECT_TIMEOUT, OutputCollector, wait_until

#: Seconds within which a broken stream must be reported.
FAILURE_DEADLINE = 5.0
#: Keepalive settings that stand in for "30 s / 30 s" in these tests.
KEEPALIVE = 0.2
KEEPALIVE_TIMEOUT = 0.6
#: Seconds the idle test stays idle: 50 keepalive intervals, the stand-in for 10 minutes.
IDLE_SECONDS = 10.0
TICKER = ["sh", "-c", "while :; do echo tick; sleep 0.05; done"]


@pytest.fixture(scope="module")
def faulty() -> Iterator[Sandbox]:
    """A sandbox of this module's own: faults never leak into other tests' streams."""
    sb = Sandbox().start()
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture(autouse=True)
def _no_leftover_faults(faulty: Sandbox) -> Iterator[None]:
    faulty.faults.clear()
    yield
    faulty.faults.clear()


def start(sb: Sandbox, command: list[str], **kw) -> tuple[ExecSession, OutputCollector]:
    kw.setdefault("keepalive", KEEPALIVE)
    kw.setdefault("keepalive_timeout", KEEPALIVE_TIMEOUT)
    s = ExecSession("demo", command, kubeconfig=sb.kubeconfig_path, **kw)
    out = OutputCollector()
    s.on_output(out)
    s.start()
    return s, out


def assert_ended(s: ExecSession, status: str = "error", *, within: float = FAILURE_DEADLINE) -> None:
    """The session ends with ``status`` in time and leaves no thread behind."""
    started = time.monotonic()
    s.wait(within)
    assert s.done, f"{s!r} still running after {within} s"
    assert s.status == status, (s.status, s.error)
    if s._reader is not None:
        s._reader.join(max(0.1, within - (time.monotonic() - started)))
        assert not s._reader.is_alive(), f"{s._reader.name} outlived the session"
    assert s._keepalive is None or not s._keepalive.watched, "the keepalive outlived the session"


def assert_still_works(s: ExecSession, out: OutputCollector, tag: str = "ALIVE") -> None:
    s.write(f"echo {tag}-$((20+22))\n".encode())
    out.expect(f"{tag}-42".encode())
    assert s.status == "connected"


# -- connection faults --------------------------------------------------------------------


def test_connection_dropped_mid_stream_is_reported(faulty):
    fault = faulty.inject("drop", after=0.3)
    s, out = start(faulty, TICKER)
    out.expect(rb"tick")
    assert fault.wait(EXPECT_TIMEOUT)
    assert_ended(s)
    assert "dropped the connection" in s.error or "closed the stream" in s.error
    assert "before the command's exit status arrived" in s.error


def test_clean_close_without_a_status_is_an_error_not_an_exit(faulty):
    fault = faulty.inject("close", after=0.3)
    s, out = start(faulty, TICKER)
    out.expect(rb"tick")
    assert fault.wait(EXPECT_TIMEOUT)
    assert_ended(s)
    assert s.exit_code is None
    assert "closed the stream before the command's exit status arrived" in s.error


def test_a_stalled_server_is_found_dead_by_keepalive_pings(faulty):
    fault = faulty.inject("stall", after=0.3, seconds=30)
    s, out = start(faulty, TICKER)
    out.expect(rb"tick")
    assert fault.wait(EXPECT_TIMEOUT)
    stalled_at = time.monotonic()
    assert_ended(s, within=KEEPALIVE + KEEPALIVE_TIMEOUT + FAILURE_DEADLINE)
    took = time.monotonic() - stalled_at
    assert took < KEEPALIVE + KEEPALIVE_TIMEOUT + 2, f"the stall was noticed after {took:.1f} s"
    assert f"no answer to a keepalive ping within {KEEPALIVE_TIMEOUT:g} s" in s.error
    assert s.name in s.error


def test_a_stall_is_noticed_even_while_a_write_is_blocked(faulty):
    # The stalled server stops reading once a ping arrives: a big write then blocks
    # in sendall, holding the socket's send lock. Keepalive must not wait behind it.
    fault = faulty.inject("stall", after=0.2, seconds=30)
    s, out = start(faulty, ["sh", "-c", "sleep 600"], tty=False)
    writer_done = threading.Event()

    def flood() -> None:
        try:
            s.write(b"x" * (64 * 1024 * 1024))
        except Exception:
            pass
        writer_done.set()

    assert fault.wait(EXPECT_TIMEOUT)
    threading.Thread(target=flood, daemon=True).start()
    assert_ended(s, within=KEEPALIVE + KEEPALIVE_TIMEOUT + FAILURE_DEADLINE)
    assert "keepalive" in s.error
    assert writer_done.wait(FAILURE_DEADLINE), "the blocked write was not released"


def test_an_idle_session_stays_alive_because_pings_are_answered(faulty):
    s, out = start(faulty, ["sh"], keepalive=0.2, keepalive_timeout=1.0)
    deadline = time.monotonic() + IDLE_SECONDS
    while time.monotonic() < deadline:  # idle: nothing typed, nothing printed
        assert not s.done, s.error
        s.wait(0.5)
    pings, pongs = s.keepalive_stats
    assert pings >= IDLE_SECONDS / 0.2 / 2, (pings, pongs)
    assert pongs >= pings - 1, (pings, pongs)
    assert_still_works(s, out)
    s.close()
    assert_ended(s, "closed")


def test_a_slow_upgrade_within_the_connect_timeout_works(faulty):
    fault = faulty.inject("slow", delay=0.8)
    started = time.monotonic()
    s, out = start(faulty, ["sh"], connect_timeout=5)
    assert time.monotonic() - started >= 0.8
    assert fault.triggered.is_set()
    assert_still_works(s, out)
    s.close()


def test_an_upgrade_slower_than_the_connect_timeout_fails_in_time(faulty):
    faulty.inject("slow", delay=5)
    started = time.monotonic()
    with pytest.raises(ApiError, match="timed out") as info:
        start(faulty, ["sh"], connect_timeout=0.5)
    assert time.monotonic() - started < 0.5 + 2
    assert info.value.status is None


def test_one_deadline_covers_an_upgrade_that_never_answers(faulty):
    # The connect timeout is the default 10 s: the run's deadline is the bound here.
    faulty.inject("slow", delay=5)
    started = time.monotonic()
    with pytest.raises(ExecTimeout):
        run("demo", ["true"], timeout=1, kubeconfig=faulty.kubeconfig_path)
    assert time.monotonic() - started < 1 + 1


def test_throttled_output_is_complete_and_never_mistaken_for_a_dead_peer(faulty):
    size = 40_000
    faulty.inject("throttle", rate=20_000)  # ~2 s for the whole output
    started = time.monotonic()
    s, out = start(faulty, ["head", "-c", str(size), "/dev/zero"], tty=False,
                   keepalive=0.1, keepalive_timeout=0.3)
    assert s.wait(EXPECT_TIMEOUT + 5) == 0, s.error
    assert len(out.data()) == size
    assert time.monotonic() - started > 1.0


def test_restart_ends_sessions_and_a_new_one_works_on_the_same_address(faulty):
    s, out = start(faulty, TICKER)
    out.expect(rb"tick")
    url, token, ca = faulty.url, faulty.token, faulty.ca_pem
    faulty.restart(downtime=0.3)
    assert_ended(s)
    assert "before the command's exit status arrived" in s.error
    assert (faulty.url, faulty.token, faulty.ca_pem) == (url, token, ca)
    again, out2 = start(faulty, ["sh"])
    assert_still_works(again, out2, "RESTARTED")
    again.close()


def test_restart_refused_while_down_then_accepted():
    sb = Sandbox().start()
    try:
        sb.restart()
        assert run("demo", ["echo", "up"], kubeconfig=sb.kubeconfig_path).stdout == b"up\n"
    finally:
        sb.stop()
    with pytest.raises(RuntimeError):
        sb.restart()


# -- malformed frames from the server -----------------------------------------------------


def test_unknown_channel_is_ignored_and_the_session_goes_on(faulty):
    fault = faulty.inject("unknown-channel")
    s, out = start(faulty, ["sh"])
    assert fault.wait(EXPECT_TIMEOUT)
    assert_still_works(s, out)
    assert b"mystery" not in out.data()
    s.close()


def test_invalid_utf8_on_stdout_is_passed_through_raw(faulty):
    fault = faulty.inject("invalid-utf8")
    s, out = start(faulty, ["sh"])
    assert fault.wait(EXPECT_TIMEOUT)
    out.expect(rb"bad\xff\xfe\xc3\(\xed\xa0\x80utf8")
    assert_still_works(s, out)
    s.close()


def test_a_sixteen_megabyte_frame_arrives_whole_in_bounded_pieces_within_the_window(faulty):
    window = 1024 * 1024
    fault = faulty.inject("huge-frame")
    s, out = start(faulty, ["sh"], flow_window=window)
    # Nothing acknowledged: the reader stops inside the frame, a piece past the window.
    assert wait_until(lambda: s.flow.paused, EXPECT_TIMEOUT)
    assert window <= s.flow.unacked <= window + BUFFER_SIZE, s.flow.unacked
    s.on_output(lambda channel, data: s.acknowledge(len(data)))
    s.acknowledge(s.flow.unacked)
    assert fault.wait(EXPECT_TIMEOUT)
    assert wait_until(lambda: out.data().count(b"x") >= HUGE_FRAME, EXPECT_TIMEOUT)
    assert b"x" * HUGE_FRAME in out.data()
    assert max(len(chunk) for _, chunk in out.chunks) <= BUFFER_SIZE
    assert_still_works(s, out)
    s.close()


@pytest.mark.parametrize("kind, quoted", [
    ("bad-status", "b'this is not json'"),
    ("truncated-status", "b'{\"metadata\":{},\"status\":\"Fail'"),
])
def test_a_malformed_status_ends_the_session_with_an_error_quoting_it(faulty, kind, quoted):
    faulty.inject(kind)
    s, _ = start(faulty, ["sh"])
    assert_ended(s)
    assert s.error == f"malformed exec status from the server: {quoted}"


_OPCODES = st.sampled_from([0x1, 0x2, 0x2, 0x2, 0x0, 0x3, 0x9, 0xA])
_SERVER_FRAMES = st.lists(
    st.tuples(_OPCODES, st.one_of(
        st.binary(max_size=300),
        st.tuples(st.sampled_from([1, 2, 3, 4, 5, 255]), st.binary(max_size=200)).map(
            lambda t: bytes((t[0],)) + t[1]),
    )),
    min_size=1, max_size=6,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=_SERVER_FRAMES, then=st.sampled_from(["close", "drop"]))
def test_random_server_frames_never_crash_the_reader(faulty, frames, then):
    faulty.faults.clear()
    errors: list[BaseException] = []
    faulty.inject("frames", frames=tuple(frames), then=then)
    s = ExecSession("demo", ["sh"], kubeconfig=faulty.kubeconfig_path,
                    keepalive=KEEPALIVE, keepalive_timeout=KEEPALIVE_TIMEOUT)
    s.on_output(lambda channel, data: None)
    try:
        s.start()
    except Exception as exc:  # pragma: no cover - a failure to report, not to hide
        errors.append(exc)
    assert not errors
    s.wait(FAILURE_DEADLINE)
    assert s.done, f"still {s.status} after random frames {frames!r}"
    assert s.status in ("error", "exited"), (s.status, s.error)
    if s.status == "error":
        assert s.error and "\n" not in s.error.strip()
    s._reader.join(FAILURE_DEADLINE)
    assert not s._reader.is_alive()


# -- the server survives hostile clients --------------------------------------------------

_CLIENT_FRAMES = st.lists(
    st.tuples(st.integers(0, 15), st.booleans(), st.one_of(
        st.binary(max_size=200),
        st.tuples(st.sampled_from([0, 4, 255, 9]), st.binary(max_size=100)).map(
            lambda t: bytes((t[0],)) + t[1]),
    )),
    min_size=1, max_size=8,
)


def masked_frame(opcode: int, fin: bool, payload: bytes) -> bytes:
    """A client frame with any opcode, even reserved ones websocket-client refuses to build."""
    mask = os.urandom(4)
    n = len(payload)
    first = (0x80 if fin else 0) | opcode
    if n < 126:
        header = struct.pack("!BB", first, 0x80 | n)
    else:
        header = struct.pack("!BBH", first, 0xFE, n)
    return header + mask + unmask(mask, payload)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=_CLIENT_FRAMES)
def test_random_client_frames_never_crash_the_server(faulty, frames):
    crashed: list[str] = []
    previous = threading.excepthook
    threading.excepthook = lambda args: crashed.append(f"{args.thread}: {args.exc_value!r}")
    try:
        ws = open_exec(faulty, "demo", ["cat"], stdin=True, timeout=FAILURE_DEADLINE)
        try:
            for opcode, fin, payload in frames:
                ws.sock.sendall(masked_frame(opcode, fin, payload))
        except (OSError, websocket.WebSocketException):
            pass  # the server may hang up on a protocol error: that is allowed
        finally:
            ws.close(timeout=0.5)
        result = run("demo", ["echo", "still-serving"], kubeconfig=faulty.kubeconfig_path,
                     timeout=FAILURE_DEADLINE)
        assert result.stdout == b"still-serving\n"
    finally:
        threading.excepthook = previous
    assert not crashed


def test_cli_fault_specs_parse_and_bad_ones_are_refused():
    assert parse_fault("stall:after=2,seconds=60") == ("stall", {"after": 2.0, "seconds": 60.0})
    assert parse_fault("huge-frame:count=3") == ("huge-frame", {"count": 3})
    for bad in ("nonsense", "stall:after", "stall:colour=red", "throttle"):
        with pytest.raises(ValueError):
            parse_fault(bad)


def test_frames_fault_reaches_a_raw_client_exactly(faulty):
    faulty.inject("frames", frames=((0x2, b"\x01raw-bytes"),), then="continue")
    ws = open_exec(faulty, "demo", ["sleep", "5"])
    try:
        seen = []
        while len(seen) < 2:
            opcode, data = ws.recv_data()
            seen.append(data)
        assert seen == [bytes((protocol.STDOUT_CHANNEL,)), b"\x01raw-bytes"]
    finally:
        ws.close()
