"""``run()``: execute a command in a pod to completion and collect its output."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from typing_extensions import Unpack

from ..errors import ApiError, ArgumentError, ExecError, ExecTimeout, StreamError
from .checks import check_command, check_timeout, encode_input
from .output import DEFAULT_MAX_OUTPUT, OutputBuffer, describe_cut
from .protocol import STDOUT_CHANNEL
from .session import ExecSession
from .target import ExecTarget, TargetArgs

__all__ = ["DEFAULT_MAX_OUTPUT", "ExecResult", "check_max_output", "run"]


@dataclass
class ExecResult:
    """The outcome of a finished command, modelled on ``subprocess.CompletedProcess``.

    Attributes:
        command: the argv that ran.
        exit_code: the command's exit code.
        stdout: what it wrote to stdout (at most ``max_output`` bytes).
        stderr: what it wrote to stderr (at most ``max_output`` bytes).
        pod: ``namespace/pod`` it ran in.
        duration: seconds from connecting to the exit status.
        stdout_dropped: stdout bytes beyond ``max_output``, read and not kept.
        stderr_dropped: likewise for stderr.
    """

    command: list[str]
    exit_code: int
    stdout: bytes = b""
    stderr: bytes = b""
    pod: str = ""
    duration: float = field(default=0.0, repr=False)
    stdout_dropped: int = field(default=0, repr=False)
    stderr_dropped: int = field(default=0, repr=False)

    @property
    def ok(self) -> bool:
        """Whether the command exited 0."""
        return self.exit_code == 0

    @property
    def truncated(self) -> bool:
        """Whether output was cut at ``max_output``."""
        return bool(self.stdout_dropped or self.stderr_dropped)

    def cut_notes(self) -> list[str]:
        """One line per stream that was cut, e.g. ``stdout cut at 64.0 MiB: ...``."""
        notes = []
        for stream, kept, dropped in (("stdout", self.stdout, self.stdout_dropped),
                                      ("stderr", self.stderr, self.stderr_dropped)):
            if dropped:
                notes.append(describe_cut(stream, len(kept), dropped))
        return notes

    def check_returncode(self) -> ExecResult:
        """Return ``self``, or raise :class:`ExecError` if the exit code is not 0."""
        if self.exit_code != 0:
            raise ExecError(self.exit_code, self.stdout, self.stderr, command=self.command)
        return self


def check_max_output(value: Any) -> int:
    """Return ``value`` as a byte count above 0.

    Raises:
        ArgumentError: not a whole number above 0.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ArgumentError(f"max_output must be a whole number of bytes above 0, got {value!r}")
    return value


def run(
    target: ExecTarget | str | None,
    command: list[str],
    *,
    stdin: bytes | str | None = None,
    timeout: float | None = None,
    max_output: int = DEFAULT_MAX_OUTPUT,
    **where: Unpack[TargetArgs],
) -> ExecResult:
    r"""Run ``command`` in a pod without a TTY and return its output and exit code.

    Stdout and stderr are kept apart. A non-zero exit is not an exception: call
    :meth:`ExecResult.check_returncode` for that.

    Args:
        target: an :class:`~jupyter_k8stty.exec.target.ExecTarget`, or a pod name or a
            target kubectl accepts (``pod/NAME``, ``deploy/NAME``, ``sts/NAME``,
            ``ds/NAME``, ``rs/NAME``, ``job/NAME``, ``svc/NAME``: one pod is picked the way
            ``kubectl exec`` does); ``None`` with ``selector=``.
        command: argv list (never a shell string: nothing is spliced into a shell).
        stdin: bytes (``str`` is UTF-8 encoded) fed to the command, then stdin is closed
            (needs protocol v5).
        timeout: seconds for everything (lookups, connecting, the command); then the
            remote process is ended and :class:`ExecTimeout` raised. ``None`` waits forever.
        max_output: bytes kept per stream; what comes after is read and dropped
            (:attr:`ExecResult.truncated`).
        **where: :class:`~jupyter_k8stty.exec.target.TargetArgs` (``namespace``,
            ``container``, ``selector``, ``context``, ``kubeconfig``, ``impersonate``,
            ``impersonate_groups``, ``pod_running_timeout``).

    Returns:
        The :class:`ExecResult`.

    Raises:
        ArgumentError: an invalid command, timeout or limit (before any request).
        ApiError: the API server refused or could not be reached.
        StreamError: the stream failed before an exit status arrived.
        ExecTimeout: ``timeout`` passed first (it carries the output kept so far).

    Example:
        >>> run("web-0", ["sh", "-c", "echo hi"]).stdout
        b'hi\n'
    """
    command = check_command(command)
    timeout = check_timeout(timeout)
    limit = check_max_output(max_output)
    if stdin is not None:
        stdin = encode_input(stdin)
    stdout, stderr = OutputBuffer(limit), OutputBuffer(limit)
    session = ExecSession(target, command, tty=False, stdin=stdin is not None, **where)
    session.on_output(lambda channel, data: (stdout if channel == STDOUT_CHANNEL else stderr).add(data),
                      view=True)
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    try:
        session.start(deadline=deadline)
    except ApiError as exc:
        if deadline is not None and time.monotonic() >= deadline - 0.05:  # cut short by the deadline
            raise ExecTimeout(f"{command!r} in {session.name} did not start within {timeout:g} s: "
                              f"{exc}") from None
        raise
    try:
        if stdin is not None:
            session.feed(stdin)
        exit_code = session.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
    finally:
        if not session.done:
            session.close()  # on timeout or interrupt: ends the remote process
    if session.status == "closed" and session.feed_error is None:
        kept = f"{stdout.kept} bytes of stdout and {stderr.kept} of stderr kept"
        raise ExecTimeout(f"{command!r} in {session.name} did not finish within {timeout:g} s; "
                          f"the session was closed ({kept})", stdout=stdout.value(), stderr=stderr.value())
    if exit_code is None:
        raise StreamError(session.feed_error or session.error
                          or f"the exec stream into {session.name} ended without a status")
    return ExecResult(
        command=command,
        exit_code=exit_code,
        stdout=stdout.value(),
        stderr=stderr.value(),
        pod=session.name,
        duration=time.monotonic() - started,
        stdout_dropped=stdout.dropped,
        stderr_dropped=stderr.dropped,
    )
