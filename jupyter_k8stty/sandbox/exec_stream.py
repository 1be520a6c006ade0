"""Run a command for one exec request and bridge it to the websocket.

Two threads per stream: the connection's own thread reads client frames
(stdin, resize, close) and a pump thread reads the process output and writes
frames. Writes block, so a client that stops reading stalls the pump, the
PTY or pipe fills up and the process blocks: backpressure without queues.

Ownership keeps fds safe across threads: the reader writes to stdin (and
closes a stdin pipe); the pump owns the output fds and the PTY master, and
closes the master only after the reader has stopped using it.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import termios
import threading
import time

from jupyter_k8stty.exec import protocol
from jupyter_k8stty.sandbox import lifetime
from jupyter_k8stty.sandbox.faults import Fault
from jupyter_k8stty.sandbox.process import ExecRequest, log, missing_executable_error, spawn
from jupyter_k8stty.sandbox.procio import (
    OutputPoller,
    PeerGone,
    kill_group,
    kubelet_exit_code,
    set_terminal_size,
    write_all_unless_gone,
)
from jupyter_k8stty.sandbox.stream_frames import end_frames, output_frames, serve_client_frames
from jupyter_k8stty.sandbox.websocket import (
    OP_BINARY,
    OP_CLOSE,
    ConnectionClosed,
    WebSocket,
    WebSocketError,
)

#: Bytes read from a pipe or PTY at once.
READ_CHUNK = 256 * 1024
#: Output held back at most this long so a command's last output and its status
#: share one write (and one TLS record); short enough to be invisible when typing.
LINGER = 0.002
#: Pending output is written once it reaches this size.
FLUSH_SIZE = 256 * 1024
#: How often the pump checks whether the process ended while no output came.
POLL_INTERVAL = 0.1
#: After the process exits, output that keeps trickling in (from children that
#: still hold the pipe) is read until it has been quiet this long.
DRAIN_IDLE = 0.1
#: How long a hung-up process may take to exit before its group is killed.
HANGUP_GRACE = 0.5
#: How long the client has to answer our close frame before the socket is shut.
CLOSE_GRACE = 1.0
class ExecStream:
    """One running exec: the process, its fds, and the two bridging threads."""

    def __init__(self, ws: WebSocket, request: ExecRequest, protocol_name: str,
                 fault: Fault | None = None, runtime: str = "containerd"):
        self.ws = ws
        #: ``containerd`` or ``docker``: how a command that cannot start is reported.
        self.runtime = runtime
        #: The injected misbehaviour for this stream (see :mod:`.faults`), if any.
        self.fault = fault
        self._rate = fault.rate if fault is not None else 0.0
        self.request = request
        self.v5 = protocol_name == protocol.V5_PROTOCOL
        self.proc: subprocess.Popen[bytes] | None = None
        self.pgid: int | None = None
        self.master: int | None = None
        self._stdin_fd: int | None = None
        self._outputs: dict[int, int] = {}
        self._wake_r, self._wake_w = os.pipe()
        # Guards the wake pipe's fds against a write from another thread (kill, drop, a
        # fault) after _close_fds: the number may already belong to another file then
        # (in a notebook's process, one of ZeroMQ's sockets), and a stray byte there is fatal.
        self._fd_lock = threading.Lock()
        self._fds_closed = False
        self._reader_done = threading.Event()
        self._killed = False
        self._pump_thread: threading.Thread | None = None

    # ---- process start -------------------------------------------------

    # ---- public entry points ------------------------------------------

    def run(self) -> None:
        """Run the stream to its end in the calling thread (which becomes the reader)."""
        try:
            self.ws.send(OP_BINARY, bytes((protocol.STDOUT_CHANNEL,)))
        except OSError:
            self._close_fds()
            return
        req = self.request
        error = missing_executable_error(req.command, req.environment(), req.workdir,
                                         req.executables)
        if error is None:
            try:
                spawned = spawn(req)
            except OSError as exc:
                error = f"failed to start exec: {exc}"
            else:
                self.proc, self.master = spawned.proc, spawned.master
                self.pgid = spawned.proc.pid
                self._stdin_fd, self._outputs = spawned.stdin_fd, spawned.outputs
        if error is not None:
            if self.runtime == "docker":
                # dockershim printed the runtime's error and reported exit code 126.
                text = error[error.find("OCI runtime"):] + "\r\n"
                channel = protocol.STDOUT_CHANNEL if req.tty else protocol.STDERR_CHANNEL
                sent = self._send_final([(channel, bytearray(text.encode()))],
                                        protocol.exit_code_status(126, list(req.command)))
            else:
                sent = self._send_final([], protocol.internal_error_status(error))
            if sent:
                self._await_client_close()
            self._close_fds()
            return
        self._pump_thread = threading.Thread(target=self._pump_loop, name="k8stty-exec-pump",
                                      daemon=True)
        self._pump_thread.start()
        if self.fault is not None and self.fault.kind != "slow":
            threading.Thread(target=self._apply_fault, args=(self.fault,),
                             name="k8stty-exec-fault", daemon=True).start()
        try:
            self._read_loop()
        finally:
            if self._stdin_fd is not None:
                os.close(self._stdin_fd)
                self._stdin_fd = None
            self._reader_done.set()
            self._wake()
            self._pump_thread.join()
            self._close_fds()

    def kill(self) -> None:
        """Kill the process group and hang up the connection (server shutdown)."""
        self._killed = True  # first: the pump must not report the exit this kill causes
        self.ws.abort()
        self._kill_group(signal.SIGKILL)
        self._wake()

    def drop(self) -> None:
        """Hang up the connection without a status, as a network failure would."""
        self.ws.abort()
        self._wake()

    # ---- fault injection -------------------------------------------------

    def _apply_fault(self, fault: Fault) -> None:
        if fault.after > 0 and self._reader_done.wait(fault.after):
            return
        try:
            if fault.kind == "drop":
                fault.triggered.set()
                self.drop()
            elif fault.kind == "close":
                self.ws.send(OP_CLOSE, (1000).to_bytes(2, "big"))
                fault.triggered.set()
                self._end_after_close()
            elif fault.kind == "stall":
                gate = self.ws.stall()
                fault.triggered.set()
                deadline = time.monotonic() + fault.seconds
                while not gate.wait(POLL_INTERVAL) and time.monotonic() < deadline:
                    pass
                self.drop()
            elif fault.kind == "frames":
                self.ws.send_many(fault.frames)
                fault.triggered.set()
                if fault.then == "close":
                    self.ws.send(OP_CLOSE, (1000).to_bytes(2, "big"))
                    self._end_after_close()
                elif fault.then == "drop":
                    self.drop()
            else:  # throttle: applied by _flush
                fault.triggered.set()
        except OSError:
            fault.triggered.set()
            self.drop()

    def _end_after_close(self) -> None:
        """After our close frame: give the client time to answer, then hang up."""
        self._reader_done.wait(CLOSE_GRACE)
        self.drop()

    # ---- reader side ---------------------------------------------------

    def _read_loop(self) -> None:
        try:
            serve_client_frames(self.ws, v5=self.v5, stdin=self._write_stdin,
                                resize=self._resize, close_stdin=self._close_stdin)
        except PeerGone:
            pass  # the client left while the process was not reading: hang up
        except OSError as exc:
            if not self._killed:
                log(f"exec connection failed: {exc}")

    def _write_stdin(self, data: bytes) -> None:
        # A pipe the process does not read fills up, and so does the terminal of a raw-mode
        # program busy elsewhere: the write waits for room but ends when the client hangs
        # up, so the stream ends and the process with it.
        fd = self.master if self.request.tty else self._stdin_fd
        try:
            if fd is not None:
                write_all_unless_gone(fd, data, self.ws.sock.fileno(), lambda: self._killed)
        except OSError as exc:
            # The process is gone or closed its stdin: drop input as a container would.
            if exc.errno not in (errno.EPIPE, errno.EIO, errno.EBADF):
                log(f"writing stdin failed: {exc}")

    def _resize(self, rows: int, cols: int) -> None:
        set_terminal_size(self.master, rows, cols)

    def _close_stdin(self) -> None:
        if self.request.tty:
            if self.master is not None:
                try:
                    veof = termios.tcgetattr(self.master)[6][termios.VEOF]
                except (OSError, termios.error):
                    veof = b"\x04"
                self._write_stdin(veof if isinstance(veof, bytes) else bytes((veof,)))
        elif self._stdin_fd is not None:
            os.close(self._stdin_fd)
            self._stdin_fd = None

    # ---- pump side ------------------------------------------------------

    def _wake(self) -> None:
        with self._fd_lock:
            if self._fds_closed:
                return
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass

    def _pump_loop(self) -> None:
        try:
            self._pump()
        except Exception as exc:  # a bug here must not take the server down
            log(f"exec pump failed: {exc!r}")
            self._hang_up()

    def _pump(self) -> None:
        assert self.proc is not None
        output = OutputPoller(self._outputs, wake=(self._wake_r,))
        pending: list[tuple[int, bytearray]] = []
        pending_size = 0
        deadline = 0.0
        exited = False
        while output.open:
            now = time.monotonic()
            if pending:
                timeout = max(0.0, deadline - now)
            else:
                timeout = DRAIN_IDLE if exited else POLL_INTERVAL
            events = output.poll(timeout)
            if self._wake_r in events:
                self._hang_up()
                return
            if not events:
                if pending:
                    if not self._flush(pending):
                        return
                    pending, pending_size = [], 0
                elif exited:
                    break
                elif self.proc.poll() is not None:
                    exited = True
                continue
            for channel, data in output.read(events, READ_CHUNK):
                if not pending:
                    # No linger on a TTY: a keystroke's echo must not wait.
                    deadline = time.monotonic() + (0.0 if self.request.tty else LINGER)
                if pending and pending[-1][0] == channel:
                    pending[-1][1].extend(data)
                else:
                    pending.append((channel, bytearray(data)))
                pending_size += len(data)
            if pending_size >= FLUSH_SIZE:
                if not self._flush(pending):
                    return
                pending, pending_size = [], 0
        code = self._wait_exit()
        if code is None or self._killed:  # killed by a server shutdown or restart: no status
            self._hang_up()
            return
        if code == 0:
            status = protocol.success_status()
        else:
            status = protocol.exit_code_status(code, list(self.request.command))
        if not self._send_final(pending, status):
            self._hang_up()
            return
        self._wait_reader_after_close()

    def _flush(self, pending: list[tuple[int, bytearray]]) -> bool:
        try:
            if self._rate > 0:  # fault injection: a slow server
                for frame in output_frames(pending):
                    self.ws.send_many([frame])
                    if self._reader_done.wait(len(frame[1]) / self._rate):
                        break
                return True
            self.ws.send_many(output_frames(pending))
            return True
        except OSError:
            self._hang_up()
            return False

    def _send_final(self, pending: list[tuple[int, bytearray]], status: bytes) -> bool:
        if self._rate > 0 and pending:  # fault injection: the output is throttled too
            if not self._flush(pending):
                return False
            pending = []
        frames = [*output_frames(pending), *end_frames(status)]
        try:
            self.ws.send_many(frames)
            return True
        except OSError:
            return False

    def _await_client_close(self) -> None:
        """Read (and drop) client frames until it answers our close, for a bounded time."""
        try:
            self.ws.sock.settimeout(CLOSE_GRACE)
            while True:
                self.ws.receive()
        except (ConnectionClosed, WebSocketError, OSError):
            pass

    def _wait_reader_after_close(self) -> None:
        if not self._reader_done.wait(CLOSE_GRACE):
            self.ws.abort()

    def _wait_exit(self) -> int | None:
        """Wait for the process; ``None`` when the client left first."""
        assert self.proc is not None
        while True:
            try:
                code = self.proc.wait(POLL_INTERVAL)
                break
            except subprocess.TimeoutExpired:
                if self._reader_done.is_set() or self._killed:
                    return None
        return kubelet_exit_code(code)

    def _hang_up(self) -> None:
        """Hang up the process like a closed terminal would, since the client is gone."""
        self.ws.abort()
        if not self._reader_done.wait(CLOSE_GRACE):
            # The reader is stuck writing stdin to a process that does not read it.
            self._kill_group(signal.SIGKILL)
            self._reader_done.wait(CLOSE_GRACE)
        if self.master is not None and self._reader_done.is_set():
            # Closing the master hangs up the terminal: the session gets SIGHUP.
            os.close(self.master)
            self._outputs.pop(self.master, None)
            self.master = None
        if self.proc is None:
            return
        try:
            self.proc.wait(HANGUP_GRACE)
        except subprocess.TimeoutExpired:
            self._kill_group(signal.SIGKILL)
        try:
            self.proc.wait(CLOSE_GRACE)
        except subprocess.TimeoutExpired:
            log(f"process {self.proc.pid} did not die after SIGKILL")

    def _kill_group(self, sig: int) -> None:
        # The group outlives its leader when background children remain, and those
        # are killed too; the pid is signalled only while it is not reaped.
        proc = self.proc
        pid = proc.pid if proc is not None and proc.returncode is None else None
        kill_group(self.pgid, pid, sig)

    def _close_fds(self) -> None:
        with self._fd_lock:
            fds = () if self._fds_closed else (*self._outputs, self._wake_r, self._wake_w)
            self._fds_closed = True
            self._outputs = {}
            self.master = None
        for fd in fds:  # each closed once: a second close could hit a reused number
            try:
                os.close(fd)
            except OSError:
                pass
        # Leftover background children of the command must not outlive the stream.
        self._kill_group(signal.SIGKILL)
        if self.proc is not None and self.proc.returncode is None:
            try:
                self.proc.wait(CLOSE_GRACE)
            except subprocess.TimeoutExpired:
                log(f"process {self.proc.pid} did not die after SIGKILL")
        if self.pgid is not None:
            lifetime.release(self.pgid)
            self.pgid = None

