"""ExecSession and run() against the sandbox: real TLS sockets, real PTYs, real client."""

from __future__ import annotations

import threading
import time
import tracemalloc

import pytest

from jupyter_k8stty import ApiError, ConfigError, ExecSession, ExecTimeout, StreamError, run
from jupyter_k8stty.exec import protocol

from .helpers import EXPECT_TIMEOUT, OutputCollector, process_alive, wait_until

MB = 1024 * 1024


def session(kubeconfig, command, **kw) -> tuple[ExecSession, OutputCollector]:
    s = ExecSession("demo", command, kubeconfig=kubeconfig, **kw)
    out = OutputCollector()
    s.on_output(out)
    return s, out


def test_run_keeps_stdout_and_stderr_apart(kubeconfig):
    result = run("demo", ["sh", "-c", "echo out; echo err >&2; echo out2"], kubeconfig=kubeconfig)
    assert result.stdout == b"out\nout2\n"
    assert result.stderr == b"err\n"
    assert result.exit_code == 0 and result.ok
    assert result.pod == "default/demo"


@pytest.mark.parametrize(
    "command, code",
    [
        (["true"], 0),
        (["sh", "-c", "exit 3"], 3),
        (["sh", "-c", "no-such-command-here"], 127),
        (["sh", "-c", "kill -9 $$"], 137),
    ],
)
def test_exit_codes_come_from_the_status_channel(kubeconfig, command, code):
    assert run("demo", command, kubeconfig=kubeconfig).exit_code == code


def test_exit_code_of_an_interactive_session(kubeconfig):
    s, out = session(kubeconfig, ["sh"])
    s.start()
    s.write(b"echo ready; exit 5\n")
    assert s.wait(EXPECT_TIMEOUT) == 5
    assert s.status == "exited" and s.error is None
    assert b"ready" in out.data()


def test_check_returncode_raises_exec_error_with_output(kubeconfig):
    from jupyter_k8stty import ExecError

    result = run("demo", ["sh", "-c", "echo partial; echo bad >&2; exit 4"], kubeconfig=kubeconfig)
    with pytest.raises(ExecError) as info:
        result.check_returncode()
    assert info.value.exit_code == 4
    assert info.value.stdout == b"partial\n" and info.value.stderr == b"bad\n"


def test_missing_executable_is_an_error_with_the_servers_message(kubeconfig):
    with pytest.raises(StreamError, match="executable file not found"):
        run("demo", ["no-such-binary-xyz"], kubeconfig=kubeconfig)
    s, _ = session(kubeconfig, ["no-such-binary-xyz"])
    s.start()
    assert s.wait(EXPECT_TIMEOUT) is None
    assert s.status == "error" and "executable file not found" in s.error


def test_tty_merges_stderr_into_the_terminal(kubeconfig):
    s, out = session(kubeconfig, ["sh", "-c", "echo to-stderr >&2"], tty=True)
    s.start()
    assert s.wait(EXPECT_TIMEOUT) == 0
    assert b"to-stderr" in out.data(protocol.STDOUT_CHANNEL)
    assert out.data(protocol.STDERR_CHANNEL) == b""


def test_resize_reaches_the_pty(kubeconfig):
    s, out = session(kubeconfig, ["sh"], rows=30, cols=90)
    with s:
        s.write(b"stty size\n")
        out.expect(rb"30 90")
        s.resize(41, 123)
        s.write(b"stty size\n")
        out.expect(rb"41 123")


def test_multibyte_character_split_across_frames_arrives_intact(kubeconfig):
    # The euro sign is three bytes; the pod writes the first two, pauses, then the last.
    command = ["sh", "-c", r"printf '\342\202'; sleep 0.3; printf '\254 end\n'"]
    s, out = session(kubeconfig, command, tty=False)
    s.start()
    assert s.wait(EXPECT_TIMEOUT) == 0
    stdout = [d for c, d in out.chunks if c == protocol.STDOUT_CHANNEL]
    assert len(stdout) >= 2, "the character should have been split across frames"
    assert stdout[0] == b"\xe2\x82"
    assert b"".join(stdout).decode("utf-8") == "\u20ac end\n"


