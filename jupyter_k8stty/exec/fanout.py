"""``run_many()``: run one command on many pods in parallel and collect every result.

One pod failing, timing out or being unreachable never stops the others: its
result carries the reason in :attr:`PodResult.error`. The work runs on a
``ThreadPoolExecutor`` whose threads are named ``k8stty-fanout-N``; each pod's
exec session has its own reader thread, as :class:`ExecSession` always does.
Which pods: see :mod:`jupyter_k8stty.exec.fanout_targets`. Memory is bounded by
pods × ``max_output`` × 2 streams.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from typing_extensions import Unpack

from ..errors import ArgumentError, K8sTTYError, one_line
from .checks import check_command, check_timeout, encode_input
from .fanout_progress import FanoutProgress
from .fanout_results import FanoutResults, PodResult
from .fanout_targets import split_pods
from .output import DEFAULT_MAX_OUTPUT, OutputBuffer
from .protocol import STDOUT_CHANNEL
from .run import check_max_output
from .session import ExecSession
from .target import CommonTargetArgs, ExecTarget

__all__ = ["DEFAULT_MAX_PARALLEL", "Fanout", "FanoutResults", "PodResult", "run_many"]

log = logging.getLogger("jupyter_k8stty")

#: Pods run at once unless ``max_parallel`` says otherwise.
DEFAULT_MAX_PARALLEL: int = 16

OutputHandler = Callable[[str, int, bytes], None]
ResultHandler = Callable[[str, PodResult], None]


@dataclass(frozen=True)
class _Planned:
    """One row of a fan-out: a pod to run on, or an entry that failed to resolve."""

    name: str
    target: ExecTarget | None
    error: str | None = None
    resolved: bool = True  # False: a plain pod name, looked up (container default) when it runs


class Fanout:
    """A command running on many pods at once; :func:`run_many` is the blocking front end.

    Args:
        pods: pod names or targets (``deploy/web``); a workload target expands to its pods.
        command: argv to run in each pod.
        selector: a label selector; its pods are added to ``pods``.
        stdin: bytes fed to each command, then stdin is closed.
        timeout: seconds each pod's command may take (from the start of its lookup and
            connect) before it is ended; ``None`` waits forever.
        max_parallel: how many pods run at once.
        max_output: bytes kept per stream per pod; the rest is read and dropped.
        flow_window: when set with ``on_output``, each pod's reader pauses while this many
            output bytes are not yet passed to :meth:`acknowledge`, so a slow consumer
            throttles the pods instead of buffering their output.
        on_output: ``on_output(pod, channel, data)`` for every output chunk, called on
            the pod's reader thread.
        on_result: ``on_result(pod, result)`` once per pod when it is done, called on a
            worker thread.
        progress: show a progress bar (pods done, failures so far) when the fan-out
            runs longer than about a second (see :mod:`.fanout_progress`).
        **where: :class:`~jupyter_k8stty.exec.target.TargetArgs` shared by every pod
            (``namespace``, ``container``, ``context``, ``kubeconfig``, impersonation).

    Raises:
        ArgumentError: an invalid command, timeout or limit.
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
        stdin: bytes | None = None,
        timeout: float | None = None,
        max_parallel: int = DEFAULT_MAX_PARALLEL,
        max_output: int = DEFAULT_MAX_OUTPUT,
        flow_window: int | None = None,
        on_output: OutputHandler | None = None,
        on_result: ResultHandler | None = None,
        progress: bool = True,
        **where: Unpack[CommonTargetArgs],
    ):
        self.command = check_command(command)
        if isinstance(max_parallel, bool) or not isinstance(max_parallel, int) or max_parallel < 1:
            raise ArgumentError(f"max_parallel must be a whole number of at least 1, got {max_parallel!r}")
        self.timeout = check_timeout(timeout)
        self.max_output = check_max_output(max_output)
        self.stdin = stdin
        self.max_parallel = max_parallel
        self._where: dict[str, Any] = dict(where)
        self._flow_window = flow_window if on_output is not None else None
        self._on_output = on_output
        self._on_result = on_result
        self._progress: FanoutProgress | None = None
        self._show_progress = progress
        self._lock = threading.Lock()
        self._sessions: dict[str, ExecSession] = {}
        self._cancelled = False
        self._done = threading.Event()
        self._executor: ThreadPoolExecutor | None = None
        self._futures: list[Future] = []
        # The lookups that expand workloads and selectors are bounded by one timeout too.
        self._plan_deadline = None if self.timeout is None else time.monotonic() + self.timeout
        self.plan: list[_Planned] = self._plan(list(pods), selector)
        self.results = FanoutResults({p.name: None for p in self.plan})  # filled in as pods finish
        self._pending = len(self.plan)

    # -- resolution ------------------------------------------------------------------------

    def _expand(self, target: ExecTarget) -> list[_Planned]:
        refs = target.resolve(all_pods=True, deadline=self._plan_deadline)
        return [_Planned(r.name, target.pinned(r)) for r in refs]

    def _plan(self, pods: list[str], selector: str | None) -> list[_Planned]:
        planned: list[_Planned] = []
        for entry in pods:
            if not isinstance(entry, str) or not entry:
                raise ArgumentError(f"pods must be pod names or targets (strings), got {entry!r}")
            try:
                target = ExecTarget.of(entry, **self._where)
            except K8sTTYError as exc:
                planned.append(_Planned(entry, None, error=one_line(exc)))
                continue
            if target.parsed.is_pod:
                planned.append(_Planned(str(target.pod), target, resolved=False))
                continue
            try:
                planned.extend(self._expand(target))
            except K8sTTYError as exc:
                planned.append(_Planned(entry, None, error=one_line(exc)))
        if selector is not None:
            planned.extend(self._expand(ExecTarget.of(None, selector=selector, **self._where)))
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
        if self._show_progress:
            self._progress = FanoutProgress(len(self.plan)).start()
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

    def acknowledge(self, pod: str, nbytes: int) -> None:
        """Mark ``nbytes`` of ``pod``'s output as consumed (with ``flow_window``)."""
        session = self._sessions.get(pod)
        if session is not None:
            session.acknowledge(nbytes)

    def cancel(self) -> None:
        """Close every running session and skip pods not started yet (their error says so)."""
        with self._lock:
            self._cancelled = True
            sessions = list(self._sessions.values())
        for future in self._futures:
            future.cancel()
        closers = [threading.Thread(target=s.close, daemon=True, name=f"k8stty-close-{s.name}")
                   for s in sessions]
        for closer in closers:  # in parallel: each close may take a fraction of a second
            closer.start()
        for closer in closers:
            closer.join()
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
                log.exception("the result handler failed for %s", planned.name)
        if self._progress is not None:
            self._progress.advance(result.ok)
            if last:
                self._progress.finish()
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
        if planned.error is not None or planned.target is None:
            return PodResult(self.command, None, name=name, pod=name, error=planned.error)
        stdout, stderr = OutputBuffer(self.max_output), OutputBuffer(self.max_output)
        # A plain pod name is looked up by the session as kubectl exec does (default
        # container annotation, container check, a bounded wait for a Pending pod);
        # pods that came from a selector or workload were resolved already.
        session = ExecSession(planned.target, self.command, tty=False, stdin=self.stdin is not None,
                              resolve=not planned.resolved, flow_window=self._flow_window)
        handler = self._on_output
        session.on_output(lambda channel, data: (stdout if channel == STDOUT_CHANNEL else stderr).add(data),
                          view=True)
        if handler is not None:
            session.on_output(lambda channel, data: handler(name, channel, data))
        with self._lock:
            if self._cancelled:
                return PodResult(self.command, None, name=name, pod=name, error="cancelled")
            self._sessions[name] = session
        started_wall = time.time()
        started = time.monotonic()
        deadline = None if self.timeout is None else started + self.timeout

        def result(**kw: Any) -> PodResult:
            return PodResult(self.command, stdout=stdout.value(), stderr=stderr.value(),
                             pod=session.name, duration=time.monotonic() - started, name=name,
                             started=started_wall, stdout_dropped=stdout.dropped,
                             stderr_dropped=stderr.dropped, **kw)

        try:
            try:
                session.start(deadline=deadline)
            except K8sTTYError as exc:
                if deadline is not None and time.monotonic() >= deadline - 0.05:
                    return result(exit_code=None, error=f"timed out after {self.timeout:g} s "
                                                        f"(before the command started: {one_line(exc)})")
                return result(exit_code=None, error=one_line(exc))
            if self.stdin is not None:
                session.feed(self.stdin)
            code = session.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if not session.done:
                session.close()
                return result(exit_code=None, error=f"timed out after {self.timeout:g} s")
            if session.status == "exited":
                return result(exit_code=code)
            if session.feed_error:
                return result(exit_code=None, error=session.feed_error)
            if self._cancelled:
                return result(exit_code=None, error="cancelled")
            return result(exit_code=None, error=one_line(
                session.error or f"the stream ended without an exit status ({session.status})"))
        finally:
            with self._lock:
                self._sessions.pop(name, None)
            if not session.done:
                session.close()


