"""``ExecSession``: one exec (or attach) stream into a pod: target, lifecycle, input, callbacks.

Where it connects (a container, its main process, a new debug container, a node debug
pod) is decided by :mod:`.endpoint`; this module runs the stream.

Threads: ``k8stty-reader-NS/POD`` reads frames (:mod:`.reader`);
``k8stty-keepalive`` (one for every session) pings quiet peers (:mod:`.keepalive`). Both are
daemons and end with the session. ``write``, ``resize``, ``close_stdin``,
``acknowledge`` and ``close`` may be called from any thread: sends are serialised by
``websocket-client``'s lock. Reading and writing one TLS connection from two threads
is the same full-duplex pattern ``websocket-client`` uses for ``WebSocketApp``.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading

import websocket
from typing_extensions import Unpack

from ..errors import NO_SHELL_HINT, SHELLS, ArgumentError, K8sTTYError, StreamError, shell_missing
from . import protocol
from .api import DEFAULT_CONNECT_TIMEOUT
from .checks import MAX_COLS, MAX_ROWS, check_command, check_size, check_timeout
from .connect import open_exec_websocket
from .endpoint import find_endpoint
from .keepalive import Keepalive
from .node_debug import NodeDebugPod
from .platform import DEFAULT_SHELL, WINDOWS_HINT
from .profiles import DebugSpec
from .reader import FlowGate, FrameReader
from .session_events import ExitCallback, OutputCallback, SessionEvents, ViewCallback, _Cancelled
from .session_input import SessionInput
from .status import SessionStatus
from .target import ExecTarget, TargetArgs

log = logging.getLogger("jupyter_k8stty")

#: Seconds of silence before a keepalive ping.
DEFAULT_KEEPALIVE: float = 30.0
#: Seconds after a ping without any frame before the peer is declared dead.
DEFAULT_KEEPALIVE_TIMEOUT: float = 30.0

#: Seconds ``close()`` lets the websocket close frame go out before dropping the socket
#: (the frame waits behind a writer blocked on a full stdin).
CLOSE_GRACE: float = 0.25


class ExecSession(SessionEvents, SessionInput):
    """An exec (or attach) stream into one container of a pod.

    Args:
        target: where to exec: an :class:`~jupyter_k8stty.exec.target.ExecTarget`, or a
            pod name or ``KIND/NAME`` (``deploy/web``, ``sts/db`` ...: one pod is picked
            the way ``kubectl exec`` does; ``node/NAME``: a debug pod is created on the
            node, as ``kubectl debug node/NAME``, and deleted when the session ends) with
            the other :class:`~jupyter_k8stty.exec.target.TargetArgs` in ``where``.
        command: argv to run; ``None`` starts a login shell (:data:`DEFAULT_SHELL`), or
            attaches to the debug container or node debug pod.
        tty: allocate a TTY (stderr then arrives merged into stdout); an attach takes the
            container's own.
        stdin: attach stdin (an attach has it only when the container's spec does).
        rows: initial terminal height, sent as a resize right after connecting.
        cols: initial terminal width.
        flow_window: when set, the reader stops reading the socket while more than this
            many output bytes are unacknowledged (see :meth:`acknowledge`), so pressure
            reaches the pod through TCP instead of piling up in memory.
        receive_buffer: when set, the socket's receive buffer in bytes (``SO_RCVBUF``), which
            also turns off its autotuning. Interactive terminals keep it small so that,
            with flow control, little output is in flight when the user presses Ctrl-C.
        connect_timeout: seconds for TCP, TLS and the upgrade.
        keepalive: seconds of silence before a ping; ``0`` disables keepalive.
        keepalive_timeout: seconds without any answer after a ping before giving up.
        resolve: ``False`` skips the preflight GET: the target must name a pod, the server
            picks the container, errors come from the exec request itself.
        attach: join the container's main process (``kubectl attach``) instead of running
            a command; closing the session detaches and never ends that process.
        debug: first add an ephemeral debug container, as ``kubectl debug`` (``True``, an
            image, or a :class:`~jupyter_k8stty.exec.profiles.DebugSpec`): ``container``
            then names the container to debug (``--target``); the session attaches to the
            debug container (with ``command``: runs it there). Ephemeral containers
            cannot be removed from a pod. For ``node/NAME``: the debug pod's image/profile.
        **where: :class:`~jupyter_k8stty.exec.target.TargetArgs` (``namespace``,
            ``container``, ``selector``, ``context``, ``kubeconfig``, ``impersonate``,
            ``impersonate_groups``, ``pod_running_timeout``).

    Example:
        >>> s = ExecSession("web-0", ["sh", "-c", "echo hi; exit 3"], tty=False)
        >>> s.on_output(lambda channel, data: print(channel, data))
        >>> s.start().wait()
        3
    """

    def __init__(
        self,
        target: ExecTarget | str | None = None,
        command: list[str] | None = None,
        *,
        tty: bool = True,
        stdin: bool = True,
        rows: int | None = None,
        cols: int | None = None,
        flow_window: int | None = None,
        receive_buffer: int | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        keepalive: float = DEFAULT_KEEPALIVE,
        keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT,
        resolve: bool = True,
        attach: bool = False,
        debug: DebugSpec | str | bool | None = None,
        **where: Unpack[TargetArgs],
    ):
        #: Where to exec, as given (before resolution to a pod).
        self.target: ExecTarget = ExecTarget.of(target, **where)  # TargetError before any request
        #: The debug container to add first (node targets always get a debug pod).
        self.debug: DebugSpec | None = DebugSpec.of(debug)
        if attach and command is not None:
            raise ArgumentError("attach joins the container's main process: give no command")
        #: Whether the session attaches to a main process instead of running a command.
        self.attach: bool = attach or command is None and (
            self.debug is not None or self.target.parsed.is_node)
        #: The argv that runs (``[]`` when attaching).
        self.command: list[str] = (check_command(command) if command is not None
                                   else [] if self.attach else list(DEFAULT_SHELL))
        #: The ephemeral container added for this session (reattach with ``attach=True,
        #: container=...``), else ``None``.
        self.debug_container: str | None = None
        #: Why deleting the node debug pod failed, if it did.
        self.cleanup_error: str | None = None
        #: Whether the command could not start because the container has no shell
        #: (offer ``debug=`` then).
        self.no_shell: bool = False
        #: ``linux`` or ``windows`` once the pod was looked up; ``None`` before or when not.
        self.pod_os: str | None = None
        self._node_pod: NodeDebugPod | None = None
        self._head = bytearray()  # the start of a shell's output, to tell a missing shell
        self.pod: str = self.target.pod or str(self.target.name or f"-l {self.target.selector}")
        #: Resolved namespace (the target's, or the context's once started).
        self.namespace: str | None = self.target.namespace
        #: Resolved container (the target's, or the pod's default once started).
        self.container: str | None = self.target.container
        self.resolve = resolve or not self.target.parsed.is_pod
        #: How the container was chosen when the pod has several, e.g.
        #: ``Defaulted container "main" out of: main, sidecar``, what was created for the
        #: session (a debug container or pod), or that an attach is read-only; else ``None``.
        self.note: str | None = None
        #: While waiting for a pod to run: ``Pending`` or why its container is not running.
        self.phase_note: str | None = None
        #: Why feeding stdin failed while the command still ran (see :meth:`feed`).
        self.feed_error: str | None = None
        self._wait_callbacks: list[ExitCallback] = []
        self.tty = tty
        self.stdin = stdin
        self.receive_buffer = receive_buffer
        self.connect_timeout: float = check_timeout(connect_timeout, "connect_timeout",
                                                    allow_none=False) or 0.0
        self.keepalive = keepalive
        self.keepalive_timeout = keepalive_timeout
        self._initial_size = check_size(rows, cols) if rows is not None and cols is not None else None
        self._size: tuple[int, int] | None = None

        #: Negotiated subprotocol (``v5.channel.k8s.io`` or ``v4.channel.k8s.io``).
        self.protocol: str | None = None
        #: The command's exit code once it has ended; ``None`` before or on error.
        self.exit_code: int | None = None
        #: A one-line message when the session failed; ``None`` otherwise.
        self.error: str | None = None

        self._status: SessionStatus = "new"
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._ws: websocket.WebSocket | None = None
        self._closing = False
        self._output_callbacks: list[OutputCallback] = []
        self._view_callbacks: list[ViewCallback] = []
        if self.command and self.command[0].rsplit("/", 1)[-1] in SHELLS:
            self._view_callbacks.append(self._keep_head)
        self._exit_callbacks: list[ExitCallback] = []
        self._gate = FlowGate(flow_window)
        self._pings = 0
        self._frames: FrameReader | None = None
        self._reader: threading.Thread | None = None
        self._keepalive: Keepalive | None = None

    # -- state ---------------------------------------------------------------------------

    @property
    def status(self) -> SessionStatus:
        """The session state.

        ``new``, ``connecting``, ``waiting`` (for a Pending pod, see :attr:`phase_note`),
        ``connected``, ``exited``, ``error`` or ``closed``.
        """
        return self._status

    @property
    def name(self) -> str:
        """``namespace/pod`` (namespace as resolved once started)."""
        return f"{self.namespace or '?'}/{self.pod}"

    def __repr__(self) -> str:
        return f"<ExecSession {self.name} {self.command!r} {self._status}>"

    @property
    def read_only(self) -> bool:
        """Whether the session takes no input (an attach to a container without stdin)."""
        return not self.stdin

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, *, deadline: float | None = None) -> ExecSession:
        """Resolve the target, connect and start the reader thread; returns ``self``.

        Blocks for the lookups and the handshake, bounded by ``connect_timeout`` per
        step and, when given, by ``deadline`` (a ``time.monotonic()`` time) in all.

        Raises:
            ConfigError: no usable cluster configuration.
            ApiError: the API server refused (no such pod or container, forbidden, ...),
                could not be reached, or did not answer before the deadline.
        """
        with self._lock:
            if self._status != "new":
                raise RuntimeError(f"session already started ({self._status})")
            self._status = "connecting"
        try:
            cluster = self.target.cluster()
            self.namespace = self.target.namespace_in(cluster)
            end = find_endpoint(self.target, cluster, command=None if self.attach else self.command,
                                debug=self.debug, tty=self.tty, stdin=self.stdin, resolve=self.resolve,
                                on_wait=self._waiting, connect_timeout=self.connect_timeout,
                                deadline=deadline)
            self._node_pod, self.debug_container = end.node_pod, end.debug_container
            self.namespace, self.pod, self.container, self.note = (end.namespace, end.pod,
                                                                   end.container, end.note)
            self.tty, self.stdin, self.phase_note = end.tty, end.stdin, None
            self.pod_os = end.os
            if end.command is not None:
                self.command = end.command  # the Windows shell instead of the POSIX one
            with self._lock:
                if self._status == "waiting":
                    self._status = "connecting"
            if self._closing:
                raise _Cancelled
            ws = open_exec_websocket(cluster, self.namespace, self.pod, end.command,
                                     container=self.container, tty=self.tty, stdin=self.stdin,
                                     headers=self.target.headers,
                                     connect_timeout=self.connect_timeout, deadline=deadline)
        except _Cancelled:
            self._finish("closed")
            return self
        except (K8sTTYError, ValueError) as exc:
            self._finish("error", error=str(exc))
            raise
        if self.receive_buffer:
            try:
                ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(self.receive_buffer))  # type: ignore[union-attr]
            except OSError:  # best effort: the default buffer only costs Ctrl-C latency
                log.debug("could not set SO_RCVBUF on %s", self.name)
        with self._lock:
            self._ws = ws
            self.protocol = ws.subprotocol or protocol.V4_PROTOCOL
            closed_meanwhile = self._closing
            if not closed_meanwhile:
                self._status = "connected"
        if closed_meanwhile:
            self._shutdown_socket()
            self._finish("closed")
            return self
        label = f"{self.namespace}/{self.pod}"
        frames = FrameReader(ws, label, self._output_callbacks, self._gate,
                             view_callbacks=self._view_callbacks,
                             closing=lambda: self._closing, on_end=self._reader_ended)
        self._frames, self._reader = frames, frames.thread
        frames.start()
        if self._initial_size:
            rows, cols = self._initial_size
            try:
                if self.attach and self.tty:  # as kubectl: one size larger first, so the app redraws
                    self.resize(min(rows + 1, MAX_ROWS), min(cols + 1, MAX_COLS))
                self.resize(rows, cols)
            except StreamError:
                pass  # the stream ended at once (no shell, say): its own end says why, not start()
        if self.keepalive and self.keepalive > 0:
            self._keepalive = Keepalive(
                label, interval=self.keepalive, timeout=self.keepalive_timeout, done=self._done,
                last_frame=lambda: frames.last_frame, paused=lambda: self._gate.paused,
                ping=self._ping, fail=self._fail,
            ).start()
            if self._done.is_set():  # ended meanwhile: _finish found no watch to cancel
                self._keepalive.cancel()
        return self

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the stream to end; return the exit code (``None`` on error, close or timeout)."""
        self._done.wait(timeout)
        return self.exit_code

    @property
    def done(self) -> bool:
        """Whether the stream has ended."""
        return self._done.is_set()

    @property
    def debug_pod(self) -> str | None:
        """The node debug pod created for this session (deleted when it ends), else ``None``."""
        return self._node_pod.name if self._node_pod is not None else None

    def close(self) -> None:
        """End the session: send a websocket close and drop the connection.

        The server then hangs up the process (a TTY shell gets SIGHUP). Safe to call
        from any thread, more than once, and before :meth:`start` finished. Returns
        within about a second whatever the pod does: a writer blocked on a full stdin
        fails with :class:`StreamError` once the socket is dropped.
        """
        with self._lock:
            if self._closing or self._done.is_set():
                return
            self._closing = True
            ws = self._ws
        self._gate.release()
        if ws is None:
            if self._status == "new":
                self._finish("closed")
            return  # start() sees _closing and finishes as closed
        # The close frame waits for the websocket's send lock, which a writer blocked on
        # a full stdin holds: give it a moment on its own thread, then drop the socket.
        sender = threading.Thread(target=self._send_close, args=(ws,), daemon=True,
                                  name=f"k8stty-close-{self.name}")
        sender.start()
        sender.join(CLOSE_GRACE)
        if sender.is_alive():
            # Input the pod does not read fills the socket, and our close frame (even
            # TCP's FIN) waits behind it: reset the connection instead, so the API
            # server, and the kubelet behind it, learn at once that the client is gone.
            self._reset_on_close()
        self._shutdown_socket()
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout=1.0)
        self._finish("closed")

    @staticmethod
    def _send_close(ws: websocket.WebSocket) -> None:
        try:
            ws.send_close()
        except Exception:  # the peer may already be gone; dropping the socket is what matters
            pass

    def __enter__(self) -> ExecSession:
        return self if self._status != "new" else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def acknowledge(self, nbytes: int) -> None:
        """Mark ``nbytes`` of delivered output as consumed (flow control)."""
        self._gate.acknowledge(nbytes)

    @property
    def flow(self) -> FlowGate:
        """The flow-control gate (read ``window``, ``unacked`` and ``paused`` on it).

        ``window`` is the unacknowledged output at which the reader pauses (``None``: no
        flow control).
        """
        return self._gate

    # -- reader and keepalive threads ----------------------------------------------------

    def _reader_ended(self, status: SessionStatus, exit_code: int | None, error: str | None) -> None:
        self._shutdown_socket()
        self._finish(status, exit_code=exit_code, error=error)

    def _ping(self) -> None:
        ws = self._ws
        if ws is None:
            return
        try:
            ws.ping()
            self._pings += 1
        except (OSError, websocket.WebSocketException):
            pass  # the reader sees the broken socket and reports it

    @property
    def keepalive_stats(self) -> tuple[int, int]:
        """``(pings sent, pongs received)`` by the keepalive so far."""
        return self._pings, self._frames.pongs if self._frames is not None else 0

    def _fail(self, error: str) -> None:
        with self._lock:
            if self._done.is_set():
                return
        self._finish("error", error=error)
        self._shutdown_socket()

    def _reset_on_close(self) -> None:
        sock = getattr(self._ws, "sock", None)
        try:
            if sock is not None:  # linger 0: closing the socket sends a reset, not a FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass

    def _shutdown_socket(self) -> None:
        ws = self._ws
        sock = getattr(ws, "sock", None) if ws is not None else None
        if sock is None:
            return
        try:
            # socket.socket.shutdown, not SSLSocket.shutdown: it wakes a reader blocked
            # in recv() without touching the TLS state another thread is using.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass
        if threading.current_thread() is self._reader or self._reader is None:
            try:
                ws.shutdown()  # type: ignore[union-attr]
            except Exception:
                pass

    def _keep_head(self, channel: int, data: bytes | memoryview) -> None:
        if len(self._head) < 4096:
            self._head += data[:4096 - len(self._head)]

    def _finish(self, status: SessionStatus, *, exit_code: int | None = None,
                error: str | None = None) -> None:
        if self._done.is_set():
            return
        if self._node_pod is not None:  # before _done: whoever waits finds it deleted
            self.cleanup_error = self._node_pod.delete()
        head = self._head.decode(errors="replace")
        if not self.attach and (status == "error" and shell_missing(self.command, error or "")
                                or exit_code in (126, 127) and shell_missing(self.command, head)):
            self.no_shell = True
            hint = WINDOWS_HINT if self.pod_os == "windows" else NO_SHELL_HINT
            error = f"{error}: {hint}" if error else None
        with self._lock:
            if self._done.is_set():
                return
            self.exit_code = exit_code
            self.error = error
            self._status = status
            self._done.set()
            callbacks, self._exit_callbacks = self._exit_callbacks, []
        self._gate.release()
        if self._keepalive is not None:
            self._keepalive.cancel()
        for callback in callbacks:
            self._run_exit_callback(callback)
