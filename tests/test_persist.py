"""Persistent shells (issue 15 item 2): tmux in the container keeps the shell between sessions.

The sandbox's pods run on this machine, so its ``tmux`` is the container's. Each test
uses a session name of its own and ends its sessions.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

from jupyter_k8stty import ExecSession, sessions
from jupyter_k8stty.errors import ArgumentError
from jupyter_k8stty.exec.persist import SESSION_PREFIX, persist_command, session_name, split_session_name

from .helpers import OutputCollector
from .persist_helpers import attach

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@pytest.fixture
def name(fresh_sandbox):
    label = f"t{uuid.uuid4().hex[:8]}"
    yield label
    for found in sessions("demo", kubeconfig=fresh_sandbox.kubeconfig_path):
        if found.label == label:
            found.end()


def test_session_names_carry_the_user_and_the_name(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "jane.doe@example.org")
    assert session_name("work") == f"{SESSION_PREFIX}jane_doe_example_org-work"
    assert session_name(True) == session_name(None) == f"{SESSION_PREFIX}jane_doe_example_org-default"
    for bad in ("a.b", "x:y", "", "a" * 65, 3, "-work"):
        if bad != "":
            with pytest.raises(ArgumentError):
                session_name(bad)  # type: ignore[arg-type]


def test_no_two_users_share_a_session_name():
    # "jane" with NAME "doe-work" and "jane-doe" with NAME "work" were both k8stty-jane-doe-work.
    names = {(user, label): session_name(label, user=user)
             for user in ("jane", "jane-doe", "jane-", "j--d", "jane_doe")
             for label in ("work", "doe-work", "my--work", "_x", "w-")}
    assert len(set(names.values())) == len(names)
    for (user, label), name in names.items():
        assert split_session_name(name) == (user, label), name
    assert session_name("doe-work", user="jane") == f"{SESSION_PREFIX}jane-doe-work"
    assert session_name("work", user="jane-doe") == f"{SESSION_PREFIX}jane--doe-work"
    assert session_name("work", user="jane.doe@example.org") == f"{SESSION_PREFIX}jane_doe_example_org-work"
    for foreign in ("k8stty-", "k8stty-jane", "k8stty--x", "k8stty-jane-", "other-jane-work"):
        assert split_session_name(foreign) is None, foreign


def test_the_shell_its_variables_and_history_outlive_the_session(fresh_sandbox, name):
    kubeconfig = fresh_sandbox.kubeconfig_path
    first, out = attach(kubeconfig, name)
    first.write(b"export KEPT=yes-$((6*7)); for i in $(seq 1 40); do echo row$i; done; echo pid=$$\r")
    pid = out.expect(rb"pid=(\d+)")[1]
    first.close()  # a dropped connection, a reload, a kernel restart: the client dies

    second, again = attach(kubeconfig, name)
    again.expect(rb"row3\r\n")  # the history above the screen is printed before attaching
    second.write(b"echo $KEPT pid=$$\r")
    match = again.expect(rb"yes-42 pid=(\d+)")
    assert match[1] == pid, "a different shell answered"
    second.close()


def test_sessions_lists_them_and_ends_them(fresh_sandbox, name):
    kubeconfig = fresh_sandbox.kubeconfig_path
    session, out = attach(kubeconfig, name, ["sh"])
    session.write(b"echo ready-$((1+1))\r")
    out.expect(rb"ready-2")
    (found,) = [s for s in sessions("demo", kubeconfig=kubeconfig) if s.label == name]
    assert found.manager == "tmux" and found.name == session_name(name)
    assert found.clients == 1 and found.created is not None
    assert session_name(name, user=found.user) == found.name
    assert not [s for s in sessions("demo", user="somebody-else", kubeconfig=kubeconfig) if s.label == name]
    found.end()
    assert session.wait(10) is not None or session.done  # the attached client saw it end
    assert not [s for s in sessions("demo", kubeconfig=kubeconfig) if s.label == name]


def test_without_tmux_or_screen_it_says_so_and_runs_a_shell(fresh_sandbox, tmp_path, monkeypatch, name):
    # The sandbox's containers see this machine's PATH: give them one without tmux/screen.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "stty", "cat", "echo"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(Path(found).resolve())
    monkeypatch.setenv("PATH", str(bin_dir))
    session, out = attach(fresh_sandbox.kubeconfig_path, name)
    out.expect(rb"neither tmux nor screen is installed in this container")
    session.write(b"echo plain-$((2*3))\r")
    out.expect(rb"plain-6")
    session.close()
    monkeypatch.setenv("PATH", os.defpath + ":/usr/bin:/bin")


def test_the_magic_takes_persist_and_record_flags():
    from IPython.core.error import UsageError

    from jupyter_k8stty.magics.terminal import line_parser, open_terminal

    parser = line_parser()
    assert parser.parse_args(["demo", "--persist"]).persist is True
    args = parser.parse_args(["demo", "--persist", "work", "--record", "s.cast", "--record-input"])
    assert (args.persist, args.record, args.record_input) == ("work", "s.cast", True)
    assert parser.parse_args(["demo"]).persist is None
    with pytest.raises(UsageError, match="--record-input goes with --record"):
        open_terminal("demo --record-input")
    with pytest.raises(UsageError, match="need a TARGET"):
        open_terminal("--persist")


def test_sessions_of_jane_are_not_those_of_jane_doe(fresh_sandbox, name):
    kubeconfig = fresh_sandbox.kubeconfig_path
    opened = []
    for user, label in (("jane", f"doe-{name}"), ("jane-doe", name)):
        out = OutputCollector()
        session = ExecSession("demo", persist_command(session_name(label, user=user), ["sh"]), tty=True,
                              rows=24, cols=80, kubeconfig=kubeconfig)
        session.on_output(out)
        session.start().write(b"echo up-$((1+1))\r")
        out.expect(rb"up-2")
        opened.append(session)
    try:
        def mine(user: str) -> list[tuple[str, str]]:
            return [(s.user, s.label) for s in sessions("demo", user=user, kubeconfig=kubeconfig)
                    if s.label.endswith(name)]

        janes, does = mine("jane"), mine("jane-doe")
        assert janes == [("jane", f"doe-{name}")] and does == [("jane-doe", name)]
        everyone = {(s.user, s.label) for s in sessions("demo", user="*", kubeconfig=kubeconfig)}
        assert {("jane", f"doe-{name}"), ("jane-doe", name)} <= everyone
    finally:
        for user in ("jane", "jane-doe"):
            for found in sessions("demo", user=user, kubeconfig=kubeconfig):
                if found.label.endswith(name):
                    found.end()
        for session in opened:
            session.close()
