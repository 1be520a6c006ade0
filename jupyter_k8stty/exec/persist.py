"""Persistent shells: run a terminal's shell inside ``tmux`` (else ``screen``) in the container.

A terminal opened with ``persist=NAME`` does not exec the shell itself but a small
``sh`` script (:func:`persist_command`) that attaches to a session manager session
named after the user and ``NAME`` (``k8stty-jane-work``; a ``-`` in the user's name is
doubled, ``k8stty-jane--doe-work``, so that no two users' sessions share a name), creating
it on first use.
When the exec stream ends (a dropped connection, a page reload, a kernel restart), only
the attached client dies; the session, its programs and its scrollback stay in the
container, and the next terminal with the same name attaches to them.

``tmux`` runs on a socket of its own (:data:`TMUX_SOCKET`), so the user's own tmux
server and configuration are untouched, in UTF-8 (an exec sets no locale), with its
status bar off and no prefix key (detaching is closing the terminal; the shell gets
every key). Its history is printed
before attaching, so the browser's scrollback holds it; it does not use the alternate
screen, so new output scrolls into the browser's scrollback too. ``screen`` gets the
equivalent settings from a small configuration file of the user's own, and its history
is printed the same way (``hardcopy -h`` less the screen). Both take a bare session name
as a prefix of others (``work`` would find ``work2``): sessions are always named exactly
(tmux's ``=NAME``, screen's ``PID.NAME``). Without either, the script says so on the
terminal and runs the normal login shell.

:func:`sessions` lists the persistent sessions of a pod, and
:meth:`PersistentSession.end` ends one.
"""

from __future__ import annotations

import dataclasses
import datetime
import getpass
import os
import re
from dataclasses import dataclass, field
from typing import Literal

from typing_extensions import Unpack

from ..errors import ArgumentError, ExecError
from .run import run
from .session import DEFAULT_SHELL
from .target import ExecTarget, TargetArgs

__all__ = [
    "SESSION_PREFIX",
    "TMUX_SOCKET",
    "PersistentSession",
    "persist_command",
    "session_name",
    "sessions",
    "split_session_name",
]

#: The tmux socket name (``tmux -L``): a server of our own, apart from the user's.
TMUX_SOCKET = "jupyter-k8stty"
#: Every persistent session's name starts with this.
SESSION_PREFIX = "k8stty-"
#: Lines of history tmux keeps per session.
HISTORY_LIMIT = 50_000
#: Longest NAME accepted.
MAX_NAME = 64
#: Seconds :func:`sessions` and :meth:`PersistentSession.end` wait for the pod.
LIST_TIMEOUT = 30.0

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_LOGIN_SHELL = DEFAULT_SHELL[2]

Manager = Literal["tmux", "screen"]

