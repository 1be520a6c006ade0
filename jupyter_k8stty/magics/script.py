"""``%%k8sexec TARGET``: run the cell as a script in a pod, or in many pods at once.

The cell body is fed on stdin to ``sh -s`` (or the ``--shell`` program) without a
TTY. Output streams live into the cell as ordinary stdout/stderr stream outputs, so
it is saved in the notebook and renders in nbconvert and on GitHub.

Threads: each exec session's reader thread only puts chunks on a queue; the cell's
own thread (the kernel's main thread) decodes them and writes ``sys.stdout`` /
``sys.stderr``, so output is attributed to the right cell and a kernel interrupt
(``KeyboardInterrupt``) lands where the sessions can be closed.
"""

from __future__ import annotations

import codecs
import posixpath
import queue
import shlex
import sys
import time
from typing import Any

from IPython.core.error import UsageError

from ..errors import ExecError, ExecTimeout, K8sTTYError, StreamError, one_line
from ..exec.fanout import DEFAULT_MAX_PARALLEL, Fanout, FanoutResults, PodResult
from ..exec.fanout_targets import is_workload_target
from ..exec.protocol import STDOUT_CHANNEL
from ..exec.session import ExecSession
from ..exec.target import DEFAULT_POD_RUNNING_TIMEOUT
from .terminal import _ArgumentParser

#: Interpreters that read a program from stdin with ``-`` rather than ``-s``.
_DASH_PROGRAMS = ("python", "perl", "ruby", "node", "Rscript", "php")
#: Seconds between checks for the deadline while waiting for output.
_POLL = 0.1
_PREFIX = "[k8sexec]"


def _cell_parser() -> _ArgumentParser:
    parser = _ArgumentParser(
        prog="%%k8sexec",
        description="Run the cell as a script in a pod (fed on stdin to `sh -s`), or in every "
        "pod matching -l SELECTOR / a workload target such as deploy/NAME, in parallel.",
        add_help=True,
    )
    parser.add_argument(
        "targets", nargs="*", metavar="TARGET",
        help="pod name, pod/NAME, or a workload (deploy/NAME, sts/NAME, ...: all its pods); "
        "several names run on each",
    )
    parser.add_argument("-l", "--selector", help="label selector: run on every matching pod")
    parser.add_argument("-n", "--namespace", help="namespace (default: the context's)")
    parser.add_argument("-c", "--container", help="container (default: the pod's default container)")
    parser.add_argument("--context", help="kubeconfig context (default: the current one)")
    parser.add_argument("--kubeconfig", help="kubeconfig path (default: $KUBECONFIG or ~/.kube/config)")
    parser.add_argument(
        "--shell", default="sh", metavar="PROGRAM",
        help="program that reads the script on stdin (default sh: `sh -s`; bash: `bash -s`; "
        "python3: `python3 -`; several words are used as given)",
    )
    parser.add_argument("--out", metavar="VAR", help="store stdout (str) in VAR instead of showing it")
    parser.add_argument("--err", metavar="VAR", help="store stderr (str) in VAR instead of showing it")
    parser.add_argument(
        "--raise-error", action="store_true",
        help="raise ExecError on a non-zero exit (so Run All stops)",
    )
    parser.add_argument(
        "--timeout", type=float, metavar="S",
        help="abandon the run after S seconds (each pod's run, when fanning out)",
    )
    parser.add_argument(
        "--max-parallel", type=int, default=DEFAULT_MAX_PARALLEL, metavar="N",
        help=f"pods run at once when fanning out (default {DEFAULT_MAX_PARALLEL})",
    )
    return parser


def shell_command(program: str) -> list[str]:
    """Return the argv that reads a script on stdin: ``sh`` → ``sh -s``, ``python3`` → ``python3 -``."""
    try:
        words = shlex.split(program)
    except ValueError as exc:
        raise UsageError(f"%%k8sexec: cannot parse --shell {program!r}: {exc}") from None
    if not words:
        raise UsageError("%%k8sexec: --shell must name a program")
    if len(words) > 1:
        return words
    base = posixpath.basename(words[0])
    return [words[0], "-" if base.startswith(_DASH_PROGRAMS) else "-s"]


