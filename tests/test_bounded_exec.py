"""Issue 16 for the exec core: every deadline holds within a second, close never waits on
the pod, output is bounded, and bad arguments fail at the edge with one line."""

from __future__ import annotations

import math
import socket
import threading
import time

import psutil
import pytest

from jupyter_k8stty import (
    ApiError,
    ArgumentError,
    ExecSession,
    ExecTarget,
    ExecTimeout,
    StreamError,
    TargetError,
    run,
    run_many,
)
from jupyter_k8stty.sandbox import Sandbox

SLACK = 1.0  # every deadline holds within a second


@pytest.fixture
def silent_kubeconfig(tmp_path):
    """A kubeconfig whose server accepts TCP connections and never answers."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        with Sandbox(pods=[]) as sb:
            path = sb.write_kubeconfig(tmp_path / "kc", server=f"https://127.0.0.1:{silent.getsockname()[1]}")
        yield path


def test_run_timeout_holds_while_the_pod_does_not_read_stdin(kubeconfig):
    started = time.monotonic()
    with pytest.raises(ExecTimeout, match="did not finish within 2 s"):
        run("demo", ["sh", "-c", "sleep 20; wc -c"], stdin=b"z" * 10_000_000, timeout=2,
            kubeconfig=kubeconfig)
    assert time.monotonic() - started < 2 + SLACK


def test_close_returns_while_a_writer_is_blocked(kubeconfig):
    s = ExecSession("demo", ["sleep", "30"], tty=False, kubeconfig=kubeconfig).start()
    failures: list[BaseException] = []

    def write() -> None:
        try:
            s.write(b"x" * 20_000_000)  # far more than the socket and pipe buffers hold
        except StreamError as exc:
            failures.append(exc)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    time.sleep(0.5)
    assert writer.is_alive(), "the write should be blocked on the full stdin"
    started = time.monotonic()
    s.close()
    assert time.monotonic() - started < SLACK
    assert s.status == "closed"
    writer.join(SLACK)
    assert not writer.is_alive()
    assert failures and isinstance(failures[0], StreamError)


def test_a_tty_program_that_does_not_read_ends_with_the_session(kubeconfig):
    # A paste into a raw-mode program (an editor, a REPL) busy elsewhere fills the
    # terminal's input buffer; the pod side must still see the client leave, and hang the
    # program up, as with a pipe.
    out = bytearray()
    s = ExecSession("demo", ["sh", "-c", "stty raw -echo; echo pid=$$; exec sleep 30"], tty=True,
                    kubeconfig=kubeconfig)
    s.on_output(lambda _channel, data: out.extend(data))
    s.start()
    deadline = time.monotonic() + 10
    while b"pid=" not in out or b"\n" not in out[out.find(b"pid="):]:
        assert time.monotonic() < deadline, bytes(out)
        time.sleep(0.02)
    pid = int(out[out.find(b"pid=") + 4:].split()[0])
    sleeper = psutil.Process(pid)

    def paste() -> None:
        try:
            s.write(b"y" * 20_000_000)
        except StreamError:
            pass

    threading.Thread(target=paste, daemon=True).start()
    time.sleep(0.5)
    s.close()
    gone, _ = psutil.wait_procs([sleeper], timeout=2 * SLACK)
    assert gone, f"{sleeper.name()} (pid {pid}) still runs after the session closed"


def test_one_deadline_covers_a_server_that_never_answers(silent_kubeconfig):
    started = time.monotonic()
    with pytest.raises(ExecTimeout, match="did not start within 2 s"):
        run("demo", ["true"], timeout=2, kubeconfig=silent_kubeconfig)
    assert time.monotonic() - started < 2 + SLACK
    # the exec upgrade itself (no lookup first)
    started = time.monotonic()
    session = ExecSession("demo", ["true"], kubeconfig=silent_kubeconfig, resolve=False)
    with pytest.raises(ApiError, match="timed out"):
        session.start(deadline=time.monotonic() + 2)
    assert time.monotonic() - started < 2 + SLACK
    assert session.status == "error"


def test_run_many_deadline_covers_connecting(silent_kubeconfig):
    started = time.monotonic()
    results = run_many(["a", "b", "c"], ["true"], timeout=2, kubeconfig=silent_kubeconfig)
    assert time.monotonic() - started < 2 + SLACK
    assert all(r.exit_code is None and "timed out" in r.error for r in results.values())


def test_run_keeps_at_most_max_output_and_says_so(kubeconfig):
    result = run("demo", ["head", "-c", "20000000", "/dev/zero"], max_output=1_000_000,
                 kubeconfig=kubeconfig)
    assert result.exit_code == 0
    assert len(result.stdout) == 1_000_000
    assert result.stdout_dropped == 19_000_000
    assert result.truncated
    assert result.cut_notes() == ["stdout cut at 976.6 KiB: 18.1 MiB more dropped "
                                  "(raise max_output to keep more)"]


def test_timeout_during_a_flood_is_bounded_in_time_and_memory(kubeconfig):
    proc = psutil.Process()
    before = proc.memory_info().rss
    started = time.monotonic()
    with pytest.raises(ExecTimeout) as info:
        run("demo", ["yes", "flood"], timeout=2, max_output=4 << 20, kubeconfig=kubeconfig)
    assert time.monotonic() - started < 2 + SLACK
    assert len(info.value.stdout) == 4 << 20
    assert "4194304 bytes of stdout" in str(info.value)
    assert proc.memory_info().rss - before < 64 << 20


def test_fanout_memory_is_bounded_by_pods_times_limit(kubeconfig):
    results = run_many(["demo"], ["head", "-c", "5000000", "/dev/zero"], max_output=100_000,
                       kubeconfig=kubeconfig)
    [result] = results.values()
    assert result.ok and len(result.stdout) == 100_000 and result.stdout_dropped == 4_900_000


@pytest.mark.parametrize("command, message", [
    ([], "command is empty"),
    ("ls -l", "not a string"),
    (["echo", "a\x00b"], "NUL byte"),
    (["echo", "\udcff"], "cannot be encoded as UTF-8"),
    ([b"ls"], "must be a string"),
])
def test_bad_commands_fail_before_any_request(command, message):
    for call in (lambda: run("demo", command), lambda: run_many(["demo"], command),
                 lambda: ExecSession("demo", command)):
        with pytest.raises(ArgumentError, match=message):
            call()


def test_input_that_cannot_be_encoded_is_one_line_and_nul_bytes_pass(kubeconfig):
    bad = "caf\udce9"  # a lone surrogate, as a wrongly decoded file name gives
    for call in (lambda: run("demo", ["cat"], stdin=bad, kubeconfig=kubeconfig),
                 lambda: run_many(["demo"], ["cat"], stdin=bad, kubeconfig=kubeconfig)):
        with pytest.raises(ArgumentError, match=r"stdin cannot be encoded as UTF-8 \(surrogates"):
            call()
    with ExecSession("demo", ["cat"], tty=False, stdin=True, kubeconfig=kubeconfig) as session:
        chunks: list[bytes] = []
        session.on_output(lambda _channel, data: chunks.append(data))
        with pytest.raises(ArgumentError, match="input cannot be encoded as UTF-8"):
            session.write(bad)
        session.write("still usable \x00 caf\u00e9")  # the session goes on; NUL is data
        session.close_stdin()
        assert session.wait(10) == 0
    assert b"".join(chunks) == "still usable \x00 caf\u00e9".encode()


@pytest.mark.parametrize("timeout", [0, -1, math.nan, math.inf, "2", True])
def test_timeouts_follow_one_rule(timeout):
    for call in (lambda: run("demo", ["true"], timeout=timeout),
                 lambda: run_many(["demo"], ["true"], timeout=timeout)):
        with pytest.raises(ArgumentError, match="timeout must be"):
            call()


@pytest.mark.parametrize("where, message", [
    ({"namespace": "a\x00b"}, "invalid namespace"),
    ({"impersonate": "jane\r\nX: y"}, "invalid user to impersonate"),
    ({"impersonate_groups": ["devs"]}, "needs a user"),
    ({"pod_running_timeout": -1}, "pod_running_timeout must be"),
    ({"pod_running_timeout": math.nan}, "pod_running_timeout must be"),
    ({"kubeconfig": "a\x00b"}, "invalid kubeconfig"),
])
def test_bad_targets_fail_at_the_edge(where, message):
    with pytest.raises(TargetError, match=message):
        ExecTarget("demo", **where)
    with pytest.raises(TargetError, match=message):
        run("demo", ["true"], **where)


def test_pod_names_with_nul_are_rejected():
    with pytest.raises(TargetError, match="invalid pod name"):
        run("de\x00mo", ["true"])


def test_sizes_are_checked(kubeconfig):
    for rows, cols in ((0, 80), (-3, 80), (24, 10**6), (24.5, 80)):
        with pytest.raises(ArgumentError):
            ExecSession("demo", ["true"], rows=rows, cols=cols)


def test_fanout_lookups_are_bounded_by_the_timeout(silent_kubeconfig):
    started = time.monotonic()
    with pytest.raises(ApiError, match="timed out"):
        run_many("app=web", ["true"], timeout=2, kubeconfig=silent_kubeconfig)
    assert time.monotonic() - started < 2 + SLACK
    started = time.monotonic()
    results = run_many(["deploy/web"], ["true"], timeout=2, kubeconfig=silent_kubeconfig)
    assert time.monotonic() - started < 2 + SLACK
    assert "timed out" in results["deploy/web"].error
