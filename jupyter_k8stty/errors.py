"""The exception family of jupyter-k8stty.

Messages say what was expected and what arrived, and never carry credentials.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence


class K8sTTYError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(K8sTTYError):
    """No usable cluster configuration (kubeconfig, context or in-cluster account)."""


class ApiError(K8sTTYError):
    """The Kubernetes API server refused a request.

    Attributes:
        status: the HTTP status code (for example 404), or ``None`` when the
            server could not be reached at all.
        reason: the ``metav1.Status`` reason (``NotFound``, ``Forbidden``, ...) if any.
    """

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason


class DebugError(ApiError):
    """A debug container or node debug pod could not be added, or did not start.

    ``status`` is the HTTP code of a refusal (403, 404 ...), ``None`` when the container
    failed on the node; ``reason`` is the API's reason or the container's waiting reason
    (``ImagePullBackOff``, ``CreateContainerConfigError`` ...).
    """


class ArgumentError(K8sTTYError, ValueError, TypeError):
    """An invalid argument, rejected before any request: one line says which and why.

    An empty command or one given as a string, a NUL byte, a timeout that is not a
    positive finite number, a size out of range, text that cannot be encoded. It is a
    ``ValueError`` (and, for arguments of the wrong type, a ``TypeError``) too, so
    ``except ValueError`` keeps working.
    """


class TargetError(ArgumentError):
    """An invalid target, rejected before any request.

    A malformed pod or workload name, an unknown kind, a bad namespace or label
    selector. It is a ``ValueError`` too, so ``except ValueError`` keeps working.
    """


class StreamError(K8sTTYError):
    """The exec stream failed: the connection dropped or the server reported an error."""


class ExecTimeout(K8sTTYError, TimeoutError):
    """The command did not finish within the allowed time; the remote process was ended.

    Attributes:
        stdout: the output kept until the deadline (bounded by ``max_output``).
        stderr: likewise for stderr.
    """

    def __init__(self, message: str, *, stdout: bytes = b"", stderr: bytes = b""):
        super().__init__(message)
        self.stdout = stdout
        self.stderr = stderr


class ExecError(K8sTTYError):
    """The command ran and exited with a non-zero code.

    Attributes:
        exit_code: the command's exit code.
        stdout: what the command wrote to stdout.
        stderr: what the command wrote to stderr.
    """

    def __init__(self, exit_code: int, stdout: bytes = b"", stderr: bytes = b"", *,
                 command: list[str] | None = None):
        what = f"command {command!r}" if command else "command"
        text = f"{what} exited with code {exit_code}"
        output = (stdout[-4096:] + b"\n" + stderr[-4096:]).decode("utf-8", "replace")
        if exit_code in (126, 127) and shell_missing(command, output):
            text += f": {NO_SHELL_HINT}"
        super().__init__(text)
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr
        self.command = command


class CopyError(K8sTTYError):
    """A copy failed in the pod: no ``tar``, no such path, no space, no permission...

    Attributes:
        exit_code: the exit code of the pod's side (``127``: no ``tar``), or ``None``.
        stderr: what the pod's side wrote to stderr.
    """

    def __init__(self, message: str, *, exit_code: int | None = None, stderr: bytes = b""):
        super().__init__(message)
        self.exit_code = exit_code
        self.stderr = stderr


#: Programs that are shells: when one of them cannot be started, the image may have none.
SHELLS: frozenset[str] = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "busybox"})
#: What to do when a container has no shell.
NO_SHELL_HINT: str = ("the container has no shell (a distroless image?): open a debug container "
                      "next to it with --debug (debug=True)")
# How container runtimes say a program could not be started (runc through containerd or
# CRI-O): 'exec: "sh": executable file not found in $PATH', or for a path
# 'exec: "/bin/sh": stat /bin/sh: no such file or directory'. A shell's own "not found"
# for a command it runs is not one of them.
_NOT_STARTED_RE = re.compile(r'executable file not found|exec: "[^"]*": stat [^\n]*no such file'
                             r"|unable to start container process", re.IGNORECASE)


def shell_missing(command: Sequence[str] | None, text: str) -> bool:
    """Whether ``text`` says that the shell ``command`` runs could not be started.

    ``text`` is an exec error, or the output before exit code 126 or 127; ``command``'s
    program must be a shell (``sh``, ``bash`` ...) for a debug container to be the answer.
    """
    if not command:
        return False
    return os.path.basename(str(command[0])) in SHELLS and _NOT_STARTED_RE.search(text) is not None


def one_line(error: BaseException | str) -> str:
    """Return an error as one line for a status, a table cell or a notebook message.

    Whitespace runs (newlines included) collapse to one space. Exceptions that are not
    ours are prefixed with their type, since their message alone may not say what failed.
    """
    if isinstance(error, str):
        return " ".join(error.split())
    text = " ".join(str(error).split())
    if not isinstance(error, K8sTTYError):
        text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text or type(error).__name__
