"""The magics' arguments: shared kubectl flags (impersonation included), checks at the edge with
one UsageError line each, -h printed once, completion derived from the parsers, and a
property-based test that random argument lines and values end in a result or one of the
package's exceptions, never another exception type.
"""

from __future__ import annotations

import math
import shlex
import socket
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

from jupyter_k8stty import K8sTTYError, run
from jupyter_k8stty.exec.kinds import KINDS
from jupyter_k8stty.magics import completion
from jupyter_k8stty.magics.flags import value_flags
from jupyter_k8stty.magics.script import cell_parser
from jupyter_k8stty.magics.terminal import line_parser
from jupyter_k8stty.sandbox import PodSpec
from jupyter_k8stty.widget import Terminal

from .helpers import wait_until
from .notebook_kernel import in_process_shell

TARGET_FLAGS = {"-l", "--selector", "-n", "--namespace", "-c", "--container", "--context",
                "--kubeconfig", "--pod-running-timeout", "--as", "--as-group"}


@pytest.fixture(scope="module")
def ip():
    return in_process_shell()


def usage(ip, line: str, cell: str | None = None) -> str:
    """The UsageError the magic raises for ``line`` (and ``cell``), as text."""
    with pytest.raises(UsageError) as info:
        if cell is None:
            ip.run_line_magic("k8sexec", line)
        else:
            ip.run_cell_magic("k8sexec", line, cell)
    return str(info.value)


# -- one set of target flags -----------------------------------------------------------------


def test_both_magics_declare_the_same_target_flags():
    line_flags = {f for a in line_parser()._actions for f in a.option_strings}
    cell_flags = {f for a in cell_parser()._actions for f in a.option_strings}
    assert TARGET_FLAGS <= line_flags and TARGET_FLAGS <= cell_flags
    for parser in (line_parser(), cell_parser()):
        args = parser.parse_args(["-n", "team-a", "--as", "jane", "--as-group", "devs", "--as-group",
                                  "ops", "--pod-running-timeout", "5"])
        assert (args.namespace, args.impersonate, args.impersonate_groups, args.pod_running_timeout) == (
            "team-a", "jane", ["devs", "ops"], 5.0)


def test_help_texts_name_the_kinds_from_the_registry(ip, capsys):
    assert ip.run_line_magic("k8sexec", "-h") is None
    assert ip.run_cell_magic("k8sexec", "-h", "echo never") is None
    out = capsys.readouterr().out
    assert out.count("usage: %k8sexec") == 1 and out.count("usage: %%k8sexec") == 1
    for kind in KINDS:
        assert out.count(kind.prefix) >= 2


def test_completion_takes_value_flags_from_the_parsers(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))  # no cluster: kinds only
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    completion._completion_cache.clear()
    flags = value_flags(line_parser(), cell_parser())
    assert {"--as", "--as-group", "--max-output", "--timeout", "--shell", "--rows", "-n"} <= flags
    assert not {"--raise-error", "-h"} & flags
    for flag in sorted(flags - {"-n", "--namespace"}):
        assert completion.complete_line(f"%%k8sexec demo {flag} ") == []
    assert completion.complete_line("%k8sexec st") == ["sts/"]
    assert completion.complete_line("%%k8sexec d") == [k.prefix for k in KINDS if k.prefix.startswith("d")]


# -- impersonation through both magics --------------------------------------------------------


@pytest.fixture
def admin(fresh_sandbox) -> str:
    fresh_sandbox.add_user("jane", ["get pods", "list pods", "create pods/exec"])
    fresh_sandbox.add_user("reader", ["get pods", "list pods"])
    fresh_sandbox.add_group("devs", ["get pods", "create pods/exec"])
    return fresh_sandbox.kubeconfig_path


