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

from jupyter_k8stty import sessions
from jupyter_k8stty.errors import ArgumentError
from jupyter_k8stty.exec.persist import SESSION_PREFIX, session_name

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
    for bad in ("a.b", "x:y", "", "a" * 65, 3):
        if bad != "":
            with pytest.raises(ArgumentError):
                session_name(bad)  # type: ignore[arg-type]


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
    assert found.user == session_name(name)[len(SESSION_PREFIX):].rpartition("-")[0]
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