def run_many(
    pods_or_selector: str | Iterable[str] | None,
    command: Sequence[str],
    *,
    selector: str | None = None,
    stdin: bytes | str | None = None,
    timeout: float | None = None,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    max_output: int = DEFAULT_MAX_OUTPUT,
    progress: bool = True,
    **where: Unpack[CommonTargetArgs],
) -> FanoutResults:
    """Run ``command`` on many pods in parallel; return ``{pod name: PodResult}``.

    Args:
        pods_or_selector: a list/tuple of pod names or targets (``"deploy/web"`` stands
            for all its pods), or a label selector string such as ``"app=worker"`` (a
            string with any of ``= ! ( ) ,`` or a space), or one pod name/target.
        command: argv list run in each pod.
        selector: a label selector, for when the first argument is a list or ``None``
            (or the selector is a bare key such as ``"app"``).
        stdin: bytes (``str`` is UTF-8 encoded) fed to every command, then closed.
        timeout: seconds each pod's command may take; ``None`` waits forever.
        max_parallel: how many pods run at once (default 16).
        max_output: bytes kept per stream per pod (default 64 MiB); memory is bounded by
            pods × 2 × ``max_output``. :attr:`PodResult.truncated` tells when output was cut.
        progress: show a progress bar (``tqdm.auto``: pods done of the total, failures
            so far) when the fan-out runs longer than about a second; ``False`` for none.
        **where: :class:`~jupyter_k8stty.exec.target.TargetArgs` (``namespace``,
            ``container``, ``context``, ``kubeconfig``, ``impersonate``, ...).

    Returns:
        A :class:`FanoutResults` dict in the order pods were listed. A pod that could
        not be reached or timed out has ``exit_code=None`` and its reason in ``error``;
        it never stops the others. The dict shows as a summary table in a notebook.

    Raises:
        ArgumentError: an invalid command, timeout or limit.
        K8sTTYError: the selector could not be resolved (no configuration, no access).

    Example:
        >>> results = run_many("app=worker", ["sh", "-c", "nproc"])
        >>> {pod: r.stdout.strip() for pod, r in results.items() if r.ok}
    """
    pods, selector = split_pods(pods_or_selector, selector)
    if stdin is not None:
        stdin = encode_input(stdin)
    fanout = Fanout(pods, command, selector=selector, stdin=stdin, timeout=timeout,
                    max_parallel=max_parallel, max_output=max_output, progress=progress,
                    **where).start()
    try:
        fanout.wait()
    except BaseException:  # KeyboardInterrupt included: leave no session behind
        fanout.cancel()
        raise
    return fanout.results