def test_cell_magic_impersonates(ip, admin, capsys):
    ip.run_cell_magic("k8sexec", f"demo --kubeconfig {admin} --as jane", "echo as jane\n")
    assert capsys.readouterr().out == "as jane\n"
    ip.run_cell_magic("k8sexec", f"demo --kubeconfig {admin} --as ghost --as-group devs", "echo ok\n")
    assert capsys.readouterr().out == "ok\n"
    message = usage(ip, f"demo --kubeconfig {admin} --as reader", "true\n")
    assert message.startswith("%%k8sexec: forbidden: you cannot create pods/exec for pod default/demo")
    assert 'User "reader" cannot create resource "pods/exec"' in message
    results = ip.run_cell_magic("k8sexec", f"demo db-0 --kubeconfig {admin} --as reader", "true\n")
    assert all("cannot create resource" in r.error for r in results.values())


def test_line_magic_impersonates(ip, admin):
    term = ip.run_line_magic("k8sexec", f"demo --kubeconfig {admin} --as ghost --as-group devs "
                                        "-- sh -c 'echo as-ghost'")
    try:
        assert isinstance(term, Terminal)
        assert (term.target.impersonate, term.target.impersonate_groups) == ("ghost", ("devs",))
        assert term.wait(10) == 0
        assert "as-ghost" in term.output
    finally:
        term.close()
    term = ip.run_line_magic("k8sexec", f"demo --kubeconfig {admin} --as reader")
    try:
        assert wait_until(lambda: term.status == "error")
        assert 'User "reader" cannot create resource "pods/exec"' in term.error
    finally:
        term.close()


def test_cell_magic_waits_for_a_pending_pod_as_long_as_told(ip, fresh_sandbox):
    fresh_sandbox.add_pod(PodSpec("late", phase="Pending"))
    config = fresh_sandbox.kubeconfig_path
    started = time.monotonic()
    message = usage(ip, f"late --kubeconfig {config} --pod-running-timeout 0.5", "true\n")
    assert 0.5 <= time.monotonic() - started < 3
    assert "pod default/late is not running after 0.5 s" in message
    message = usage(ip, f"late --kubeconfig {config} --pod-running-timeout 0", "true\n")
    assert "is not running" in message


# -- checked at the edge: one line each ------------------------------------------------------

LINE_CASES = [
    ("demo --", "nothing after `--`"),
    ("demo -- ls \x00", "NUL byte"),
    ("demo --pod-running-timeout -1", "--pod-running-timeout must be 0 (do not wait) or a finite"),
    ("demo --pod-running-timeout nan", "--pod-running-timeout must be"),
    ("demo --pod-running-timeout inf", "--pod-running-timeout must be"),
    ("demo --rows 0", "--rows must be"),
    ("demo --rows 100000", "--rows must be"),
    ("demo --option fontSize=abc", "fontSize"),
    ("demo --as-group devs", "needs a user to impersonate too (--as)"),
    ("demo --as ''", "invalid user to impersonate"),
    ("-c main", "-c need a TARGET or -l SELECTOR"),
    ("cronjob/x", "unknown kind 'cronjob'"),
]

CELL_CASES = [
    ("demo --timeout 0", "--timeout must be a finite number of seconds above 0, got 0"),
    ("demo --timeout -1", "--timeout must be a finite number of seconds above 0"),
    ("demo --timeout nan", "--timeout must be a finite number of seconds above 0, got nan"),
    ("demo --timeout inf", "--timeout must be a finite number of seconds above 0, got inf"),
    ("demo --pod-running-timeout -1", "--pod-running-timeout must be 0 (do not wait)"),
    ("demo --pod-running-timeout nan", "--pod-running-timeout must be"),
    ("demo --max-output 0", "--max-output must be a whole number of bytes above 0"),
    ("demo --max-parallel 0", "--max-parallel must be at least 1"),
    ("demo --out class", "'class' is a Python keyword"),
    ("demo --out print", "would hide the builtin print()"),
    ("demo --err In", "IPython keeps for itself"),
    ("demo --out __name__", "Python's own"),
    ("demo --out x --err x", "--out and --err name the same variable 'x'"),
    ("demo --out 1x", "not a valid variable name"),
    ("demo\x00", "NUL byte"),
    ("demo -- ls", "the cell is the script"),
    ("demo --shell ''", "--shell must name a program"),
    ("Web_1", "invalid pod name 'Web_1'"),
    ("demo -n Bad_NS", "invalid namespace 'Bad_NS'"),
]


