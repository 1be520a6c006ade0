"""Byte-level I/O with a spawned process, shared by exec streams and main processes.

Writing its stdin, reading its output, sizing its terminal, signalling its group and
turning its exit status into the code the kubelet reports.
"""

from __future__ import annotations

import fcntl
import os
import select
import struct
import termios
from collections.abc import Callable, Iterable, Iterator

from jupyter_k8stty.sandbox.process import log

__all__ = ["OutputPoller", "PeerGone", "kill_group", "kubelet_exit_code", "read_output",
           "set_terminal_size", "write_all", "write_all_unless_gone"]


def write_all(fd: int | None, data: bytes) -> None:
    """Write all of ``data`` to ``fd``; nothing when there is no fd (no stdin).

    Raises:
        OSError: when the process is gone or closed its end.
    """
    if fd is None:
        return
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class PeerGone(Exception):
    """The client hung up while its input waited for the process to read it.

    Not an ``OSError``: a caller's handler of a failed write lets it through.
    """


#: Seconds between checks of ``stopped`` while input waits for room.
_WRITE_CHECK = 0.2


def write_all_unless_gone(fd: int, data: bytes, peer: int, stopped: Callable[[], bool]) -> None:
    """Write all of ``data`` to the non-blocking ``fd``, waiting for room as a pipe fills.

    A process that does not read its stdin must not hold the client's connection
    hostage: while the write waits, the client's socket ``peer`` is watched for a hang-up
    (its FIN, as a kubelet sees a closed stream), and ``stopped`` is asked a few times a
    second.

    Raises:
        PeerGone: the client hung up, or ``stopped()`` became true, before all was written.
        OSError: the process is gone or closed its end.
    """
    view = memoryview(data)
    poller: select.poll | None = None
    while view:
        try:
            view = view[os.write(fd, view):]
            continue
        except BlockingIOError:
            pass
        if poller is None:
            poller = select.poll()
            poller.register(fd, select.POLLOUT)
            poller.register(peer, select.POLLRDHUP)
        events = dict(poller.poll(_WRITE_CHECK * 1000))
        if events.get(peer, 0) & (select.POLLRDHUP | select.POLLHUP | select.POLLERR) or stopped():
            raise PeerGone("the client hung up while the process was not reading its stdin")


def read_output(fd: int, size: int) -> bytes | None:
    """Read up to ``size`` bytes; ``b""`` at the end (EIO: every holder of the PTY slave is gone).

    ``None`` when a non-blocking fd (a PTY master, whose input side is written without
    blocking) has nothing after all.
    """
    try:
        return os.read(fd, size)
    except BlockingIOError:
        return None
    except OSError:
        return b""


class OutputPoller:
    """Wait for a process's output fds and read what they hold.

    Args:
        outputs: each output fd and the channel its bytes go to.
        wake: more fds to wait for (a wake-up pipe); the caller reads them.
    """

    def __init__(self, outputs: dict[int, int], wake: Iterable[int] = ()):
        self._poller = select.poll()
        for fd in (*outputs, *wake):
            self._poller.register(fd, select.POLLIN)
        #: The output fds not at their end yet, and their channels.
        self.open = dict(outputs)

    def poll(self, timeout: float) -> list[int]:
        """Return the fds that are ready within ``timeout`` seconds."""
        return [fd for fd, _ in self._poller.poll(timeout * 1000)]

    def read(self, ready: Iterable[int], size: int) -> Iterator[tuple[int, bytes]]:
        """Yield (channel, bytes) from the ready output fds; one at its end is dropped."""
        for fd in ready:
            if fd not in self.open:
                continue
            data = read_output(fd, size)
            if data is None:
                continue
            if data:
                yield self.open[fd], data
            else:
                self._poller.unregister(fd)
                del self.open[fd]


def set_terminal_size(master: int | None, rows: int, cols: int, name: str = "the terminal") -> None:
    """Set the size of the terminal behind ``master`` (its foreground process gets SIGWINCH).

    Nothing happens without a terminal (``master`` is ``None``); a failure is logged with
    ``name``.
    """
    if master is None:
        return
    try:
        fcntl.ioctl(master, termios.TIOCSWINSZ,
                    struct.pack("HHHH", min(rows, 0xFFFF), min(cols, 0xFFFF), 0, 0))
    except OSError as exc:
        log(f"resizing {name} failed: {exc}")


def kill_group(pgid: int | None, pid: int | None, sig: int) -> None:
    """Send ``sig`` to the process group ``pgid`` and to ``pid``, ignoring ones already gone.

    The child leads its own session and group (pgid == pid). Right after fork it may not
    have called setsid yet, so the pid is signalled as well while it is not reaped.
    """
    if pgid is not None:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    if pid is not None:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def kubelet_exit_code(returncode: int) -> int:
    """Return the exit code as the kubelet reports it: death by signal N is 128+N."""
    return 128 - returncode if returncode < 0 else returncode
