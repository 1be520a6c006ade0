"""Persistent shells with ``screen`` (issue 15 item 2): the branch taken where tmux is not installed.

The sandbox's containers see this test's ``PATH``: here it holds every program of this
machine but ``tmux``, so the persist script finds ``screen`` (Debian's, installed by
``scripts/dev.sh``). Each test uses session names of its own and ends its sessions.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_k8stty import sessions
from jupyter_k8stty.errors import ExecError
from jupyter_k8stty.exec.persist import persist_command, session_name
from jupyter_k8stty.exec.target import ExecTarget
from jupyter_k8stty.widget.connection import Connection
from jupyter_k8stty.widget.reconnect import Backoff

from .helpers import wait_until
from .persist_helpers import attach, path_without_tmux

pytestmark = pytest.mark.skipif(shutil.which("screen") is None, reason="screen is not installed")

TIMEOUT = 15.0
FAST = Backoff(first=0.2, factor=2.0, longest=1.0, give_up_after=20.0, jitter=0.0)


@pytest.fixture
def screen_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A ``PATH`` with this machine's programs but ``tmux``: the containers have ``screen`` only."""
    folder = path_without_tmux(tmp_path / "bin")
    monkeypatch.setenv("PATH", folder)
    yield folder


@pytest.fixture
def names(fresh_sandbox, screen_only) -> Iterator[list[str]]:
    """Labels for this test's sessions (``names[0]``; append more); their sessions end afterwards."""
    labels = [f"s{uuid.uuid4().hex[:8]}"]
    yield labels
    for found in sessions("demo", kubeconfig=fresh_sandbox.kubeconfig_path):
        if found.label in labels:
            found.end()


def listed(kubeconfig: str, label: str):
    return [s for s in sessions("demo", kubeconfig=kubeconfig) if s.label == label]


def test_the_shell_its_running_program_and_scrollback_outlive_the_session(fresh_sandbox, names):
    kubeconfig = fresh_sandbox.kubeconfig_path
    first, out = attach(kubeconfig, names[0])
    first.write(b"echo in-screen=${STY:+yes}; export KEPT=yes-$((6*7)); "
                b"for i in $(seq 1 40); do echo row$i; done; echo pid=$$\r")
    assert out.expect(rb"in-screen=(\w+)")[1] == b"yes"  # the shell runs inside screen
    pid = out.expect(rb"pid=(\d+)")[1]
    # A program that is still running when the connection goes: it waits for a line.
    first.write(b"read -r line; echo got=$line from=$$\r")
    out.expect(rb"read -r line[^\n]*\n")
    first.close()  # a dropped connection, a reload, a kernel restart: the client dies

    second, again = attach(kubeconfig, names[0])
    # The history above the screen is printed before attaching (rows 1 and 3 scrolled off).
    again.expect(rb"\brow1\r\n")
    again.expect(rb"\brow3\r\n")
    again.expect(rb"read -r line")  # then screen draws the screen: attached
    assert b"Could not write" not in again.data()  # no utmp complaint on the screen
    second.write(b"hello\r")
    assert again.expect(rb"got=(\w+) from=(\d+)").groups() == (b"hello", pid), "another program answered"
    second.write(b"echo $KEPT pid=$$\r")
    assert again.expect(rb"yes-42 pid=(\d+)")[1] == pid, "a different shell answered"
    second.close()


def test_a_reconnect_attaches_to_the_same_screen_session(fresh_sandbox, names):
    kubeconfig = fresh_sandbox.kubeconfig_path
    fault = fresh_sandbox.inject("drop", after=1.5)
    text = bytearray()

    class Sink:
        def feed(self, data: bytes) -> None:
            text.extend(data)

        def reset(self, acknowledge) -> None:
            pass

        def flush(self) -> None:
            pass

    connection = Connection(ExecTarget("demo", kubeconfig=kubeconfig),
                            persist_command(session_name(names[0])), sink=Sink(), backoff=FAST)
    connection.connect()
    try:
        assert wait_until(lambda: connection.status == "connected", TIMEOUT), connection.state
        connection.write(b"export DRAFT=v2; echo draft-pid=$$\r")
        # The shell's answer, not the echo of the typed line (which says draft-pid=$$).
        answer = re.compile(rb"draft-pid=(\d+)")
        assert wait_until(lambda: answer.search(text) is not None, TIMEOUT), bytes(text)
        pid = answer.search(text)[1]  # type: ignore[index]
        assert fault.wait(TIMEOUT)
        assert wait_until(lambda: connection.generation >= 2 and connection.status == "connected",
                          TIMEOUT), connection.state
        connection.write(b"echo draft=$DRAFT again=$$\r")
        assert wait_until(lambda: b"draft=v2 again=" + pid in text, TIMEOUT), bytes(text)[-600:]
    finally:
        connection.close()