def test_close_stdin_ends_cat(kubeconfig):
    s, out = session(kubeconfig, ["cat"], tty=False)
    s.start()
    assert s.protocol == protocol.V5_PROTOCOL
    s.write(b"abc\n")
    out.expect(rb"abc")
    s.close_stdin()
    assert s.wait(EXPECT_TIMEOUT) == 0
    assert out.data() == b"abc\n"


def test_run_feeds_stdin_and_closes_it(kubeconfig):
    payload = bytes(range(256)) * 4000
    result = run("demo", ["wc", "-c"], stdin=payload, kubeconfig=kubeconfig)
    assert result.stdout.strip() == str(len(payload)).encode()
    echoed = run("demo", ["cat"], stdin=payload, kubeconfig=kubeconfig)
    assert echoed.stdout == payload


def test_writes_from_many_threads_all_arrive(kubeconfig):
    s, out = session(kubeconfig, ["wc", "-c"], tty=False)
    s.start()
    threads = [threading.Thread(target=lambda: [s.write(b"x" * 1000) for _ in range(50)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s.close_stdin()
    assert s.wait(EXPECT_TIMEOUT) == 0
    assert out.data().strip() == b"200000"


def test_output_callback_failure_ends_the_session_with_a_visible_error(kubeconfig):
    s = ExecSession("demo", ["echo", "hi"], kubeconfig=kubeconfig, tty=False)
    s.on_output(lambda channel, data: 1 / 0)
    s.start()
    assert s.wait(EXPECT_TIMEOUT) is None
    assert s.status == "error" and "ZeroDivisionError" in s.error


def test_exit_callback_runs_once_even_when_registered_late(kubeconfig):
    calls = []
    s = ExecSession("demo", ["true"], kubeconfig=kubeconfig, tty=False)
    s.on_exit(calls.append)
    s.start()
    s.wait(EXPECT_TIMEOUT)
    s.on_exit(calls.append)
    s.close()
    assert calls == [s, s]


def test_close_ends_reader_thread_and_hangs_up_the_shell(kubeconfig):
    s, out = session(kubeconfig, ["sh"])
    s.start()
    s.write(b"echo $$\n")
    pid = int(out.expect(rb"(\d+)\r?\n").group(1))
    s.close()
    assert s.status == "closed" and s.exit_code is None
    s._reader.join(5)
    assert not s._reader.is_alive()
    assert not s._keepalive.watched
    assert wait_until(lambda: not process_alive(pid)), "the pod's shell should get a hang-up"
    with pytest.raises(StreamError):
        s.write(b"too late")


def test_idle_session_with_keepalive_stays_usable(kubeconfig):
    s, out = session(kubeconfig, ["sh"], keepalive=0.2, keepalive_timeout=2)
    with s:
        time.sleep(1.5)  # several keepalive intervals of silence
        assert s.status == "connected"
        s.write(b"echo still-here\n")
        out.expect(rb"still-here")


def test_run_timeout_abandons_the_command(kubeconfig):
    started = time.monotonic()
    with pytest.raises(ExecTimeout):
        run("demo", ["sleep", "30"], timeout=0.5, kubeconfig=kubeconfig)
    assert time.monotonic() - started < 5


def test_command_must_be_an_argv_list(kubeconfig):
    with pytest.raises(TypeError, match="list"):
        run("demo", "echo hi", kubeconfig=kubeconfig)


# -- errors before the stream opens --------------------------------------------------------


def test_missing_pod_is_a_404_with_kubernetes_message(kubeconfig):
    with pytest.raises(ApiError) as info:
        ExecSession("nope", ["true"], kubeconfig=kubeconfig).start()
    assert info.value.status == 404
    assert str(info.value) == 'pods "nope" not found'


def test_wrong_container_is_a_400_naming_it(kubeconfig):
    with pytest.raises(ApiError) as info:
        run("demo", ["true"], container="nope", kubeconfig=kubeconfig)
    assert info.value.status == 400
    assert "container nope is not valid for pod demo" in str(info.value)


def test_completed_pod_is_refused(kubeconfig):
    with pytest.raises(ApiError, match="completed pod") as info:
        run("finished", ["true"], kubeconfig=kubeconfig)
    assert info.value.status == 400


def test_other_namespace_and_container(kubeconfig):
    result = run("demo", ["sh", "-c", "echo $KUBERNETES_CONTAINER"], container="sidecar",
                 kubeconfig=kubeconfig)
    assert result.stdout == b"sidecar\n"
    assert run("analytics", ["true"], namespace="team-a", kubeconfig=kubeconfig).exit_code == 0


def test_wrong_token_is_reported_as_rejected_credentials(kubeconfig, tmp_path, sandbox):
    bad = tmp_path / "bad-kubeconfig"
    bad.write_text(open(kubeconfig).read().replace(sandbox.token, "not-the-token"))
    with pytest.raises(ApiError) as info:
        run("demo", ["true"], kubeconfig=str(bad))
    assert info.value.status == 401
    assert "rejected the credentials" in str(info.value)
    assert "not-the-token" not in str(info.value)


def test_no_configuration_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ConfigError, match="no Kubernetes configuration found"):
        run("demo", ["true"], kubeconfig=str(tmp_path / "missing"))


def test_unreachable_cluster_fails_within_seconds(kubeconfig, tmp_path, sandbox):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = tmp_path / "dead-kubeconfig"
    dead.write_text(open(kubeconfig).read().replace(f":{sandbox.port}", f":{port}"))
    started = time.monotonic()
    with pytest.raises(ApiError, match="cannot reach the Kubernetes API server") as info:
        run("demo", ["true"], kubeconfig=str(dead))
    assert info.value.status is None
    assert time.monotonic() - started < 5


def test_server_killed_mid_stream_reports_error_and_ends_reader(fresh_sandbox):
    s = ExecSession("demo", ["sh", "-c", "while :; do echo tick; sleep 0.05; done"],
                    kubeconfig=fresh_sandbox.kubeconfig_path)
    out = OutputCollector()
    s.on_output(out)
    s.start()
    out.expect(rb"tick")
    reader = s._reader
    started = time.monotonic()
    fresh_sandbox.stop()
    assert s.wait(5) is None
    assert time.monotonic() - started < 5
    assert s.status == "error"
    assert "before the command's exit status arrived" in s.error
    reader.join(5)
    assert not reader.is_alive()


def test_dropped_connection_is_reported(fresh_sandbox):
    s = ExecSession("demo", ["sleep", "30"], kubeconfig=fresh_sandbox.kubeconfig_path, tty=False)
    s.start()
    fresh_sandbox.drop_connections()
    assert s.wait(5) is None
    assert s.status == "error" and "exit status" in s.error


def test_many_short_commands_never_hang_on_buffered_tls(kubeconfig):
    # The sandbox writes the last output frame and the status in one TLS record; a
    # reader that selected on the raw socket without draining the TLS buffer hangs here.
    for i in range(40):
        result = run("demo", ["sh", "-c", f"echo {i}"], kubeconfig=kubeconfig, timeout=10)
        assert result.stdout == f"{i}\n".encode()


# -- volume --------------------------------------------------------------------------------


def _stream_zeros(kubeconfig, nbytes: int) -> tuple[int, float, int]:
    received = 0

    def count(channel, data):
        nonlocal received
        received += len(data)

    s = ExecSession("demo", ["head", "-c", str(nbytes), "/dev/zero"], kubeconfig=kubeconfig, tty=False)
    s.on_output(count)
    tracemalloc.start()
    started = time.perf_counter()
    s.start()
    code = s.wait(120)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert code == 0
    return received, elapsed, peak


@pytest.mark.slow
def test_fifty_megabytes_stream_in_flat_memory_and_linear_time(kubeconfig):
    small, t_small, _ = _stream_zeros(kubeconfig, 10 * MB)
    big, t_big, peak = _stream_zeros(kubeconfig, 50 * MB)
    assert (small, big) == (10 * MB, 50 * MB)
    assert peak < 8 * MB, f"memory grew with the output: peak {peak / MB:.1f} MB"
    # Linear: 5x the bytes in well under 25x the time (a quadratic path takes ~25x).
    assert t_big < 12 * t_small + 1.0, f"10 MB in {t_small:.2f}s but 50 MB in {t_big:.2f}s"


@pytest.mark.slow
def test_run_returns_fifty_megabytes_without_extra_copies(kubeconfig):
    tracemalloc.start()
    result = run("demo", ["head", "-c", str(50 * MB), "/dev/urandom"], kubeconfig=kubeconfig)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(result.stdout) == 50 * MB and result.exit_code == 0
    # The chunks plus one joined copy; the client's capture_all path holds several copies.
    assert peak < 2.4 * 50 * MB, f"peak {peak / MB:.0f} MB for 50 MB of output"


def test_view_callbacks_see_every_byte_as_the_bytes_callbacks_do(kubeconfig):
    # 3.4 MB in the sandbox's 32 KiB frames: the reader's 256 KiB buffer is refilled many
    # times, and a view is only valid during its call, so a view callback must copy.
    seen_as_bytes, seen_as_views, kinds = bytearray(), {1: bytearray(), 2: bytearray()}, set()

    def keep_view(channel: int, data: memoryview) -> None:
        kinds.add(type(data))
        seen_as_views[channel].extend(data)

    s = ExecSession("demo", ["sh", "-c", "seq 1 500000; echo err >&2"], tty=False, stdin=False,
                    kubeconfig=kubeconfig)
    s.on_output(lambda channel, data: seen_as_bytes.extend(data) if channel == 1 else None)
    s.on_output(keep_view, view=True)
    assert s.start().wait(EXPECT_TIMEOUT) == 0
    expected = "".join(f"{i}\n" for i in range(1, 500001)).encode()
    assert bytes(seen_as_bytes) == expected
    assert bytes(seen_as_views[1]) == expected and bytes(seen_as_views[2]) == b"err\n"
    assert kinds == {memoryview}


def test_falls_back_to_v4_when_the_server_has_no_v5(tmp_path):
    from jupyter_k8stty.sandbox import Sandbox

    with Sandbox(protocols=(protocol.V4_PROTOCOL,)) as old_server:
        s = ExecSession("demo", ["sh", "-c", "echo via-v4; exit 2"], tty=False,
                        kubeconfig=old_server.kubeconfig_path)
        out = OutputCollector()
        s.on_output(out)
        s.start()
        assert s.protocol == protocol.V4_PROTOCOL
        assert s.wait(EXPECT_TIMEOUT) == 2
        assert out.data() == b"via-v4\n"
        cat = ExecSession("demo", ["cat"], tty=False, kubeconfig=old_server.kubeconfig_path).start()
        with pytest.raises(StreamError, match="v4, which cannot close stdin"):
            cat.close_stdin()
        cat.close()


def test_every_session_shares_one_keepalive_thread(kubeconfig):
    import threading

    from jupyter_k8stty.exec.keepalive import watcher_thread

    sessions = [ExecSession("demo", ["sleep", "30"], tty=False, kubeconfig=kubeconfig, keepalive=0.2,
                            keepalive_timeout=2).start() for _ in range(6)]
    names = [t.name for t in threading.enumerate()]
    assert names.count("k8stty-keepalive") == 1
    assert not [n for n in names if n.startswith("k8stty-keepalive-")]
    time.sleep(1.0)  # several pings each, all answered
    assert all(s.keepalive_stats[0] >= 2 and not s.done for s in sessions)
    for s in sessions:
        s.close()
    assert not any(s._keepalive.watched for s in sessions)
    # the thread ends with its last watch (other tests' sessions may still be watched)
    assert wait_until(lambda: _watched_elsewhere(sessions) or watcher_thread() is None)


def _watched_elsewhere(ours) -> bool:
    from jupyter_k8stty.exec.keepalive import _WATCHER

    with _WATCHER._cond:
        return any(k not in {s._keepalive for s in ours} for k in _WATCHER._due)
