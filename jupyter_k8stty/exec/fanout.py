"""``run_many()``: run one command on many pods in parallel and collect every result.

One pod failing, timing out or being unreachable never stops the others: its
result carries the reason in :attr:`PodResult.error`. The work runs on a
``ThreadPoolExecutor`` whose threads are named ``k8stty-fanout-N``; each pod's
exec session has its own reader thread, as :class:`ExecSession` always does.

How pods are chosen (``run_many``'s first argument):

* a ``list``/``tuple`` of pod names or targets (``"web-0"``, ``"deploy/web"``,
  ``"statefulset/db"``); a workload target stands for all of its pods;
* a ``str`` containing any of ``= ! ( ) ,`` or a space is a label selector
  (``"app=worker"``, ``"tier!=db"``, ``"env in (a,b)"``); any other ``str`` is one
  pod name or target (pod names never contain those characters);
* or ``selector=...`` explicitly (needed for a bare existence selector such as ``"app"``).
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from ..errors import K8sTTYError, StreamError, one_line
from .protocol import STDOUT_CHANNEL, V5_PROTOCOL
from .run import ExecResult
from .session import ExecSession
from .targets import DEFAULT_POD_RUNNING_TIMEOUT

#: Pods run at once unless ``max_parallel`` says otherwise.
DEFAULT_MAX_PARALLEL: int = 16

_SELECTOR_CHARS = frozenset("=!(), ")
_POD_KINDS = frozenset({"pod", "pods", "po"})

OutputHandler = Callable[[str, int, bytes], None]
ResultHandler = Callable[[str, "PodResult"], None]


@dataclass
class PodResult(ExecResult):
    """The outcome on one pod of a fan-out: an :class:`ExecResult` that may carry an error.

    Attributes:
        exit_code: the command's exit code, or ``None`` when it never finished
            (see ``error``).
        error: one line saying why the command did not run to completion on this pod
            (no such pod, API server unreachable, timed out, cancelled); ``None`` when it did.
        name: the pod's name (the key of the result dict).
    """

    exit_code: int | None  # type: ignore[assignment]
    error: str | None = None
    name: str = ""
    started: float = field(default=0.0, repr=False)

    @property
    def ok(self) -> bool:
        """Whether the command ran and exited 0."""
        return self.error is None and self.exit_code == 0

    def check_returncode(self) -> PodResult:
        """Return ``self``; raise :class:`ExecError` on a non-zero exit, :class:`K8sTTYError` on an error."""
        if self.error is not None:
            raise K8sTTYError(f"{self.name}: {self.error}")
        super().check_returncode()
        return self


class FanoutResults(dict):
    """``{pod name: PodResult}`` in the order pods were listed; shows as a summary table.

    In a notebook the table is HTML; elsewhere it is plain text. ``print(results)``
    still prints the dict.
    """

    @property
    def failed(self) -> dict[str, PodResult]:
        """The pods whose command did not exit 0 (or did not run)."""
        return {name: r for name, r in self.items() if not r.ok}

    @property
    def ok(self) -> bool:
        """Whether the command exited 0 on every pod."""
        return all(r.ok for r in self.values())

    def summary(self) -> str:
        """Return a one-line count such as ``20 pods: 19 exited 0, 1 failed``."""
        failed = len(self.failed)
        total = len(self)
        noun = "pod" if total == 1 else "pods"
        if not failed:
            return f"{total} {noun}: all exited 0"
        return f"{total} {noun}: {total - failed} exited 0, {failed} failed"

    def _rows(self) -> list[tuple[str, str, str, str]]:
        rows = []
        for name, r in self.items():
            code = "-" if r.exit_code is None else str(r.exit_code)
            rows.append((name, code, f"{r.duration:.2f}s", r.error or ""))
        return rows

    def table(self) -> str:
        """Return the summary as a plain-text table (pod, exit code, duration, error)."""
        header = ("POD", "EXIT", "DURATION", "ERROR")
        rows = self._rows()
        widths = [max(len(header[i]), *(len(row[i]) for row in rows)) if rows else len(header[i])
                  for i in range(3)]
        lines = []
        for row in (header, *rows):
            cells = [row[i].ljust(widths[i]) for i in range(3)]
            lines.append("  ".join([*cells, row[3]]).rstrip())
        lines.append(self.summary())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        body = []
        for name, code, duration, error in self._rows():
            bad = code != "0" or error
            style = ' style="color:var(--jp-error-color1,#c62828)"' if bad else ""
            body.append(
                f"<tr><td style=\"text-align:left\">{html.escape(name)}</td>"
                f"<td{style}>{html.escape(code)}</td><td>{duration}</td>"
                f"<td style=\"text-align:left\">{html.escape(error)}</td></tr>"
            )
        return (
            "<table class=\"k8stty-fanout\"><thead><tr><th style=\"text-align:left\">pod</th>"
            "<th>exit code</th><th>duration</th><th style=\"text-align:left\">error</th></tr>"
            f"</thead><tbody>{''.join(body)}</tbody></table>"
            f"<p>{html.escape(self.summary())}</p>"
        )

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text("FanoutResults(...)" if cycle else self.table())


def is_selector(text: str) -> bool:
    """Whether ``text`` reads as a label selector rather than a pod name or target."""
    return any(ch in _SELECTOR_CHARS for ch in text)


def is_workload_target(target: str) -> bool:
    """Whether ``target`` is ``KIND/NAME`` for a kind other than pod (it may have many pods)."""
    kind, sep, _name = target.partition("/")
    return bool(sep) and kind.lower() not in _POD_KINDS


@dataclass(frozen=True)
class _Planned:
    """One row of a fan-out: a pod to run on, or an entry that failed to resolve."""

    name: str
    namespace: str | None
    container: str | None
    error: str | None = None
    resolved: bool = True  # False: a plain pod name, looked up (container default) when it runs


class Fanout:
    """A command running on many pods at once; :func:`run_many` is the blocking front end.

    Args:
        pods: pod names or targets (``deploy/web``); a workload target expands to its pods.
        command: argv to run in each pod.
        selector: a label selector; its pods are added to ``pods``.
        namespace, container, context, kubeconfig: as for :func:`~jupyter_k8stty.run`.
        stdin: bytes fed to each command, then stdin is closed.
        timeout: seconds each pod's command may take (from its connect) before it is
            abandoned; ``None`` waits forever.
        max_parallel: how many pods run at once.
        on_output: ``on_output(pod, channel, data)`` for every output chunk, called on
            the pod's reader thread.
        on_result: ``on_result(pod, result)`` once per pod when it is done, called on a
            worker thread.

    Raises:
        K8sTTYError: the selector could not be resolved (for example no configuration,
            or the API server refused to list pods). Per-entry failures of ``pods`` do
            not raise: they become error rows.
    """

    def __init__(
        self,
        pods: Sequence[str] = (),
        command: Sequence[str] = (),
        *,
        selector: str | None = None,
        namespace: str | None = None,
        container: str | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,
        context: str | None = None,
        kubeconfig: str | None = None,
        max_parallel: int = DEFAULT_MAX_PARALLEL,
        on_output: OutputHandler | None = None,
        on_result: ResultHandler | None = None,
    ):
        if isinstance(command, str):
            raise TypeError("command must be a list of arguments, e.g. ['ls', '-l'], not a string")
        if not command:
            raise ValueError("command must not be empty")
        if int(max_parallel) < 1:
            raise ValueError(f"max_parallel must be at least 1, got {max_parallel}")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.command = list(command)
        self.namespace = namespace
        self.container = container
        self.stdin = stdin
        self.timeout = timeout
        self.context = context
        self.kubeconfig = kubeconfig
        self.max_parallel = int(max_parallel)
        self._on_output = on_output
        self._on_result = on_result
        self._lock = threading.Lock()
        self._sessions: set[ExecSession] = set()
        self._cancelled = False
        self._done = threading.Event()
        self._executor: ThreadPoolExecutor | None = None
        self._futures: list[Future] = []
        self.plan: list[_Planned] = self._plan(list(pods), selector)
        self.results = FanoutResults({p.name: None for p in self.plan})  # filled in as pods finish
        self._pending = len(self.plan)

    # -- resolution ------------------------------------------------------------------------

    def _resolve(self, target: str | None, selector: str | None) -> list[_Planned]:
        from .targets import resolve_pods

        refs = resolve_pods(
            target,
            selector=selector,
            namespace=self.namespace,
            container=self.container,
            context=self.context,
            kubeconfig=self.kubeconfig,
            all_pods=True,
        )
        return [_Planned(r.name, r.namespace, r.container) for r in refs]

    def _plan(self, pods: list[str], selector: str | None) -> list[_Planned]:
        planned: list[_Planned] = []
        for entry in pods:
            if not isinstance(entry, str) or not entry:
                raise TypeError(f"pods must be pod names or targets (strings), got {entry!r}")
            kind, sep, name = entry.partition("/")
            if not sep:
                planned.append(_Planned(entry, self.namespace, self.container, resolved=False))
            elif kind.lower() in _POD_KINDS:
                planned.append(_Planned(name, self.namespace, self.container, resolved=False))
            else:
                try:
                    planned.extend(self._resolve(entry, None))
                except (K8sTTYError, ValueError) as exc:
                    planned.append(_Planned(entry, self.namespace, self.container, error=one_line(exc)))
        if selector is not None:
            planned.extend(self._resolve(None, selector))
        unique: dict[str, _Planned] = {}
        for p in planned:
            unique.setdefault(p.name, p)
        return list(unique.values())

    # -- running ---------------------------------------------------------------------------

    def start(self) -> Fanout:
        """Start running on every pod (at most ``max_parallel`` at once); returns ``self``."""
        if self._executor is not None:
            raise RuntimeError("the fan-out has already started")
        if not self.plan:
            self._done.set()
            return self
        self._executor = ThreadPoolExecutor(
            max_workers=min(self.max_parallel, len(self.plan)), thread_name_prefix="k8stty-fanout"
        )
        self._futures = [self._executor.submit(self._run_one, p) for p in self.plan]
        self._executor.shutdown(wait=False)
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every pod is done; return whether they all are."""
        return self._done.wait(timeout)

    @property
    def done(self) -> bool:
        """Whether every pod is done."""
        return self._done.is_set()

    def cancel(self) -> None:
        """Close every running session and skip pods not started yet (their error says so)."""
        with self._lock:
            self._cancelled = True
            sessions = list(self._sessions)
        for future in self._futures:
            future.cancel()
        for session in sessions:
            session.close()
        for planned, future in zip(self.plan, self._futures, strict=False):
            if future.cancelled():
                self._record(planned, PodResult(self.command, None, name=planned.name,
                                                pod=planned.name, error="cancelled"))

    def _record(self, planned: _Planned, result: PodResult) -> None:
        with self._lock:
            if self.results.get(planned.name) is not None:
                return
            self.results[planned.name] = result
            self._pending -= 1
            last = self._pending == 0
        if self._on_result is not None:
            try:
                self._on_result(planned.name, result)
            except Exception:  # a display problem must not lose the other pods
                pass
        if last:
            self._done.set()

    def _run_one(self, planned: _Planned) -> None:
        try:
            result = self._execute(planned)
        except Exception as exc:  # never let one pod's surprise stop the others
            result = PodResult(self.command, None, name=planned.name, pod=planned.name,
                               error=one_line(exc))
        self._record(planned, result)

    def _execute(self, planned: _Planned) -> PodResult:
        name = planned.name
        if planned.error is not None:
            return PodResult(self.command, None, name=name, pod=name, error=planned.error)
        stdout: list[bytes] = []
        stderr: list[bytes] = []
        # A plain pod name is looked up by the session as kubectl exec does (default
        # container annotation, container check, a bounded wait for a Pending pod);
        # pods that came from a selector or workload were resolved already.
        session = ExecSession(
            name,
            self.command,
            namespace=planned.namespace,
            container=planned.container,
            tty=False,
            stdin=self.stdin is not None,
            context=self.context,
            kubeconfig=self.kubeconfig,
            pod_running_timeout=(DEFAULT_POD_RUNNING_TIMEOUT if self.timeout is None
                                 else min(self.timeout, DEFAULT_POD_RUNNING_TIMEOUT)),
            resolve=not planned.resolved,
        )
        handler = self._on_output

        def collect(channel: int, data: bytes) -> None:
            (stdout if channel == STDOUT_CHANNEL else stderr).append(data)
            if handler is not None:
                handler(name, channel, data)

        session.on_output(collect)
        with self._lock:
            if self._cancelled:
                return PodResult(self.command, None, name=name, pod=name, error="cancelled")
            self._sessions.add(session)
        started_wall = time.time()
        started = time.monotonic()

        def result(**kw) -> PodResult:
            return PodResult(self.command, stdout=b"".join(stdout), stderr=b"".join(stderr),
                             pod=session.name, duration=time.monotonic() - started, name=name,
                             started=started_wall, **kw)

        try:
            try:
                session.start()
            except (K8sTTYError, ValueError) as exc:
                return result(exit_code=None, error=one_line(exc))
            feed_failures = [] if self.stdin is None else feed_in_background(session, self.stdin)
            left = None if self.timeout is None else self.timeout - (time.monotonic() - started)
            code = session.wait(None if left is None else max(0.0, left))
            if not session.done:
                session.close()
                return result(exit_code=None, error=f"timed out after {self.timeout:g} s")
            if session.status == "exited":
                return result(exit_code=code)
            if feed_failures:
                return result(exit_code=None, error=feed_failures[0])
            if self._cancelled:
                return result(exit_code=None, error="cancelled")
            return result(exit_code=None, error=one_line(
                session.error or f"the stream ended without an exit status ({session.status})"))
        finally:
            with self._lock:
                self._sessions.discard(session)
            if not session.done:
                session.close()


