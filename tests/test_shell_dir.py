"""Where a dropped file lands: the terminal's shell directory, else the container's workdir."""

from __future__ import annotations

import pytest

from jupyter_k8stty import ExecSession, ExecTarget, run
from jupyter_k8stty.sandbox import PodSpec
from jupyter_k8stty.widget.shell_dir import ShellDir, parse_answer, shell_directory

from .helpers import OutputCollector

#: A pod of its own: no other test's shell (left in tmux, say) shares its hostname.
POD = PodSpec("where-probe")


def test_the_answer_is_read_strictly():
    assert parse_answer(b"shell /srv/data\n") == ShellDir("/srv/data", "shell")
    assert parse_answer(b"noise\nworkdir /app\n") == ShellDir("/app", "workdir")
    assert parse_answer(b"shell relative/path\n") is None
    assert parse_answer(b"") is None


@pytest.fixture
def target(k8s_sandbox_factory) -> ExecTarget:
    sandbox = k8s_sandbox_factory(pods=[POD])
    return ExecTarget(POD.name, kubeconfig=sandbox.kubeconfig_path)


def test_without_a_terminal_the_container_workdir_is_the_destination(target):
    workdir = run(target, ["pwd"]).stdout.decode().strip()
    # A process without a terminal is no shell to follow.
    with ExecSession(target, ["sleep", "30"], tty=False):
        answer = shell_directory(target, 24, 80, None)
    assert answer == ShellDir(workdir, "workdir")


def test_a_terminal_of_that_size_is_followed_to_its_directory(target, tmp_path):
    with ExecSession(target, ["sh"], rows=31, cols=97) as shell:
        out = OutputCollector()
        shell.on_output(out)
        shell.write(f"cd {tmp_path} && echo moved-$((1+1))\n")
        out.expect(rb"moved-2")
        assert shell_directory(target, 31, 97, None) == ShellDir(str(tmp_path), "shell")
