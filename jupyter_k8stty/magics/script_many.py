"""``%%k8sexec -l SELECTOR`` / ``deploy/NAME`` / ``POD POD ...``: the cell on many pods at once.

Each pod's output is written to the cell line by line as ``[pod] line``. As for one
pod, chunks are acknowledged (``Fanout.acknowledge``) only once written, so each pod
has at most :data:`FANOUT_WINDOW` bytes waiting and a flood is throttled by the
notebook; kept results are bounded by pods × 2 × ``--max-output``.
"""

from __future__ import annotations

import argparse
import queue
import sys
from typing import Any

from IPython.core.error import UsageError

from ..errors import ExecError, K8sTTYError, one_line
from ..exec.fanout import Fanout, FanoutResults, PodResult
from ..exec.output import format_bytes
from ..exec.protocol import STDERR_CHANNEL, STDOUT_CHANNEL
from ..exec.target import CommonTargetArgs
from .streams import PREFIX, PrefixedLines, print_err

__all__ = ["FANOUT_WINDOW", "run_fanout"]

#: Output bytes of one pod delivered but not yet written to the cell, at most.
FANOUT_WINDOW: int = 256 * 1024
#: Seconds between checks while no event arrives.
POLL: float = 0.1


def run_fanout(shell: Any, args: argparse.Namespace, where: CommonTargetArgs, command: list[str],
               script: bytes) -> FanoutResults | None:
    """Run ``script`` on every pod the targets and ``-l`` name; see the module docstring.

    Raises:
        UsageError: the selector could not be resolved, or no pod matched.
        ExecError: with ``--raise-error``, when a pod failed.
    """
    __tracebackhide__ = True
    events: queue.SimpleQueue[tuple[str, int | None, Any]] = queue.SimpleQueue()
    try:
        fanout = Fanout(
            args.targets, command, selector=args.selector, stdin=script, timeout=args.timeout,
            max_parallel=args.max_parallel, max_output=args.max_output, flow_window=FANOUT_WINDOW,
            on_output=lambda pod, channel, data: events.put((pod, channel, data)),
            on_result=lambda pod, result: events.put((pod, None, result)),
            **where,
        )
    except (K8sTTYError, ValueError) as exc:
        raise UsageError(f"%%k8sexec: {one_line(exc)}") from None
    if not fanout.plan:
        what = f"selector {args.selector!r}" if args.selector else " ".join(args.targets)
        raise UsageError(f"%%k8sexec: no pods match {what}")
    out_stream = None if args.out else sys.stdout
    err_stream = None if args.err else sys.stderr
    writers: dict[tuple[str, int], PrefixedLines] = {}

    def handle(pod: str, channel: int | None, payload: Any) -> None:
        if channel is None:
            for ch in (STDOUT_CHANNEL, STDERR_CHANNEL):
                if (pod, ch) in writers:
                    writers[(pod, ch)].finish()
            result: PodResult = payload
            if result.error is not None and err_stream is not None:
                err_stream.write(f"[{pod}] {PREFIX} {result.error}\n")
                err_stream.flush()
            return
        key = (pod, channel)
        if key not in writers:
            writers[key] = PrefixedLines(pod, out_stream if channel == STDOUT_CHANNEL else err_stream)
        writers[key].feed(payload)
        fanout.acknowledge(pod, len(payload))  # written: the pod may send more

    fanout.start()
    try:
        while not fanout.done or not events.empty():
            try:
                handle(*events.get(timeout=POLL))
            except queue.Empty:
                continue
    except KeyboardInterrupt:
        fanout.cancel()
        print_err(f"{PREFIX} interrupted: closed the sessions of {len(fanout.plan)} pods")
        raise
    for w in writers.values():
        w.finish()
    return _report(shell, args, fanout.results, command)


def _report(shell: Any, args: argparse.Namespace, results: FanoutResults,
            command: list[str]) -> FanoutResults | None:
    if args.err:
        shell.user_ns[args.err] = {
            name: r.stderr.decode("utf-8", errors="replace") for name, r in results.items()
        }
    cut = [name for name, r in results.items() if r.truncated]
    if cut:
        shown = ", ".join(cut[:5]) + (f" and {len(cut) - 5} more" if len(cut) > 5 else "")
        print_err(f"{PREFIX} output kept in the results cut at {format_bytes(args.max_output)} per "
                  f"stream on {len(cut)} pod(s): {shown} (raise --max-output to keep more)")
    failed = results.failed
    if failed:
        print_err(f"{PREFIX} {results.summary()}: " + ", ".join(
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