@pytest.mark.parametrize(("line", "expected"), LINE_CASES)
def test_line_magic_rejects_bad_arguments_in_one_line(ip, kubeconfig, line, expected):
    message = usage(ip, f"{line} --kubeconfig {kubeconfig}" if "--" not in line.split() else line)
    assert message.startswith("%k8sexec: ") and expected in message, message
    assert "\n" not in message


@pytest.mark.parametrize(("line", "expected"), CELL_CASES)
def test_cell_magic_rejects_bad_arguments_in_one_line(ip, kubeconfig, line, expected):
    message = usage(ip, f"{line} --kubeconfig {kubeconfig}" if "--" not in line.split() else line, "true\n")
    assert message.startswith("%%k8sexec: ") and expected in message, message
    assert "\n" not in message


def test_a_cell_that_cannot_be_encoded_is_one_line(ip, kubeconfig):
    message = usage(ip, f"demo --kubeconfig {kubeconfig}", "echo caf\udce9\n")
    assert message == ("%%k8sexec: the cell cannot be encoded as UTF-8 (surrogates not allowed at "
                       "character 8: '\\udce9')")


def test_parse_errors_keep_the_usage_line(ip):
    message = usage(ip, "demo --timeout abc", "true\n")
    first, usage_line = message.split("\n", 1)
    assert first == "%%k8sexec: argument --timeout: invalid float value: 'abc'"
    assert usage_line.startswith("usage: %%k8sexec")


# -- property: a result or one of ours, never another exception ------------------------------


@pytest.fixture(scope="module")
def unreachable(kubeconfig, tmp_path_factory) -> str:
    """A kubeconfig like the sandbox's whose server port is closed: requests fail at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = yaml.safe_load(Path(kubeconfig).read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{port}"
    path = tmp_path_factory.mktemp("unreachable") / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return str(path)


_odd_text = st.text(st.characters(exclude_categories=()), max_size=12)
_numbers = st.one_of(st.sampled_from(["0", "-1", "nan", "inf", "-inf", "1e-300", "1e308", "abc", "",
                                      "1_0", "0x10", "-0"]),
                     st.sampled_from(["0.2", "1", "3", "24", "1000"]))
_flag_values = {
    "-n": st.sampled_from(["default", "team-a", "Bad_NS", "", "a" * 70]),
    "-c": st.sampled_from(["main", "sidecar", "Nope", ""]),
    "-l": st.sampled_from(["app=web", "", "x in (", "a=b,c!=d"]),
    "--context": st.sampled_from(["sandbox", "nope", ""]),
    "--as": st.sampled_from(["jane", "", "a\nb", "system:admin"]),
    "--as-group": st.sampled_from(["devs", "", "g\r"]),
    "--pod-running-timeout": _numbers,
    "--timeout": _numbers,
    "--max-output": _numbers,
    "--max-parallel": _numbers,
    "--rows": _numbers,
    "--option": st.sampled_from(["fontSize=abc", "fontSize=12", "x", "=1", "cursorBlink=2", "k=[1]"]),
    "--shell": st.sampled_from(["sh", "python3", "", "'unbalanced", "sh -c true"]),
    "--out": st.sampled_from(["v", "class", "print", "In", "x y", "__name__"]),
    "--err": st.sampled_from(["e", "v", "1x"]),
}
_LINE_ONLY = {"--rows", "--option"}
_CELL_ONLY = {"--timeout", "--max-output", "--max-parallel", "--shell", "--out", "--err"}


def _pairs(flags: set[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(flags)).flatmap(
        lambda flag: _flag_values[flag].map(lambda value: f"{flag} {shlex.quote(value)}"))


_target = st.sampled_from(["demo", "db-0", "deploy/web", "pod/demo", "demo db-0", "-l app=web", "",
                           "cronjob/x", "Web_1", "demo --", "demo -- ls -l", "demo --raise-error"])
_junk = st.one_of(st.sampled_from(["--bogus", "'", '"', "\x00", "\udc80", "-h0", "--"]), _odd_text)


def _line(flags: set[str]) -> st.SearchStrategy[str]:
    """Lines mostly for the magic that has ``flags``, sometimes with another's or junk."""
    return st.builds(lambda target, pairs, junk: " ".join([target, *pairs, *junk]), _target,
                     st.lists(st.one_of(_pairs(flags), _pairs(flags), _pairs(set(_flag_values))), max_size=4),
                     st.lists(_junk, max_size=1))


