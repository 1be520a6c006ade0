"""Helpers of the persistent-shell tests: a PATH without tmux, and attaching to a named shell."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from jupyter_k8stty import ExecSession
from jupyter_k8stty.exec.persist import persist_command, session_name

from .helpers import OutputCollector


def path_without_tmux(folder: Path) -> str:
    """Fill ``folder`` with links to every program on ``PATH`` but ``tmux``; return it.

    The sandbox's containers use the test process's ``PATH``, so with this one they have
    ``screen`` and no ``tmux``.
    """
    folder.mkdir()
    for entry_dir in os.environ.get("PATH", os.defpath).split(os.pathsep):
        if not entry_dir or not os.path.isdir(entry_dir):
            continue
        for entry in os.scandir(entry_dir):
            link = folder / entry.name
            if entry.name != "tmux" and not link.exists() and os.access(entry.path, os.X_OK):
                link.symlink_to(entry.path)
    assert shutil.which("tmux", path=str(folder)) is None and shutil.which("screen", path=str(folder))
    return str(folder)


def attach(kubeconfig: str, label: str, command: list[str] | None = None):
    """Start a TTY session into the persistent shell ``label`` of pod ``demo``; return it and its output."""
    out = OutputCollector()
    session = ExecSession("demo", persist_command(session_name(label), command), tty=True,
                          rows=24, cols=80, kubeconfig=kubeconfig)
    session.on_output(out)
    return session.start(), out
