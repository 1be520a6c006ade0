"""Nothing outlives the sandbox: pod processes die with it, its temporary files are swept.

Three layers, because a sandbox may end by SIGKILL, which runs no Python at all:

* every pod process gets a parent-death signal (``PR_SET_PDEATHSIG`` = SIGKILL, set by
  util-linux's ``setpriv`` that execs the command in place: :func:`die_with_parent`),
  so the kernel kills it when the sandbox goes;
* a *guardian* process (:func:`guard`, one per Python process, started on first use)
  holds the read end of a pipe and the list of live pod process groups; when the pipe
  reports end of file (the sandbox is gone, however it went) it kills those groups,
  which reaches the children and grandchildren a parent-death signal does not;
* temporary folders and files carry the owning pid in their names
  (``k8stty-sandbox-PID-...``, :func:`temp_prefix`) and :func:`sweep_stale` removes
  those whose owner is dead when the next sandbox starts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

__all__ = ["die_with_parent", "guard", "release", "start_guardian", "sweep_stale", "temp_prefix"]

_STALE_RE = re.compile(r"^k8stty-sandbox-(?:[a-z]+-)?(\d+)-")

# The guardian: reads "+PGID"/"-PGID" lines; at end of file kills what is left, then exits.
# It must not die with us (it would be useless), so it gets no parent-death signal.
_GUARDIAN = r"""
import os, signal, sys
groups = set()
for line in sys.stdin.buffer:
    op, pgid = line[:1], int(line[1:])
    (groups.add if op == b"+" else groups.discard)(pgid)
for pgid in groups:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
"""


_SETPRIV = shutil.which("setpriv") if sys.platform.startswith("linux") else None


def die_with_parent() -> list[str]:
    """Return the argv prefix that makes a spawned command get SIGKILL when its parent thread ends.

    ``setpriv --pdeathsig KILL --`` sets the signal in C and execs the command in place
    (the pid stays the command's), so no Python runs between fork and exec: a
    ``preexec_fn`` there, from many threads spawning at once, aborted the sandbox's
    process now and then. The signal follows the *thread* that forks: the sandbox spawns
    from the connection thread that serves the exec, which outlives the process it
    started. ``[]`` without setpriv (off Linux): the guardian still kills what is left.
    """
    return [_SETPRIV, "--pdeathsig", "KILL", "--"] if _SETPRIV else []


class _Guardian:
    """The guardian process and the pipe to it (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._owner = 0
        self._failed = False

    def _pipe(self) -> subprocess.Popen[bytes] | None:
        if self._proc is not None and self._owner == os.getpid() and self._proc.poll() is None:
            return self._proc
        if self._failed:
            return None
        try:
            # Its own session: a Ctrl-C meant for us must not end it before we are gone.
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _GUARDIAN], stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True,
                start_new_session=True)
        except OSError as exc:
            from jupyter_k8stty.sandbox.process import log

            log(f"cannot start the process guardian ({exc}); pod processes rely on "
                "their parent-death signal alone")
            self._failed = True
            return None
        self._owner = os.getpid()
        return self._proc

    def start(self) -> None:
        with self._lock:
            self._pipe()

    def send(self, op: str, pgid: int) -> None:
        with self._lock:
            proc = self._pipe()
            if proc is None or proc.stdin is None:
                return
            try:
                proc.stdin.write(f"{op}{pgid}\n".encode())
                proc.stdin.flush()
            except OSError:
                self._proc = None


_guardian = _Guardian()


def start_guardian() -> None:
    """Start the guardian now (if it is not running), so no pod process ever lacks one."""
    _guardian.start()


def guard(pgid: int) -> None:
    """Have the guardian kill process group ``pgid`` should this process die first."""
    _guardian.send("+", pgid)


def release(pgid: int) -> None:
    """Forget process group ``pgid`` (it is dead), so its number may be reused safely."""
    _guardian.send("-", pgid)


def temp_prefix(kind: str = "") -> str:
    """Return the prefix for a temporary file or folder: ``k8stty-sandbox-[KIND-]PID-``."""
    return f"k8stty-sandbox-{kind + '-' if kind else ''}{os.getpid()}-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    try:  # a zombie is dead: it only waits for its parent to read its status
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2] != "Z"
    except (OSError, ValueError, IndexError):
        return True


def sweep_stale(directory: str | None = None) -> list[Path]:
    """Remove temporary files and folders left by sandboxes whose process is dead.

    Only names made with :func:`temp_prefix`, owned by this user, are considered.
    Returns what was removed.
    """
    root = Path(directory or tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _STALE_RE.match(entry.name)
        if match is None:
            continue
        pid = int(match.group(1))
        try:
            if entry.lstat().st_uid != os.getuid() or pid == os.getpid() or _pid_alive(pid):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError:
            continue
        removed.append(entry)
    return removed