_line_magic = _line(set(_flag_values) - _CELL_ONLY)
_cell_magic = _line(set(_flag_values) - _LINE_ONLY)
_cell = st.sampled_from(["true\n", "echo x\n", "caf\udce9", ""])


@pytest.fixture(scope="module")
def unreachable_env(unreachable):
    """KUBECONFIG points at the closed port for the module's magic calls."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KUBECONFIG", unreachable)
        mp.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        yield


def _call_magic(ip, line: str, cell: str | None) -> None:
    try:
        if cell is None:
            result = ip.run_line_magic("k8sexec", line)
        else:
            result = ip.run_cell_magic("k8sexec", line, cell)
    except (UsageError, K8sTTYError) as exc:
        event(f"magic {type(exc).__name__}: {str(exc)[:40]}")  # see --hypothesis-show-statistics
        return
    event(f"magic result {type(result).__name__}")
    close = getattr(result, "close", None)
    if callable(close) and not isinstance(result, dict):
        close()  # a Terminal connecting in the background: end it


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_argument_lines_end_in_a_result_or_one_of_ours(ip, unreachable_env, data):
    # Every call that gets past the checks fails fast on the closed port (or the deadline).
    if data.draw(st.booleans(), label="cell magic"):
        line = data.draw(_cell_magic, label="line")
        line = line if "--timeout" in line else f"{line} --timeout 1"
        _call_magic(ip, line, data.draw(_cell, label="cell"))
    else:
        _call_magic(ip, data.draw(_line_magic, label="line"), None)


_command = st.one_of(
    st.lists(_odd_text, max_size=3),
    st.lists(st.text(max_size=8), min_size=1, max_size=3),
    st.sampled_from(["ls", b"ls", None, 3, ("echo", 1), [], [""], ["\x00"], ["\udc80"], ["echo", "hi"]]),
)
_timeout = st.one_of(st.none(), st.booleans(), st.sampled_from(["1", math.nan]),
                     st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5),
                     st.floats(1e-6, 3))
_max_output = st.one_of(st.integers(-3, 2**70), st.integers(1, 100),
                        st.sampled_from([None, True, 1.5, "10", math.inf]))
_stdin = st.one_of(st.none(), st.text(max_size=8), st.binary(max_size=8),
                   st.sampled_from(["\udc80", 3, ["x"], bytearray(b"x")]))


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(command=_command, timeout=_timeout, max_output=_max_output, stdin=_stdin)
def test_random_run_arguments_end_in_a_result_or_one_of_ours(unreachable, command, timeout, max_output,
                                                             stdin):
    try:
        run("demo", command, timeout=timeout, max_output=max_output, stdin=stdin, kubeconfig=unreachable)
    except K8sTTYError as exc:
        event(f"run {type(exc).__name__}")


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(args=st.lists(_odd_text, max_size=3), timeout=st.one_of(st.none(), st.floats(0.001, 5)),
       max_output=st.integers(1, 64))
def test_random_run_arguments_against_a_pod(kubeconfig, args, timeout, max_output):
    try:
        result = run("demo", ["echo", *args], timeout=timeout, max_output=max_output, kubeconfig=kubeconfig)
    except K8sTTYError:
        return
    assert len(result.stdout) <= max_output and result.exit_code == 0