def feed_in_background(session: ExecSession, data: bytes) -> list[str]:
    """Write ``data`` then close stdin on a helper thread (the pod may not read at once).

    Returns a list that receives the error message if feeding fails while the session
    is still running (for example a v4-only server, which cannot close stdin); the
    session is then closed, since the command would wait for the end of its input forever.
    """
    failures: list[str] = []

    def feed() -> None:
        try:
            session.write(data)
            session.close_stdin()
        except StreamError as exc:
            if feeding_failed(session):
                failures.append(one_line(exc))
                session.close()

    threading.Thread(target=feed, name=f"k8stty-stdin-{session.name}", daemon=True).start()
    return failures


def feeding_failed(session: ExecSession, grace: float = 5.0) -> bool:
    """After a :class:`StreamError` while writing stdin, tell whether it is a real failure.

    A command may exit before reading all of its input; the server then closes the
    stream and the reader thread reports the exit a moment later. So on protocol v5
    this waits up to ``grace`` seconds for the session to end by itself. On v4,
    ``close_stdin`` is refused outright, which is a real failure at once.
    """
    if session.protocol == V5_PROTOCOL:
        session.wait(grace)
    return not session.done


def split_pods(pods_or_selector: str | Iterable[str] | None,
               selector: str | None = None) -> tuple[list[str], str | None]:
    """Return ``(pods, selector)`` from :func:`run_many`'s first argument and ``selector``."""
    pods: list[str] = []
    if isinstance(pods_or_selector, str):
        if is_selector(pods_or_selector):
            if selector is not None:
                raise ValueError("give one selector, not a selector string and selector=")
            selector = pods_or_selector
        else:
            pods = [pods_or_selector]
    elif pods_or_selector is not None:
        pods = list(pods_or_selector)
    if not pods and selector is None:
        raise ValueError("name some pods (a list of names or targets) or a label selector")
    return pods, selector