def test_sessions_lists_them_and_ends_them(fresh_sandbox, names):
    kubeconfig = fresh_sandbox.kubeconfig_path
    session, out = attach(kubeconfig, names[0], ["sh"])
    session.write(b"echo ready-$((1+1))\r")
    out.expect(rb"ready-2")
    (found,) = listed(kubeconfig, names[0])
    assert found.manager == "screen" and found.name == session_name(names[0])
    assert found.clients == 1  # attached: screen -ls says so after a date
    assert not [s for s in sessions("demo", user="somebody-else", kubeconfig=kubeconfig)
                if s.label == names[0]]
    session.close()
    assert wait_until(lambda: [s.clients for s in listed(kubeconfig, names[0])] == [0], TIMEOUT)
    found.end()
    assert not listed(kubeconfig, names[0])
    with pytest.raises(ExecError):  # gone already
        found.end()


def test_the_attached_terminal_sees_the_end(fresh_sandbox, names):
    kubeconfig = fresh_sandbox.kubeconfig_path
    session, out = attach(kubeconfig, names[0])
    session.write(b"echo up-$((2+3))\r")
    out.expect(rb"up-5")
    (found,) = listed(kubeconfig, names[0])
    found.end()
    assert session.wait(TIMEOUT) is not None or session.done


def test_a_name_that_begins_another_is_a_session_of_its_own(fresh_sandbox, names):
    # screen matches names as prefixes: "sX" must neither join "sX0" nor end it.
    kubeconfig = fresh_sandbox.kubeconfig_path
    longer = names[0] + "0"
    names.append(longer)
    other, other_out = attach(kubeconfig, longer)
    other.write(b"echo longer-pid=$$\r")
    longer_pid = other_out.expect(rb"longer-pid=(\d+)")[1]
    other.close()

    mine, out = attach(kubeconfig, names[0])
    mine.write(b"echo mine-pid=$$\r")
    assert out.expect(rb"mine-pid=(\d+)")[1] != longer_pid, "joined the other session"
    mine.close()
    assert {s.label for s in sessions("demo", kubeconfig=kubeconfig)} >= {names[0], longer}
    (found,) = listed(kubeconfig, names[0])
    found.end()
    with pytest.raises(ExecError):  # ending it again must not end the longer one
        found.end()
    assert [s.name for s in listed(kubeconfig, longer)] == [session_name(longer)]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_ending_a_gone_tmux_session_leaves_one_whose_name_it_begins(fresh_sandbox):
    # tmux, too, takes a bare name as a prefix: `kill-session -t work` ends "work2".
    kubeconfig = fresh_sandbox.kubeconfig_path
    label = f"t{uuid.uuid4().hex[:8]}"
    try:
        for name in (label, label + "0"):
            session, out = attach(kubeconfig, name, ["sh"])
            session.write(b"echo up-$((1+1))\r")
            out.expect(rb"up-2")
            session.close()
        (found,) = listed(kubeconfig, label)
        assert found.manager == "tmux"
        found.end()
        with pytest.raises(ExecError):
            found.end()
        assert [s.label for s in listed(kubeconfig, label + "0")] == [label + "0"]
    finally:
        for found in sessions("demo", kubeconfig=kubeconfig):
            if found.label in (label, label + "0"):
                found.end()


def test_a_name_with_dashes_is_listed_under_its_whole_name(fresh_sandbox, names):
    kubeconfig = fresh_sandbox.kubeconfig_path
    label = f"my-work-{names[0]}"
    names.append(label)
    session, out = attach(kubeconfig, label, ["sh"])
    session.write(b"echo ready-$((1+1))\r")
    out.expect(rb"ready-2")
    session.close()
    (found,) = listed(kubeconfig, label)
    assert found.label == label and found.name == session_name(label)
    assert session_name(label, user=found.user) == found.name