def run_cell(shell: Any, line: str, cell: str) -> Any:
    """Run the ``%%k8sexec`` cell magic.

    Returns ``None`` for one pod (the output was streamed) and a
    :class:`~jupyter_k8stty.exec.fanout.FanoutResults` dict when fanning out (it shows
    as the summary table), unless ``--out`` took it.
    """
    __tracebackhide__ = True
    try:
        tokens = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"%%k8sexec: cannot parse the line: {exc}") from None
    args = _cell_parser().parse_args(tokens)
    if not args.targets and not args.selector:
        raise UsageError("%%k8sexec: name a pod (or a target such as deploy/NAME), or give -l SELECTOR")
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError("%%k8sexec: --timeout must be positive")
    if args.max_parallel < 1:
        raise UsageError("%%k8sexec: --max-parallel must be at least 1")
    for var in (args.out, args.err):
        if var is not None and not var.isidentifier():
            raise UsageError(f"%%k8sexec: {var!r} is not a valid variable name")
    command = shell_command(args.shell)
    script = cell.encode("utf-8")
    fan_out = bool(args.selector) or len(args.targets) > 1 or is_workload_target(args.targets[0])
    if fan_out:
        return _run_fanout(shell, args, command, script)
    return _run_single(shell, args, command, script)


# -- one pod --------------------------------------------------------------------------------


class _StreamWriter:
    """Decodes one channel incrementally and writes it to a stream or a capture buffer."""

    def __init__(self, stream: Any | None):
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.captured: list[str] = []
        self.raw: list[bytes] = []

    def feed(self, data: bytes, *, keep_raw: bool) -> None:
        if keep_raw:
            self.raw.append(data)
        self.emit(self.decoder.decode(data))

    def finish(self) -> None:
        self.emit(self.decoder.decode(b"", final=True))

    def emit(self, text: str) -> None:
        if not text:
            return
        if self.stream is None:
            self.captured.append(text)
        else:
            self.stream.write(text)
            self.stream.flush()


def _run_single(shell: Any, args: Any, command: list[str], script: bytes) -> None:
    __tracebackhide__ = True
    chunks: queue.SimpleQueue = queue.SimpleQueue()
    # The session finds the pod as kubectl exec does: the default-container annotation,
    # else the first container (with kubectl's note), a bounded wait for a Pending pod.
    wait = DEFAULT_POD_RUNNING_TIMEOUT if args.timeout is None else min(
        args.timeout, DEFAULT_POD_RUNNING_TIMEOUT)
    try:
        session = ExecSession(
            args.targets[0], command, namespace=args.namespace, container=args.container,
            tty=False, stdin=True, context=args.context, kubeconfig=args.kubeconfig,
            pod_running_timeout=wait,
        )
    except ValueError as exc:
        raise UsageError(f"%%k8sexec: {one_line(exc)}") from None
    session.on_output(lambda channel, data: chunks.put((channel, data)))
    session.on_exit(lambda _s: chunks.put(None))
    out = _StreamWriter(None if args.out else sys.stdout)
    err = _StreamWriter(None if args.err else sys.stderr)
    keep = bool(args.raise_error)
    started = time.monotonic()
    deadline = None if args.timeout is None else started + args.timeout
    try:
        session.start()
    except (K8sTTYError, ValueError) as exc:
        raise UsageError(f"%%k8sexec: {one_line(exc)}") from None
    except BaseException:  # KeyboardInterrupt while waiting for a Pending pod
        session.close()
        raise
    if session.note:
        _print_err(session.note)
    timed_out = False
    try:
        if session.status == "connected":
            session.feed(script)
        while True:
            wait = _POLL if deadline is None else max(0.0, min(_POLL, deadline - time.monotonic()))
            try:
                item = chunks.get(timeout=wait)
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    timed_out = True
                    break
                continue
            if item is None:
                break
            channel, data = item
            (out if channel == STDOUT_CHANNEL else err).feed(data, keep_raw=keep)
    except KeyboardInterrupt:
        session.close()
        _drain(chunks, out, err, keep)
        sys.stderr.write(f"{_PREFIX} interrupted: closed the session into {session.name}\n")
        sys.stderr.flush()
        raise
    finally:
        if not session.done:
            session.close()
    _drain(chunks, out, err, keep)
    _store(shell, args, "".join(out.captured), "".join(err.captured))
    if timed_out:
        message = (f"{_PREFIX} timed out after {args.timeout:g} s: closed the session "
                   f"into {session.name}")
        if args.raise_error:
            raise ExecTimeout(message)
        _print_err(message)
        return None
    if session.status != "exited":
        reason = session.feed_error or session.error or f"the session {session.status}"
        message = f"%%k8sexec: {one_line(reason)}"
        if args.raise_error:
            raise StreamError(message)
        raise UsageError(message)
    code = session.exit_code
    if code:
        if args.raise_error:
            error = ExecError(code, b"".join(out.raw), b"".join(err.raw), command=command)
            error.args = (f"the script in {session.name} exited with code {code}",)
            raise error
        _print_err(f"{_PREFIX} exited with code {code}")
    return None


