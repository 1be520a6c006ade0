"""Where a dropped file goes: the working directory of the terminal's shell, read in the pod.

Nothing is typed into the user's shell. A separate exec runs :data:`SHELL_DIR_SCRIPT`,
which reads ``/proc`` in the container: the shells of interactive terminals are
session leaders with a controlling TTY. Of those started with the same ``HOSTNAME`` and
``HOME`` as the look-up itself (the same pod and container: a shared process namespace,
or the sandbox's processes on its host, do not count), it picks the
one whose TTY has the terminal's size and which started while the terminal's session
was connecting (else the one that started closest to it);
then, from the TTY's foreground process group, the nearest shell (the user may have
started another shell, or ``vim`` from it), and prints that process's working
directory. Without a readable ``/proc`` it prints the container's working directory.

The browser prefers the directory the shell announces with OSC 7, when it does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..exec.run import run
from ..exec.target import ExecTarget

__all__ = ["SHELL_DIR_SCRIPT", "SHELL_DIR_TIMEOUT", "ShellDir", "parse_answer", "shell_directory"]

#: Seconds the look-up may take (it runs while the user waits for the confirmation).
SHELL_DIR_TIMEOUT: float = 15.0

#: ``$1`` rows, ``$2`` columns; ``$3`` and ``$4``: hundredths of a second between the
#: terminal's session beginning to connect, and being connected, and this look-up's
#: request (empty when unknown). Ages in the pod count from the script's own start (so
#: they run late by the time an exec takes to start, a few hundredths); ``/proc`` counts
#: start times in 1/100 s. Prints ``shell PATH`` or ``workdir PATH``.
SHELL_DIR_SCRIPT = r"""
rows=$1 cols=$2 oldest=$3 newest=${4:-0} me=$$
shells=" sh bash ash dash zsh ksh mksh fish busybox "
stat=$(cat /proc/$$/stat 2>/dev/null) && set -- ${stat##*) } && shift 19 && now=$1 || now=0
best= best_score= best_fg=
for d in /proc/[0-9]*; do
  pid=${d#/proc/}
  [ "$pid" = "$me" ] && continue
  stat=$(cat "$d/stat" 2>/dev/null) || continue
  set -- ${stat##*) }
  [ "$4" = "$pid" ] && [ "$5" != 0 ] || continue
  fg=$6; shift 19; start=$1
  env=$(tr '\0' '\n' < "$d/environ" 2>/dev/null) || continue
  for same in "HOSTNAME=$HOSTNAME" "HOME=$HOME"; do
    [ "$same" = "${same%=*}=" ] || printf '%s\n' "$env" | grep -qxF "$same" || continue 2
  done
  score=1000000
  tty=$(readlink "$d/fd/0" 2>/dev/null)
  case $tty in /dev/*) [ "$(stty size < "$tty" 2>/dev/null)" = "$rows $cols" ] && score=0;; esac
  if [ -n "$oldest" ] && [ "$now" -gt 0 ]; then
    age=$(( now - start )) diff=0
    [ "$age" -gt "$oldest" ] && diff=$(( age - oldest ))
    [ "$age" -lt "$newest" ] && diff=$(( newest - age ))
    score=$(( score + diff ))
  fi
  if [ -z "$best_score" ] || [ "$score" -lt "$best_score" ]; then
    best=$pid best_score=$score best_fg=$fg
  fi
done
if [ -n "$best" ]; then
  p=$best_fg n=0
  while [ "$p" != "$best" ] && [ $n -lt 32 ]; do
    comm=$(cat "/proc/$p/comm" 2>/dev/null) || { p=$best; break; }
    case $shells in *" $comm "*) break;; esac
    stat=$(cat "/proc/$p/stat" 2>/dev/null) || { p=$best; break; }
    set -- ${stat##*) }
    p=$2 n=$((n + 1))
    [ "$p" -gt 1 ] 2>/dev/null || { p=$best; break; }
  done
  dir=$(readlink "/proc/$p/cwd" 2>/dev/null)
  [ -n "$dir" ] && { printf 'shell %s\n' "$dir"; exit 0; }
fi
printf 'workdir %s\n' "$(pwd)"
"""


@dataclass(frozen=True)
class ShellDir:
    """A directory in the pod and how it was found.

    Attributes:
        path: absolute path in the container.
        source: ``shell`` (the terminal's shell, through ``/proc``) or ``workdir`` (the
            container's working directory).
    """

    path: str
    source: Literal["shell", "workdir"]


def parse_answer(stdout: bytes) -> ShellDir | None:
    """Read the script's answer; ``None`` when it printed nothing usable."""
    for line in stdout.decode("utf-8", errors="replace").splitlines():
        kind, _, path = line.partition(" ")
        if kind in ("shell", "workdir") and path.startswith("/"):
            return ShellDir(path, "shell" if kind == "shell" else "workdir")
    return None


def shell_directory(target: ExecTarget, rows: int, cols: int, started: tuple[float, float] | None,
                    timeout: float = SHELL_DIR_TIMEOUT) -> ShellDir:
    """Return the working directory of the terminal's shell in ``target`` (one pod, one container).

    Args:
        target: the terminal's pod and container (pinned, not a workload).
        rows: the terminal's height, which its TTY has.
        cols: the terminal's width.
        started: seconds since the terminal's session began connecting and since it was
            connected (its shell started in between), or ``None``.
        timeout: seconds for the whole look-up.

    Raises:
        K8sTTYError: the exec failed, or the container has no ``sh``.
    """
    from ..errors import K8sTTYError

    ages = [str(int(seconds * 100)) for seconds in started] if started else ["", ""]
    argv = ["sh", "-c", SHELL_DIR_SCRIPT, "k8stty-where", str(rows), str(cols), *ages]
    result = run(target, argv, timeout=timeout, max_output=64 * 1024)
    answer = parse_answer(result.stdout)
    if answer is None:
        detail = result.stderr.decode("utf-8", errors="replace").strip() or f"exit code {result.exit_code}"
        raise K8sTTYError(f"could not find the shell's directory in {result.pod}: {detail}")
    return answer
