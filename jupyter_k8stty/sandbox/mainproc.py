"""A container's main process: started once, shared by every attached client, never killed by them.

The process runs in a PTY (``tty: true``) or with pipes (stdin only with ``stdin: true``).
One pump thread reads its output, keeps the tail for ``/log`` and hands each chunk to
every subscriber (an attach stream); subscribers come and go without touching the
process, as ``kubectl attach`` does on a real node. When the process ends, each
subscriber is told once and the owner's ``on_exit`` callback gets the exit code.

Processes are started by the kubelet thread (:mod:`.kubelet`), which lives as long as the
sandbox: the parent-death signal of :mod:`.lifetime` follows the thread that forks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from jupyter_k8stty.exec import protocol
from jupyter_k8stty.sandbox import lifetime
from jupyter_k8stty.sandbox.process import ExecRequest, log, spawn
from jupyter_k8stty.sandbox.procio import (
    OutputPoller,
    PeerGone,
    kill_group,
    kubelet_exit_code,
    set_terminal_size,
    write_all_unless_gone,
)

__all__ = ["LOG_LIMIT", "MainProcess", "Subscriber"]

#: Bytes of output kept for ``GET .../log``.
LOG_LIMIT = 1024 * 1024
READ_CHUNK = 64 * 1024

#: ``output(channel, data)`` for each chunk, ``ended(exit_code)`` once at the end.
OutputFn = Callable[[int, bytes], None]
EndedFn = Callable[[int], None]


@dataclass(eq=False)
class Subscriber:
    """One attached client's callbacks and the channels it asked for."""

    output: OutputFn
    ended: EndedFn
    stdout: bool = True
    stderr: bool = True


class MainProcess:
    """A running main process (see the module docstring).

    Raises:
        OSError: from the constructor, when the process cannot be started.
    """

    def __init__(self, request: ExecRequest, on_exit: EndedFn):
        spawned = spawn(request)
        self.request = request
        self.proc = spawned.proc
        self.pid = spawned.proc.pid
        self._master = spawned.master
        self._stdin_fd = spawned.stdin_fd
        self._outputs = dict(spawned.outputs)
        self._on_exit = on_exit
        self._lock = threading.Lock()
        # Writers (attachers) and the close of the fds take turns: no write after a close.
        self._fd_lock = threading.Lock()
        self._fds_closed = False
        self._subscribers: list[Subscriber] = []
        self._log: deque[bytes] = deque()
        self._log_size = 0
        self.exit_code: int | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._pump_loop, daemon=True,
                                        name=f"k8stty-main-{request.pod}-{request.container}")
        self._thread.start()

    # ---- clients -------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber) -> bool:
        """Start sending output to ``subscriber``; ``False`` when the process has ended."""
        with self._lock:
            if self.exit_code is not None:
                return False
            self._subscribers.append(subscriber)
            return True

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop sending output to ``subscriber`` (a client detached); the process goes on."""
        with self._lock:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

    def write(self, data: bytes, peer: int) -> None:
        """Write to the process's stdin (or terminal); dropped when it has none or has ended.

        A process that does not read holds the write until the attached client's socket
        ``peer`` hangs up (:class:`PeerGone`) or the process ends.

        Raises:
            PeerGone: the client left while its input waited.
        """
        with self._fd_lock:  # never a write to a closed fd, whose number may be reused
            fd = None if self._fds_closed else (self._master if self.request.tty else self._stdin_fd)
            if fd is None:
                return
            try:
                write_all_unless_gone(fd, data, peer, lambda: self.exit_code is not None)
            except OSError:
                pass  # the process ended or closed its stdin: input is dropped as by a runtime
            except PeerGone:
                if self.exit_code is None:
                    raise  # the client left; else the process ended and its status is on its way

    def resize(self, rows: int, cols: int) -> None:
        """Set the terminal size (the foreground process gets SIGWINCH); no-op without a TTY."""
        with self._fd_lock:
            if not self._fds_closed:
                set_terminal_size(self._master, rows, cols, f"{self.request.container}'s terminal")

    def logs(self) -> bytes:
        """Return the last :data:`LOG_LIMIT` bytes of output."""
        with self._lock:
            return b"".join(self._log)

    @property
    def running(self) -> bool:
        """Whether the process has not ended yet."""
        return not self._done.is_set()

    # ---- lifecycle -------------------------------------------------------------

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the process group (the container stops)."""
        kill_group(self.pid, self.pid, sig)

    def wait(self, timeout: float) -> bool:
        """Wait until the process has ended and its output is drained."""
        return self._done.wait(timeout)

    def _pump_loop(self) -> None:
        code = -1
        try:
            self._pump()
            code = self._reap()
        except Exception as exc:  # a bug here must not leave the container "running" forever
            log(f"main process pump of {self.request.container} failed: {exc!r}")
            self.kill()
            code = self._reap()
        finally:
            with self._lock:
                self.exit_code = code
                subscribers, self._subscribers = self._subscribers, []
            with self._fd_lock:
                self._fds_closed = True
                for fd in (*self._outputs, *(fd for fd in (self._stdin_fd,) if fd is not None)):
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            self._done.set()
            for sub in subscribers:
                sub.ended(code)
            self._on_exit(code)

    def _pump(self) -> None:
        output = OutputPoller(self._outputs)
        exited = False
        while output.open:
            # Once the main process is gone the container stops: what is still buffered
            # is read until the output has been quiet for a moment, then the rest dies.
            events = output.poll(0.1 if exited else 0.5)
            if not events and exited:
                break
            for channel, data in output.read(events, READ_CHUNK):
                self._deliver(channel, data)
            exited = exited or self.proc.poll() is not None

    def _deliver(self, channel: int, data: bytes) -> None:
        with self._lock:
            self._log.append(data)
            self._log_size += len(data)
            while self._log_size > LOG_LIMIT and len(self._log) > 1:
                self._log_size -= len(self._log.popleft())
            subscribers = list(self._subscribers)
        for sub in subscribers:
            if (sub.stdout if channel == protocol.STDOUT_CHANNEL else sub.stderr):
                sub.output(channel, data)

    def _reap(self) -> int:
        try:
            code = self.proc.wait(5.0)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.wait()
        self.kill()  # background children of the main process do not outlive it
        lifetime.release(self.pid)
        return kubelet_exit_code(code)
