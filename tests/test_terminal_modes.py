"""A terminal's session mode (attach, debug container, node shell) and its flags, without a kernel.

What ``Terminal``'s ``attach``/``debug``/``debug_target``/``debug_profile`` and
``%k8sexec``'s ``--attach``/``--debug``/``--target``/``--profile`` accept and refuse, what a
reconnect of a debug terminal joins, and completion after ``node/`` and ``--profile``. The
terminals themselves are tested in a kernel in ``tests/widget/test_debug_terminal.py``.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from IPython.core.error import UsageError

from jupyter_k8stty import DebugError, DebugSpec, ExecTarget, StreamError
from jupyter_k8stty.errors import NO_SHELL_HINT, ArgumentError
from jupyter_k8stty.exec import DebugError as ExecDebugError
from jupyter_k8stty.exec import DebugSpec as ExecDebugSpec
from jupyter_k8stty.exec.profiles import DEBUG_IMAGE_ENV
from jupyter_k8stty.magics import completion
from jupyter_k8stty.magics.terminal import line_parser
from jupyter_k8stty.sandbox import PodSpec
from jupyter_k8stty.widget.connection import Connection
from jupyter_k8stty.widget.reconnect import Backoff
from jupyter_k8stty.widget.session_modes import (
    debug_mode,
    follow_debug_container,
    no_shell_error,
    offered_debug_image,
    terminal_mode,
)

from .notebook_kernel import in_process_shell
from .widget.test_connection import Recorder

# ---- the mode ----------------------------------------------------------------------------


def test_debug_spec_and_error_are_exported():
    assert DebugSpec is ExecDebugSpec and DebugError is ExecDebugError


def test_a_plain_terminal_has_no_mode():
    assert terminal_mode(ExecTarget("demo"), None) == {}


def test_debug_arguments_make_one_spec(monkeypatch):
    monkeypatch.delenv(DEBUG_IMAGE_ENV, raising=False)
    mode = terminal_mode(ExecTarget("demo"), None, debug=True, debug_target="main",
                         debug_profile="netadmin")
    assert mode == {"debug": DebugSpec("busybox", target_container="main", profile="netadmin")}
    assert terminal_mode(ExecTarget("demo"), None, attach=True) == {"attach": True}


def test_a_node_profile_alone_gives_the_node_pod_that_profile():
    mode = terminal_mode(ExecTarget("node/gpu-1"), None, debug_profile="sysadmin")
    assert mode["debug"].profile == "sysadmin"


@pytest.mark.parametrize(("target", "kw", "message"), [
    ("demo", {"attach": True, "debug": True}, "give one of them"),
    ("demo", {"attach": True, "command": ["sh"]}, "give no command"),
    ("node/gpu-1", {"attach": True}, "no main process to attach to"),
    ("node/gpu-1", {"debug_target": "main"}, "applies to pods, not to a node"),
    ("demo", {"debug": True, "persist": True}, "does not combine with debug"),
    ("demo", {"attach": True, "persist": "work"}, "does not combine with attach"),
    ("node/gpu-1", {"persist": True}, "does not combine with node/gpu-1"),
    ("demo", {"debug": "Not An Image"}, "invalid debug image"),
    ("demo", {"debug": True, "debug_profile": "root"}, "unknown debug profile 'root'"),
    ("demo", {"debug_target": "main"}, "needs debug="),
])
def test_arguments_that_do_not_go_together_are_one_line(target, kw, message):
    command = kw.pop("command", None)
    with pytest.raises(ArgumentError, match=message) as info:
        terminal_mode(ExecTarget(target), command, **kw)
    assert "\n" not in str(info.value)


def test_the_debug_action_adds_the_default_image(monkeypatch):
    monkeypatch.setenv(DEBUG_IMAGE_ENV, "mirror.example/tools/busybox:1.36")
    assert offered_debug_image() == "mirror.example/tools/busybox:1.36"
    mode = debug_mode(ExecTarget("model", container="main"), {})
    assert mode == {"debug": DebugSpec("mirror.example/tools/busybox:1.36")}
    monkeypatch.setenv(DEBUG_IMAGE_ENV, "Not Valid")
    assert offered_debug_image() == ""  # the action itself then says what is wrong
    with pytest.raises(ArgumentError, match=DEBUG_IMAGE_ENV):
        debug_mode(ExecTarget("model"), {})


def test_the_debug_action_is_refused_for_node_shells_and_attach():
    with pytest.raises(ArgumentError, match="already runs in a debug pod"):
        debug_mode(ExecTarget("node/gpu-1"), {})
    with pytest.raises(ArgumentError, match="attaches to a main process"):
        debug_mode(ExecTarget("repl"), {"attach": True})


def _started(pod: str, namespace: str, debug_container: str | None) -> SimpleNamespace:
    return SimpleNamespace(pod=pod, namespace=namespace, debug_container=debug_container)


def test_a_reconnect_joins_the_debug_container_in_its_pod():
    target = ExecTarget("deploy/web", namespace="prod", container="main", context="c")
    mode = {"debug": DebugSpec("busybox")}
    after, after_mode = follow_debug_container(target, None, mode,
                                               _started("web-abc", "prod", "debugger-x2x2x"))  # type: ignore[arg-type]
    assert (after.name, after.namespace, after.container, after.context) == (
        "web-abc", "prod", "debugger-x2x2x", "c")
    assert after.pod == "web-abc" and after_mode == {"attach": True}
    # With a command, the command runs in the debug container again.
    _, with_command = follow_debug_container(target, ["top"], mode,
                                             _started("web-abc", "prod", "debugger-x2x2x"))  # type: ignore[arg-type]
    assert with_command == {}


def test_a_session_without_a_debug_container_changes_nothing():
    target = ExecTarget("demo")
    assert follow_debug_container(target, None, {"attach": True},
                                  _started("demo", "default", None)) == (target, {"attach": True})  # type: ignore[arg-type]


def test_a_no_shell_error_leads_with_the_hint():
    error = 'exec: "sh": executable file not found in $PATH: unknown: ' + NO_SHELL_HINT
    assert no_shell_error(error) == (f"{NO_SHELL_HINT}; exec: \"sh\": executable file not found in "
                                     "$PATH: unknown")
    assert no_shell_error("connection refused\nagain") == "connection refused again"


def test_dockershims_exit_126_offers_debug_without_reconnecting(k8s_sandbox_factory):
    # Before 1.24 a missing shell is an exit code, not an error: the offer is the same.
    sandbox = k8s_sandbox_factory(pods=[PodSpec("model", images={"main": "gcr.io/distroless/static"})],
                                  container_runtime="docker")
    target = ExecTarget("model", kubeconfig=sandbox.kubeconfig_path)
    rec = Recorder()
    connection = Connection(target, None, sink=rec, on_change=rec, backoff=Backoff(first=0.1))
    connection.connect()
    try:
        rec.wait_for(lambda: rec.states and rec.states[-1].status == "exited", "the exit")
        time.sleep(0.5)
        state = rec.states[-1]
        assert (state.status, state.exit_code, state.no_shell) == ("exited", 126, True)
        assert all(s.reconnect_attempt == 0 for s in rec.states)
        assert b"There is no shell in container main of pod default/model" in rec.output
    finally:
        connection.close()


@pytest.mark.parametrize("when", ["ended", "ending"])
def test_a_session_that_ends_before_its_first_resize_still_offers_debug(k8s_sandbox_factory,
                                                                      monkeypatch, when):
    # start() sends the first resize after the reader started; a missing shell may have
    # ended the session by then ("is error"), or be ending it ("socket is already
    # closed"). Make each race certain.
    from jupyter_k8stty.exec.session import ExecSession

    resize = ExecSession.resize

    def late_resize(self, rows, cols):
        if self.protocol is not None:
            if when == "ending":
                raise StreamError(f"could not send to {self.name}: socket is already closed.")
            self._done.wait(10)
        return resize(self, rows, cols)

    monkeypatch.setattr(ExecSession, "resize", late_resize)
    sandbox = k8s_sandbox_factory(pods=[PodSpec("model", images={"main": "gcr.io/distroless/static"})])
    rec = Recorder()
    connection = Connection(ExecTarget("model", kubeconfig=sandbox.kubeconfig_path), None, sink=rec,
                            on_change=rec, backoff=Backoff(first=0.1))
    connection.connect()
    try:
        rec.wait_for(lambda: rec.states and rec.states[-1].status == "error", "the error")
        state = rec.states[-1]
        assert state.no_shell and state.error.startswith(NO_SHELL_HINT), state
    finally:
        connection.close()


# ---- the magic's flags ---------------------------------------------------------------------


def test_the_flags_parse_into_terminal_keywords():
    args = line_parser().parse_args(["demo", "--debug", "busybox:1.36", "--target", "main", "--profile",
                                     "restricted"])
    assert (args.debug, args.debug_target, args.debug_profile, args.attach) == (
        "busybox:1.36", "main", "restricted", False)
    args = line_parser().parse_args(["demo", "--debug"])
    assert args.debug is True
    args = line_parser().parse_args(["repl", "--attach", "-c", "main"])
    assert args.attach and args.container == "main" and args.debug is None


@pytest.fixture(scope="module")
def ip():
    return in_process_shell()


@pytest.mark.parametrize(("line", "message"), [
    ("--debug model", "--debug took 'model' as its IMAGE and no TARGET is left: put the TARGET first"),
    ("--attach", "need a TARGET or -l SELECTOR"),
    ("demo --profile root --debug", "argument --profile: invalid choice: 'root'"),
    ("demo --attach -- sh", "%k8sexec: attach joins the container's main process: give no command"),
    ("demo --attach --debug", "give one of them"),
    ("node/gpu-1 --target main", "applies to pods, not to a node"),
    ("demo --debug 'Bad Image'", "invalid debug image 'Bad Image'"),
])
def test_bad_flag_combinations_are_one_usage_line(ip, line, message):
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("k8sexec", line)
    assert message in str(info.value)
    assert str(info.value).splitlines()[0].startswith("%k8sexec")


# ---- completion ----------------------------------------------------------------------------


def test_node_names_complete_after_node_slash(k8s_sandbox):
    completion._completion_cache.clear()
    assert completion.complete_line("%k8sexec node/") == [
        "node/sandbox-gpu", "node/sandbox-node", "node/sandbox-worker"]
    assert completion.complete_line("%k8sexec no/sandbox-w") == ["no/sandbox-worker"]
    assert completion.complete_line("%k8sexec nod") == ["node/"]


def test_profiles_complete_after_profile():
    assert completion.complete_line("%k8sexec demo --debug --profile ") == [
        "baseline", "general", "netadmin", "restricted", "sysadmin"]
    assert completion.complete_line("%k8sexec demo --debug --profile re") == ["restricted"]
    assert completion.complete_line("%%k8sexec demo --profile ") == []  # a flag of %k8sexec only


def test_node_completion_is_cached_and_time_bound(monkeypatch):
    completion._completion_cache.clear()
    calls = []

    def slow(**kw):
        calls.append(kw)
        time.sleep(30)
        return ["never"]

    monkeypatch.setattr("jupyter_k8stty.exec.listing.list_node_names", slow)
    started = time.monotonic()
    assert completion.complete_line("%k8sexec --context slow node/") == []
    assert time.monotonic() - started < completion.COMPLETION_TIMEOUT + 1.5
    assert calls[0]["connect_timeout"] == completion.COMPLETION_TIMEOUT
    started = time.monotonic()
    assert completion.complete_line("%k8sexec --context slow node/x") == []  # cached: no new call
    assert time.monotonic() - started < 0.5 and len(calls) == 1