# $0 is the script's name, $1 the session, the rest the command (none: the login shell).
# `tmux new-session` may lose a race with another terminal creating the same session:
# its error is ignored and the attach joins the winner's session.
_SCRIPT = r"""
s=$1; shift
case ${TERM:-dumb} in dumb|unknown) export TERM=xterm-256color ;; esac
if [ $# -eq 0 ]; then set -- sh -c '@LOGIN@'; fi
if command -v tmux >/dev/null 2>&1; then
  t() { tmux -u -L @SOCKET@ "$@"; }
  if t has-session -t "=$s" 2>/dev/null; then
    n=$(t display-message -p -t "=$s:" '#{history_size}' 2>/dev/null)
    if [ "${n:-0}" -gt 0 ] 2>/dev/null; then
      t capture-pane -p -e -J -S "-$n" -E -1 -t "=$s:" 2>/dev/null
      r=$(stty size 2>/dev/null); r=${r%% *}
      i=0; while [ "$i" -lt "${r:-24}" ]; do echo; i=$((i+1)); done
    fi
  else
    t start-server \; set -g history-limit @HISTORY@ \; set -g status off \
      \; set -g prefix None \; set -g prefix2 None \; set -g exit-empty on \
      \; set -ga terminal-overrides ',xterm*:smcup@:rmcup@' \
      \; new-session -d -s "$s" -- "$@" 2>/dev/null
  fi
  exec tmux -u -L @SOCKET@ attach-session -t "=$s"
elif command -v screen >/dev/null 2>&1; then
  # screen matches a name given to -S, -x or -r as a prefix: look the session up by
  # its exact name and name it by its full "PID.NAME".
  screen -wipe >/dev/null 2>&1  # forget sessions whose screen died (a killed container process)
  id=$(screen -ls 2>/dev/null | while read -r i _; do
    case $i in [0-9]*."$s") echo "$i"; break ;; esac; done)
  # Our own configuration file (a file of that name left by another user is removed
  # or, if that fails, not read).
  u=$(id -u 2>/dev/null); c=${TMPDIR:-/tmp}/@PREFIX@screenrc-${u:-0}
  rm -f "$c" 2>/dev/null
  if ! (umask 077; set -C; printf '%s\n' 'startup_message off' 'escape ^]^]' 'hardstatus ignore' \
      'defscrollback @HISTORY@' 'termcapinfo xterm* ti@:te@' 'altscreen off' 'deflogin off' \
      'defutf8 on' > "$c") 2>/dev/null; then c=/dev/null; fi
  if [ -n "$id" ]; then
    f=${TMPDIR:-/tmp}/@PREFIX@history-$$
    rm -f "$f.h" "$f.s" 2>/dev/null
    # The scrollback and the screen, then the screen alone: the difference is the
    # history above the screen, printed before attaching as tmux's is.
    if screen -S "$id" -X hardcopy -h "$f.h" 2>/dev/null \
        && screen -S "$id" -X hardcopy "$f.s" 2>/dev/null; then
      screen -S "$id" -Q info >/dev/null 2>&1  # answered once both copies are written
      i=0; while [ ! -s "$f.s" ] && [ "$i" -lt 20 ]; do sleep 0.1 2>/dev/null || break; i=$((i+1)); done
      n=$(( $(wc -l < "$f.h" 2>/dev/null || echo 0) - $(wc -l < "$f.s" 2>/dev/null || echo 0) ))
      if [ "$n" -gt 0 ] 2>/dev/null; then
        head -n "$n" "$f.h"
        r=$(stty size 2>/dev/null); r=${r%% *}
        i=0; while [ "$i" -lt "${r:-24}" ]; do echo; i=$((i+1)); done
      fi
    fi
    rm -f "$f.h" "$f.s" 2>/dev/null
    exec screen -U -c "$c" -x "$id"
  fi
  exec screen -U -c "$c" -S "$s" "$@"
else
  printf '\033[2m%s\033[0m\r\n' "jupyter-k8stty: neither tmux nor screen is installed in this container: \
this shell is not persistent"
  exec "$@"
fi
"""


def _fill(script: str) -> str:
    return (script.replace("@LOGIN@", _LOGIN_SHELL.replace("'", "'\\''"))
            .replace("@SOCKET@", TMUX_SOCKET).replace("@HISTORY@", str(HISTORY_LIMIT))
            .replace("@PREFIX@", SESSION_PREFIX))


_SCRIPT = _fill(_SCRIPT)

# Lists both managers' sessions as "tmux|NAME|CREATED|CLIENTS|ACTIVITY" ("|" is in no
# session name; tmux turns a tab into "_" when the locale is not UTF-8).
_LIST = r"""
if command -v tmux >/dev/null 2>&1; then
  tmux -L @SOCKET@ list-sessions 2>/dev/null \
    -F 'tmux|#{session_name}|#{session_created}|#{session_attached}|#{session_activity}'
fi
if command -v screen >/dev/null 2>&1; then
  # "\tPID.NAME\t(DATE TIME)\t(Attached)": the state is the last field, after a date
  # whose format depends on the locale ("(Multi, attached)" when shared).
  screen -ls 2>/dev/null | while read -r id rest; do
    case $rest in *Dead*) continue ;; esac
    case $id in [0-9]*.@PREFIX@*) case $rest in *ttached\)*) a=1 ;; *) a=0 ;; esac
      printf 'screen|%s||%s|\n' "${id#*.}" "$a" ;; esac
  done
fi
exit 0
"""
_LIST = _fill(_LIST)

