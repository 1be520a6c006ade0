"""Start the process of an exec request, as a container runtime would.

The command runs on this machine in its container's working directory, with
an environment shaped like a pod's, in a PTY (``tty=true``) or with pipes.
"""

from __future__ import annotations

import fcntl
import os
import pty
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from jupyter_k8stty.exec import protocol
from jupyter_k8stty.sandbox import lifetime

#: Pipes are enlarged to this size so large outputs move in fewer, bigger reads.
PIPE_SIZE = 1024 * 1024

_SETSID = shutil.which("setsid")


def log(message: str) -> None:
    """Write one diagnostic line to stderr (never with credentials)."""
    print(f"k8stty-sandbox: {message}", file=sys.stderr, flush=True)

@dataclass(frozen=True)
class ExecRequest:
    """One exec call: where and what to run, and which streams the client wants."""

    namespace: str
    pod: str
    container: str
    command: tuple[str, ...]
    workdir: Path
    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    tty: bool = False
    #: What the container's image holds: ``None`` for anything on this machine's ``PATH``;
    #: a distroless container has only its entrypoint (see :mod:`.containers`).
    executables: tuple[str, ...] | None = None
    #: The container's ``env`` (name, value) pairs.
    env: tuple[tuple[str, str], ...] = ()

    def environment(self) -> dict[str, str]:
        """Return the environment of the process, as a container would have it."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": str(self.workdir),
            "HOSTNAME": self.pod,
            "KUBERNETES_POD_NAME": self.pod,
            "KUBERNETES_NAMESPACE": self.namespace,
            "KUBERNETES_CONTAINER": self.container,
        }
        if self.tty:
            env["TERM"] = "xterm"
        env.update(self.env)
        return env


def missing_executable_error(command: tuple[str, ...], env: dict[str, str], cwd: Path,
                             executables: tuple[str, ...] | None = None) -> str | None:
    """Return containerd's error message if ``command[0]`` cannot be executed, else ``None``.

    ``executables`` limits what exists, as in a distroless image: only those names (or
    paths) are found; ``None`` looks on this machine's ``PATH``.
    """
    exec_id = secrets.token_hex(32)
    prefix = ("error executing command in container: failed to exec in container: "
              f'failed to start exec "{exec_id}": OCI runtime exec failed: exec failed: '
              "unable to start container process: ")
    name = command[0] if command else ""
    if not name:
        return prefix + 'exec: "": executable file not found in $PATH: unknown'
    if executables is not None and name not in executables and not any(
            "/" in e and os.path.basename(e) == name for e in executables):
        if "/" in name:
            return prefix + f'exec: "{name}": stat {name}: no such file or directory: unknown'
        return prefix + f'exec: "{name}": executable file not found in $PATH: unknown'
    if "/" in name:
        path = cwd / name
        if not path.exists():
            return prefix + f'exec: "{name}": stat {name}: no such file or directory: unknown'
        if not (path.is_file() and os.access(path, os.X_OK)):
            return prefix + f'exec: "{name}": permission denied: unknown'
        return None
    if shutil.which(name, path=env["PATH"]) is None:
        return prefix + f'exec: "{name}": executable file not found in $PATH: unknown'
    return None


@dataclass
class Spawned:
    """A started process and the raw fds the stream uses.

    Attributes:
        proc: the process; its pid is also its process group and session id.
        master: the PTY master (tty only): output, input and resizes.
        stdin_fd: the write end of the stdin pipe (pipes with stdin only).
        outputs: output fd to the channel its bytes go to.
    """

    proc: subprocess.Popen[bytes]
    master: int | None
    stdin_fd: int | None
    outputs: dict[int, int]


def spawn(req: ExecRequest) -> Spawned:
    """Start the command of ``req`` in a PTY or with pipes, in a process group of its own.

    The process dies with the sandbox, even by SIGKILL (see :mod:`.lifetime`); call
    :func:`jupyter_k8stty.sandbox.lifetime.release` with its pid once its group is dead.

    Raises:
        OSError: the process could not be started.
    """
    env = req.environment()
    # The guardian first: a pod process must never exist without one watching it.
    lifetime.start_guardian()
    if req.tty:
        if _SETSID is None:
            raise OSError("setsid (util-linux) is required for tty exec")
        master, slave = pty.openpty()
        try:
            # The child must become a session leader with the PTY as its
            # controlling terminal, or job control and SIGWINCH do not work.
            # ``setsid --ctty`` does setsid() and TIOCSCTTY in C and then execs
            # the command in place (as setpriv does before it), so the pid we hold
            # is the command's and no Python runs between fork and exec. Popen
            # must not start a new session itself: setsid forks when it is
            # already a group leader.
            proc = subprocess.Popen(
                [*lifetime.die_with_parent(), _SETSID, "--ctty", "--", *req.command],
                stdin=slave, stdout=slave, stderr=slave, cwd=req.workdir, env=env,
                close_fds=True,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        lifetime.guard(proc.pid)
        # Input is written without blocking (procio.write_all_unless_gone): a program that
        # does not read must not hold the writer. Its reads tolerate EAGAIN (read_output).
        os.set_blocking(master, False)
        return Spawned(proc, master, None, {master: protocol.STDOUT_CHANNEL})
    proc = subprocess.Popen(
        [*lifetime.die_with_parent(), *req.command],
        stdin=subprocess.PIPE if req.stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE if req.stdout else subprocess.DEVNULL,
        stderr=subprocess.PIPE if req.stderr else subprocess.DEVNULL,
        cwd=req.workdir, env=env, close_fds=True, bufsize=0, start_new_session=True,
    )
    lifetime.guard(proc.pid)
    # Keep raw fds and drop the file objects so nothing closes them behind our back.
    stdin_fd = None
    outputs: dict[int, int] = {}
    if proc.stdin is not None:
        stdin_fd = os.dup(proc.stdin.fileno())
        proc.stdin.close()
        os.set_blocking(stdin_fd, False)  # as the master above
    for stream, channel in ((proc.stdout, protocol.STDOUT_CHANNEL),
                            (proc.stderr, protocol.STDERR_CHANNEL)):
        if stream is not None:
            fd = os.dup(stream.fileno())
            stream.close()
            try:
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
            except OSError:
                pass
            outputs[fd] = channel
    return Spawned(proc, None, stdin_fd, outputs)