def _drain(chunks: queue.SimpleQueue, out: _StreamWriter, err: _StreamWriter, keep: bool) -> None:
    while True:
        try:
            item = chunks.get_nowait()
        except queue.Empty:
            break
        if item is not None:
            channel, data = item
            (out if channel == STDOUT_CHANNEL else err).feed(data, keep_raw=keep)
    out.finish()
    err.finish()


def _store(shell: Any, args: Any, out: Any, err: Any) -> None:
    if args.out:
        shell.user_ns[args.out] = out
    if args.err:
        shell.user_ns[args.err] = err


def _print_err(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


# -- many pods ------------------------------------------------------------------------------


class _PrefixedLines:
    """Line-buffers one pod's channel and writes each line as ``[pod] line``."""

    def __init__(self, pod: str, stream: Any | None):
        self.prefix = f"[{pod}] "
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.partial = ""

    def feed(self, data: bytes) -> None:
        if self.stream is None:
            return
        text = self.partial + self.decoder.decode(data)
        lines = text.split("\n")
        self.partial = lines.pop()
        if lines:
            self.stream.write("".join(f"{self.prefix}{line}\n" for line in lines))
            self.stream.flush()

    def finish(self) -> None:
        if self.stream is None:
            return
        rest = self.partial + self.decoder.decode(b"", final=True)
        self.partial = ""
        if rest:
            self.stream.write(f"{self.prefix}{rest}\n")
            self.stream.flush()


def _run_fanout(shell: Any, args: Any, command: list[str], script: bytes) -> FanoutResults | None:
    __tracebackhide__ = True
    events: queue.SimpleQueue = queue.SimpleQueue()
    try:
        fanout = Fanout(
            args.targets, command, selector=args.selector, namespace=args.namespace,
            container=args.container, stdin=script, timeout=args.timeout, context=args.context,
            kubeconfig=args.kubeconfig, max_parallel=args.max_parallel,
            on_output=lambda pod, channel, data: events.put((pod, channel, data)),
            on_result=lambda pod, result: events.put((pod, None, result)),
        )
    except (K8sTTYError, ValueError) as exc:
        raise UsageError(f"%%k8sexec: {one_line(exc)}") from None
    if not fanout.plan:
        what = f"selector {args.selector!r}" if args.selector else " ".join(args.targets)
        raise UsageError(f"%%k8sexec: no pods match {what}")
    out_stream = None if args.out else sys.stdout
    err_stream = None if args.err else sys.stderr
    writers: dict[tuple[str, int], _PrefixedLines] = {}

    def writer(pod: str, channel: int) -> _PrefixedLines:
        key = (pod, channel)
        if key not in writers:
            stream = out_stream if channel == STDOUT_CHANNEL else err_stream
            writers[key] = _PrefixedLines(pod, stream)
        return writers[key]

    def handle(event: tuple) -> None:
        pod, channel, payload = event
        if channel is None:
            for ch in (STDOUT_CHANNEL, 2):
                if (pod, ch) in writers:
                    writers[(pod, ch)].finish()
            result: PodResult = payload
            if result.error is not None and err_stream is not None:
                err_stream.write(f"[{pod}] {_PREFIX} {result.error}\n")
                err_stream.flush()
        else:
            writer(pod, channel).feed(payload)

    fanout.start()
    try:
        while not fanout.done or not events.empty():
            try:
                handle(events.get(timeout=_POLL))
            except queue.Empty:
                continue
    except KeyboardInterrupt:
        fanout.cancel()
        _print_err(f"{_PREFIX} interrupted: closed the sessions of {len(fanout.plan)} pods")
        raise
    for w in writers.values():
        w.finish()
    results = fanout.results
    if args.err:
        shell.user_ns[args.err] = {
            name: r.stderr.decode("utf-8", errors="replace") for name, r in results.items()
        }
    failed = results.failed
    if failed:
        _print_err(f"{_PREFIX} {results.summary()}: " + ", ".join(
            f"{name} ({'exit ' + str(r.exit_code) if r.error is None else r.error})"
            for name, r in failed.items()))
    if args.out:
        shell.user_ns[args.out] = results
    if args.out or (failed and args.raise_error):
        _display(results)
    if failed and args.raise_error:
        first = next(iter(failed.values()))
        error = ExecError(first.exit_code or 1, first.stdout, first.stderr, command=command)
        error.args = (f"{results.summary()}; first: {first.name} "
                      + (f"exited with code {first.exit_code}" if first.error is None
                         else first.error),)
        error.results = results  # type: ignore[attr-defined]
        raise error
    return None if args.out else results


def _display(results: FanoutResults) -> None:
    try:
        from IPython.display import display

        display(results)
    except Exception:
        print(results.table())