# Ending a session names it exactly: tmux's "=NAME", screen's "PID.NAME" (both match a
# bare name as a prefix too, which would end "work2" when asked for a "work" that is gone).
# `screen -X quit` only sends the command: wait (5 s at most) until the session is gone.
_END_SCREEN = r"""
listed() { screen -ls 2>/dev/null | while read -r i _; do case $i in $1) echo "$i"; break ;; esac; done; }
id=$(listed "[0-9]*.$1")
if [ -z "$id" ]; then echo "no screen session named $1" >&2; exit 1; fi
screen -S "$id" -X quit || exit
n=0; while [ -n "$(listed "$id")" ] && [ "$n" -lt 50 ]; do
  sleep 0.1 2>/dev/null || { sleep 1; n=$((n+9)); }; n=$((n+1))
done
"""


def _end_command(manager: Manager, name: str) -> list[str]:
    if manager == "tmux":
        return ["tmux", "-L", TMUX_SOCKET, "kill-session", "-t", f"={name}"]
    return ["sh", "-c", _END_SCREEN, "k8stty-end", name]


def current_user() -> str:
    """Return the notebook user: ``JUPYTERHUB_USER`` on JupyterHub, else the kernel's login name."""
    user = os.environ.get("JUPYTERHUB_USER", "").strip()
    if not user:
        try:
            user = getpass.getuser()
        except Exception:  # no name for this uid (a container's arbitrary uid)
            user = f"uid{os.getuid()}"
    return _safe_user(user)


def _safe_user(user: str) -> str:
    return _UNSAFE.sub("_", user).strip("_") or "user"


def session_name(name: str | bool | None = None, *, user: str | None = None) -> str:
    """Return the session manager's session name for ``name``: ``k8stty-USER-NAME``.

    ``None``, ``True`` or ``""`` stand for ``default``. ``NAME`` may hold letters,
    digits, ``_`` and ``-`` (tmux reserves ``.`` and ``:``), and starts with a letter,
    digit or ``_``. A ``-`` in USER is doubled, so that the name tells user and NAME
    apart (:func:`split_session_name`): ``jane`` and ``jane-doe`` never share a session.

    Raises:
        ArgumentError: ``name`` is not such a string.
    """
    if name is None or name is True or name == "":
        name = "default"
    if (not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]*", name)
            or len(name) > MAX_NAME):
        raise ArgumentError(f"a persistent session name is up to {MAX_NAME} letters, digits, "
                            f"'_' or '-' (not first), got {name!r}")
    owner = _safe_user(user) if user is not None else current_user()
    return f"{SESSION_PREFIX}{owner.replace('-', '--')}-{name}"


def split_session_name(name: str) -> tuple[str, str] | None:
    """Return ``(user, NAME)`` of a :func:`session_name`, or ``None`` if it is not one.

    >>> split_session_name("k8stty-jane--doe-my-work")
    ('jane-doe', 'my-work')
    """
    if not name.startswith(SESSION_PREFIX):
        return None
    rest, user, i = name[len(SESSION_PREFIX):], [], 0
    while i < len(rest):
        if rest[i] != "-":
            user.append(rest[i])
            i += 1
        elif rest.startswith("--", i):  # a "-" of the user's name
            user.append("-")
            i += 2
        else:
            label = rest[i + 1:]
            return ("".join(user), label) if user and label else None
    return None


def persist_command(name: str, command: list[str] | None = None) -> list[str]:
    """Return the argv that attaches to session ``name`` (a :func:`session_name`), creating it.

    ``command`` runs in a new session instead of the login shell (an existing session
    keeps whatever it runs).
    """
    return ["sh", "-c", _SCRIPT, "k8stty-persist", name, *(command or [])]


