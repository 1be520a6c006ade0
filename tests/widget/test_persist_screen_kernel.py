"""``Terminal(..., persist=NAME)`` in real kernels where the container has ``screen`` but no ``tmux``.

The sandbox runs in this process and its containers see this process's ``PATH``: during
the test it holds every program of this machine but ``tmux``. A terminal in one kernel
starts a program; the kernel goes away; a terminal with the same name in a new kernel
finds the same shell, the program still running and the scrollback printed above.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_k8stty import sessions

from ..persist_helpers import path_without_tmux
from .frontend import Frontend, open_view

pytestmark = pytest.mark.skipif(shutil.which("screen") is None, reason="screen is not installed")

TIMEOUT = 20.0


@pytest.fixture
def screen_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PATH", path_without_tmux(tmp_path / "bin"))
    yield


def test_a_screen_shell_and_its_program_survive_a_new_kernel(fe, kubeconfig, screen_only):
    name = f"k{uuid.uuid4().hex[:8]}"
    code = f'Terminal("demo", kubeconfig=KUBECONFIG, persist="{name}")'
    comm = open_view(fe, "p1", code)
    fe.type(comm, "echo in-screen=${STY:+yes}; export WHO=first-kernel; seq 1 60; echo pid=$$ end-$((2*3))\r")
    fe.expect_output(comm, b"in-screen=yes")
    pid = re.search(rb"pid=(\d+) end-6", fe.expect_output(comm, b" end-6"))[1]
    fe.type(comm, "read -r answer; echo answer=$answer pid=$$\r")
    fe.expect_output(comm, b"read -r answer")
    other = Frontend()  # a new kernel: the first one's terminal goes away
    try:
        fe.execute("p1.close()")
        other.execute(f"from jupyter_k8stty import Terminal\nKUBECONFIG = {kubeconfig!r}")
        again = open_view(other, "p2", code)
        other.expect_output(again, b"\r\n2\r\n3\r\n")  # the scrollback, above the screen
        other.expect_output(again, b"read -r answer")  # then the screen itself
        other.type(again, "forty-two\r")
        other.expect_output(again, b"answer=forty-two pid=" + pid + b"\r")  # the same shell
        other.type(again, "echo who=$WHO\r")
        other.expect_output(again, b"who=first-kernel")
        assert other.eval("p2.persist").endswith(f"-{name}")
        (found,) = [s for s in sessions("demo", kubeconfig=kubeconfig) if s.label == name]
        assert found.manager == "screen" and found.clients == 1
    finally:
        other.shutdown()
        for found in sessions("demo", kubeconfig=kubeconfig):
            if found.label == name:
                found.end()
