"""``run()``: execute a command in a pod to completion and collect its output."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from ..errors import ExecError, ExecTimeout, StreamError
from .protocol import STDOUT_CHANNEL
from .session import ExecSession
from .targets import DEFAULT_POD_RUNNING_TIMEOUT


@dataclass
class ExecResult:
    """The outcome of a finished command, modelled on ``subprocess.CompletedProcess``.

    Attributes:
        command: the argv that ran.
        exit_code: the command's exit code.
        stdout: everything it wrote to stdout.
        stderr: everything it wrote to stderr.
        pod: ``namespace/pod`` it ran in.
        duration: seconds from connecting to the exit status.
    """

    command: list[str]
    exit_code: int
    stdout: bytes = b""
    stderr: bytes = b""
    pod: str = ""
    duration: float = field(default=0.0, repr=False)

    @property
    def ok(self) -> bool:
        """Whether the command exited 0."""
        return self.exit_code == 0

    def check_returncode(self) -> ExecResult:
        """Return ``self``, or raise :class:`ExecError` if the exit code is not 0."""
        if self.exit_code != 0:
            raise ExecError(self.exit_code, self.stdout, self.stderr, command=self.command)
        return self


def run(
    pod: str | None,
    command: list[str],
    *,
    namespace: str | None = None,
    container: str | None = None,
    stdin: bytes | None = None,
    timeout: float | None = None,
    context: str | None = None,
    kubeconfig: str | None = None,
    selector: str | None = None,
    pod_running_timeout: float = DEFAULT_POD_RUNNING_TIMEOUT,
) -> ExecResult:
    r"""Run ``command`` in ``pod`` without a TTY and return its output and exit code.

    Stdout and stderr are kept apart. A non-zero exit is not an exception: call
    :meth:`ExecResult.check_returncode` for that.

    Args:
        pod: a pod name or a target kubectl accepts: ``pod/NAME``, ``deploy/NAME``,
            ``sts/NAME``, ``ds/NAME``, ``rs/NAME``, ``job/NAME``, ``svc/NAME`` (one pod is
            picked the way ``kubectl exec`` does); ``None`` with ``selector``.
        command: argv list (never a shell string: nothing is spliced into a shell).
        namespace: defaults to the context's namespace.
        container: defaults to the ``kubectl.kubernetes.io/default-container``
            annotation, else the pod's first container.
        stdin: bytes fed to the command, then stdin is closed (needs protocol v5).
        timeout: seconds before the command is abandoned; ``None`` waits forever.
        context: kubeconfig context.
        kubeconfig: kubeconfig path(s).
        selector: a label selector instead of ``pod`` (the most active matching pod).
        pod_running_timeout: seconds to wait for a Pending pod to run.

    Returns:
        The :class:`ExecResult`.

    Raises:
        ApiError: the API server refused or could not be reached.
        StreamError: the stream failed before an exit status arrived.
        ExecTimeout: ``timeout`` passed first.

    Example:
        >>> run("web-0", ["sh", "-c", "echo hi"]).stdout
        b'hi\n'
    """
    if isinstance(command, str):
        raise TypeError("command must be a list of arguments, e.g. ['ls', '-l'], not a string")
    stdout: list[bytes] = []
    stderr: list[bytes] = []
    session = ExecSession(
        pod,
        list(command),
        namespace=namespace,
        container=container,
        tty=False,
        stdin=stdin is not None,
        context=context,
        kubeconfig=kubeconfig,
        selector=selector,
        pod_running_timeout=pod_running_timeout,
    )

    def collect(channel: int, data: bytes) -> None:
        (stdout if channel == STDOUT_CHANNEL else stderr).append(data)

    session.on_output(collect)
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    session.start()
    try:
        if stdin is not None:
            _feed(session, stdin, deadline)
        exit_code = session.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
    finally:
        if not session.done:
            session.close()
    if session.status == "closed":
        raise ExecTimeout(f"{command!r} in {session.name} did not finish within {timeout:g} s")
    if exit_code is None:
        raise StreamError(session.error or f"the exec stream into {session.name} ended without a status")
    return ExecResult(
        command=list(command),
        exit_code=exit_code,
        stdout=b"".join(stdout),
        stderr=b"".join(stderr),
        pod=session.name,
        duration=time.monotonic() - started,
    )


def _feed(session: ExecSession, data: bytes, deadline: float | None) -> None:
    """Write ``data`` then close stdin, on a helper thread so a timeout still applies."""
    failure: list[BaseException] = []

    def feed() -> None:
        try:
            session.write(data)
            session.close_stdin()
        except StreamError as exc:
            if not session.done:
                failure.append(exc)

    writer = threading.Thread(target=feed, name=f"k8stty-stdin-{session.name}", daemon=True)
    writer.start()
    writer.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
    if failure:
        raise failure[0]