@dataclass(frozen=True)
class PersistentSession:
    """A persistent shell in a pod, as :func:`sessions` lists it.

    Attributes:
        name: the session manager's name, ``k8stty-USER-NAME``.
        manager: ``tmux`` or ``screen``.
        clients: terminals attached right now (screen: 1 when attached, else 0).
        created: when it was created (tmux only).
        activity: when it last had input or output (tmux only).
        target: the pod it lives in.
    """

    name: str
    manager: Manager
    clients: int = 0
    created: datetime.datetime | None = None
    activity: datetime.datetime | None = None
    target: ExecTarget = field(default_factory=ExecTarget, repr=False, compare=False)

    @property
    def user(self) -> str:
        """The user part of :attr:`name` (``jane-doe`` in ``k8stty-jane--doe-work``)."""
        parts = split_session_name(self.name)
        return parts[0] if parts else ""

    @property
    def label(self) -> str:
        """The ``NAME`` given to ``persist=`` (``my-work`` in ``k8stty-jane-my-work``)."""
        parts = split_session_name(self.name)
        return parts[1] if parts else self.name[len(SESSION_PREFIX):]

    def end(self) -> None:
        """End the session: its shell and programs get SIGHUP; attached terminals see it exit.

        Raises:
            ExecError: the session manager refused (the session is gone already, say).
        """
        run(self.target, _end_command(self.manager, self.name), timeout=LIST_TIMEOUT).check_returncode()


def _time(text: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromtimestamp(int(text), tz=datetime.timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None


def parse_sessions(text: str, target: ExecTarget) -> list[PersistentSession]:
    """Parse the listing script's output (one ``|``-separated line per session)."""
    found = []
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) < 5 or parts[0] not in ("tmux", "screen"):
            continue
        manager, name, created, clients, activity = parts[:5]
        try:
            count = int(clients or 0)
        except ValueError:
            count = 0
        found.append(PersistentSession(name, manager, count, _time(created), _time(activity),  # type: ignore[arg-type]
                                       target))
    return sorted(found, key=lambda s: (s.manager, s.name))


def sessions(target: ExecTarget | str | None = None, *, user: str | None = None,
             **where: Unpack[TargetArgs]) -> list[PersistentSession]:
    """List the persistent sessions in a pod (tmux's and screen's).

    Args:
        target: the pod, as for :class:`~jupyter_k8stty.Terminal` (``pod/NAME``,
            ``deploy/NAME`` ... pick one pod, as ``kubectl exec`` does).
        user: only this user's sessions; ``"*"`` for everyone's; default: the
            current notebook user's.
        **where: :class:`~jupyter_k8stty.exec.target.TargetArgs`.

    Returns:
        The sessions, each with :meth:`PersistentSession.end`.

    Raises:
        ApiError: the pod could not be reached.
        ExecError: the listing failed in the container (no ``sh``, say).

    Example:
        >>> for s in sessions("web-0"):
        ...     print(s.label, s.clients, s.activity)
        >>> sessions("web-0")[0].end()
    """
    exec_target = ExecTarget.of(target, **where)
    result = run(exec_target, ["sh", "-c", _LIST], timeout=LIST_TIMEOUT)
    if result.exit_code != 0:
        raise ExecError(result.exit_code, result.stdout, result.stderr, command=["sh", "-c", "<list>"])
    namespace, _, pod = result.pod.partition("/")
    # A workload picks one pod: ending a session must reach that same pod.
    pinned = (dataclasses.replace(exec_target, name=pod, selector=None, namespace=namespace)
              if exec_target.spans_pods else exec_target)
    found = parse_sessions(result.stdout.decode("utf-8", "replace"), pinned)
    if user != "*":
        owner = _safe_user(user) if user else current_user()
        found = [s for s in found if s.user == owner]
    return found
