"""``%%k8sexec POD``: the cell as a script in one pod, streamed into the cell within bounds.

Threads: the session's reader thread only puts chunks on a queue; the cell's own
thread (the kernel's main thread) writes them to ``sys.stdout`` / ``sys.stderr``, so
output is attributed to the right cell and a kernel interrupt (``KeyboardInterrupt``)
lands where the session can be closed. Chunks are acknowledged to the session only
once written, so the queue holds at most :data:`STREAM_WINDOW` bytes (plus one frame)
and a pod that writes faster than the notebook takes is throttled, as the terminal is.
The deadline is checked on every turn of the loop, never only when the queue is empty.
"""

from __future__ import annotations

import argparse
import queue
import sys
import time
from typing import Any

from IPython.core.error import UsageError

from ..errors import NO_SHELL_HINT, ApiError, ExecError, ExecTimeout, K8sTTYError, StreamError, one_line
from ..exec.output import format_bytes
from ..exec.protocol import STDOUT_CHANNEL
from ..exec.session import ExecSession
from ..exec.target import ExecTarget
from .streams import PREFIX, ChannelSink, print_err

__all__ = ["STREAM_WINDOW", "run_single"]

#: Output bytes delivered by the session but not yet written to the cell, at most.
STREAM_WINDOW: int = 1024 * 1024
#: Bytes of queued output handed to the sinks at once (they write it in smaller pieces).
BATCH: int = 256 * 1024
#: Seconds between checks of the deadline while no output arrives.
POLL: float = 0.1


def run_single(shell: Any, args: argparse.Namespace, target: ExecTarget, command: list[str],
               script: bytes) -> None:
    """Run ``script`` through ``command`` in the pod ``target`` names; see the module docstring.

    Raises:
        UsageError: the pod could not be found or reached, or the stream failed.
        ExecError, ExecTimeout, StreamError: with ``--raise-error``, for a non-zero exit,
            the deadline, a failed stream.
    """
    __tracebackhide__ = True
    started = time.monotonic()
    deadline = None if args.timeout is None else started + args.timeout
    session = ExecSession(target, command, tty=False, stdin=True, flow_window=STREAM_WINDOW)
    chunks: queue.SimpleQueue[tuple[int, bytes] | None] = queue.SimpleQueue()
    session.on_output(lambda channel, data: chunks.put((channel, data)))
    session.on_exit(lambda _s: chunks.put(None))
    capture = bool(args.raise_error)
    out = ChannelSink(None if args.out else sys.stdout, limit=args.max_output,
                      capture=capture or bool(args.out))
    err = ChannelSink(None if args.err else sys.stderr, limit=args.max_output,
                      capture=capture or bool(args.err))
    try:
        session.start(deadline=deadline)
    except KeyboardInterrupt:  # while waiting for a Pending pod or the connection
        session.close()
        print_err(f"{PREFIX} interrupted: closed the session into {session.name}")
        raise
    except ApiError as exc:
        if deadline is not None and time.monotonic() >= deadline - 0.05:  # cut short by the deadline
            return _timed_out(args, session, out, err, f"before the command started ({one_line(exc)})")
        raise UsageError(f"%%k8sexec: {one_line(exc)}") from None
    except (K8sTTYError, ValueError) as exc:
        raise UsageError(f"%%k8sexec: {one_line(exc)}") from None
    if session.note:
        print_err(session.note)
    timed_out = False
    try:
        if session.status == "connected":
            session.feed(script)
        timed_out = _pump(session, chunks, out, err, deadline)
    except KeyboardInterrupt:
        session.close()
        _drain(session, chunks, out, err)
        print_err(f"{PREFIX} interrupted: closed the session into {session.name}")
        raise
    finally:
        if not session.done:
            session.close()  # on the deadline: the remote process ends as on interrupt
    _drain(session, chunks, out, err)
    _store(shell, args, out, err)
    if timed_out:
        return _timed_out(args, session, out, err, "")
    if session.status != "exited":
        reason = session.feed_error or session.error or f"the session {session.status}"
        message = f"%%k8sexec: {one_line(reason)}"
        if args.raise_error:
            raise StreamError(message)
        raise UsageError(message)
    code = session.exit_code
    if code:
        # dockershim reports a missing shell as exit code 126 (containerd as an error, above)
        hint = f": {NO_SHELL_HINT}" if session.no_shell else ""
        if args.raise_error:
            error = ExecError(code, out.value(), err.value(), command=command)
            error.args = (f"the script in {session.name} exited with code {code}{hint}",)
            raise error
        print_err(f"{PREFIX} exited with code {code}{hint}")
    return None


def _pump(session: ExecSession, chunks: queue.SimpleQueue, out: ChannelSink, err: ChannelSink,
          deadline: float | None) -> bool:
    """Write the session's output to the cell until it ends; ``True`` if the deadline came first."""
    while True:
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return True
        try:
            item = chunks.get(timeout=POLL if deadline is None else min(POLL, deadline - now))
        except queue.Empty:
            continue
        if item is None:
            return False
        batch = [item]
        size = len(item[1])
        while size < BATCH:  # coalesce what is already there into fewer, larger writes
            try:
                more = chunks.get_nowait()
            except queue.Empty:
                break
            if more is None:
                chunks.put(None)  # seen again on the next turn, after this batch is written
                break
            batch.append(more)
            size += len(more[1])
        _write(batch, out, err)
        session.acknowledge(size)


def _write(batch: list[tuple[int, bytes]], out: ChannelSink, err: ChannelSink) -> None:
    """Hand a batch to the sinks, joining runs of the same channel (order kept)."""
    start = 0
    while start < len(batch):
        channel = batch[start][0]
        end = start + 1
        while end < len(batch) and batch[end][0] == channel:
            end += 1
        data = b"".join(chunk for _, chunk in batch[start:end])
        (out if channel == STDOUT_CHANNEL else err).add(data)
        start = end


def _drain(session: ExecSession, chunks: queue.SimpleQueue, out: ChannelSink, err: ChannelSink) -> None:
    """Write what is still queued (at most the window: the session is done) and flush the decoders."""
    batch: list[tuple[int, bytes]] = []
    while True:
        try:
            item = chunks.get_nowait()
        except queue.Empty:
            break
        if item is not None:
            batch.append(item)
    _write(batch, out, err)
    out.finish()
    err.finish()


def _store(shell: Any, args: argparse.Namespace, out: ChannelSink, err: ChannelSink) -> None:
    for var, sink, stream in ((args.out, out, "stdout"), (args.err, err, "stderr")):
        if not var:
            continue
        shell.user_ns[var] = sink.text()
        if sink.dropped:
            flag = "--out" if sink is out else "--err"
            print_err(f"{PREFIX} {flag} {var} kept the first {format_bytes(len(sink.value()))} of {stream}; "
                      f"{format_bytes(sink.dropped)} more dropped (raise --max-output to keep more)")


def _timed_out(args: argparse.Namespace, session: ExecSession, out: ChannelSink, err: ChannelSink,
               when: str) -> None:
    message = (f"{PREFIX} timed out after {args.timeout:g} s{' ' + when if when else ''}: closed the "
               f"session into {session.name}; kept {format_bytes(out.shown_or_kept)} of stdout and "
               f"{format_bytes(err.shown_or_kept)} of stderr")
    if args.raise_error:
        raise ExecTimeout(message, stdout=out.value(), stderr=err.value())
    print_err(message)
    return None