def run_many(
    pods_or_selector: str | Iterable[str] | None,
    command: Sequence[str],
    *,
    selector: str | None = None,
    namespace: str | None = None,
    container: str | None = None,
    stdin: bytes | str | None = None,
    timeout: float | None = None,
    context: str | None = None,
    kubeconfig: str | None = None,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
) -> FanoutResults:
    """Run ``command`` on many pods in parallel; return ``{pod name: PodResult}``.

    Args:
        pods_or_selector: a list/tuple of pod names or targets (``"deploy/web"`` stands
            for all its pods), or a label selector string such as ``"app=worker"`` (a
            string with any of ``= ! ( ) ,`` or a space), or one pod name/target.
        command: argv list run in each pod.
        selector: a label selector, for when the first argument is a list or ``None``
            (or the selector is a bare key such as ``"app"``).
        namespace: defaults to the context's namespace.
        container: defaults to each pod's default container.
        stdin: bytes (``str`` is UTF-8 encoded) fed to every command, then closed.
        timeout: seconds each pod's command may take; ``None`` waits forever.
        context: kubeconfig context.
        kubeconfig: kubeconfig path(s).
        max_parallel: how many pods run at once (default 16).

    Returns:
        A :class:`FanoutResults` dict in the order pods were listed. A pod that could
        not be reached or timed out has ``exit_code=None`` and its reason in ``error``;
        it never stops the others. The dict shows as a summary table in a notebook.

    Raises:
        K8sTTYError: the selector could not be resolved (no configuration, no access).

    Example:
        >>> results = run_many("app=worker", ["sh", "-c", "nproc"])
        >>> {pod: r.stdout.strip() for pod, r in results.items() if r.ok}
    """
    pods, selector = split_pods(pods_or_selector, selector)
    if isinstance(stdin, str):
        stdin = stdin.encode("utf-8")
    fanout = Fanout(
        pods, command, selector=selector, namespace=namespace, container=container, stdin=stdin,
        timeout=timeout, context=context, kubeconfig=kubeconfig, max_parallel=max_parallel,
    ).start()
    try:
        fanout.wait()
    except BaseException:  # KeyboardInterrupt included: leave no session behind
        fanout.cancel()
        raise
    return fanout.results
