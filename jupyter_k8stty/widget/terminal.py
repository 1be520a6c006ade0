"""``Terminal``: an interactive xterm.js terminal into a pod, as an anywidget.

This module is the widget facade: the public API, the connection's parts wired
together, and the table of messages from the browser. The rest lives next to it:

* :mod:`.terminal_traits` (the synced traits) and :mod:`.terminal_capture` (recordings
  and snapshots): the terminal's base classes, on :mod:`.bundled_widget` (the loader,
  the bundle and the dispatch of the browser's messages, listed in :mod:`.messages`);
* :mod:`.connection`: the exec session behind the terminal, across reconnects;
* :mod:`.bridge`: output coalescing and flow control;
* :mod:`.bundle`: the front end sent over the comm, so notebooks stay small;
* :mod:`.comm_routing`: which thread handles the terminal's messages;
* :mod:`.cells`: closing the terminals of a cell that runs again, and at shutdown;
* :mod:`.expect`: :meth:`Terminal.expect`'s cursor;
* :mod:`.session_modes`: attach, debug containers and what a reconnect of one joins;
* :mod:`.options`: checks of ``rows`` and the xterm.js options;
* :mod:`.reconnect`: automatic reconnection's backoff; :mod:`.recording`: asciicast
  recordings; :mod:`.snapshot`: the screen saved in the notebook on request.

Lifecycle: :meth:`Terminal.close` ends the session and the widget's threads. It is
also called when the front end closes the widget's comm, when the cell that created
the terminal is run again (JupyterLab and Notebook 7 send the cell id), when every
view of a displayed terminal has been disposed (output cleared, notebook closed) and
none came back within :attr:`Terminal.orphan_grace` seconds, and at kernel shutdown.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

import ipywidgets
import traitlets
from typing_extensions import Unpack

from ..exec.api import DEFAULT_CONNECT_TIMEOUT
from ..exec.checks import check_command, encode_input
from ..exec.persist import persist_command, session_name
from ..exec.profiles import DebugSpec
from ..exec.session import DEFAULT_KEEPALIVE, DEFAULT_KEEPALIVE_TIMEOUT, DEFAULT_SHELL, ExecSession
from ..exec.target import ExecTarget, TargetArgs
from . import cells
from .bridge import FLOW_WINDOW, TAIL_SIZE, Bridge
from .cells import close_all
from .comm_routing import keep_frontend_routing
from .connection import Connection, where_label
from .expect import ExpectCursor
from .options import check_options, check_size
from .quiet_status import forget_comm, quiet_comm
from .reconnect import Backoff
from .recording import RecordingTap
from .session_modes import debug_mode, terminal_mode
from .skip_ahead import interrupt_key, nudge_redraw
from .snapshot import SnapshotRequests
from .terminal_capture import TerminalCapture
from .transfers import Transfer, Transfers

log = logging.getLogger("jupyter_k8stty")

__all__ = ["DEFAULT_SHELL", "OUTPUT_TAIL", "Terminal", "close_all"]

#: The size of the tail kept for replays and :attr:`Terminal.output`.
OUTPUT_TAIL = TAIL_SIZE


class Terminal(TerminalCapture):
    r"""An interactive terminal into a container of a Kubernetes pod.

    Display it (last expression of a cell, or ``display(t)``) to get an xterm.js
    terminal under the cell; keystrokes go to the pod, output comes back live.

    Args:
        target: an :class:`~jupyter_k8stty.exec.target.ExecTarget`, or the pod's name,
            or a target as kubectl takes it: ``pod/NAME``, ``deploy/NAME``, ``sts/NAME``,
            ``ds/NAME``, ``rs/NAME``, ``job/NAME``, ``svc/NAME`` (one pod is picked as
            ``kubectl exec`` does); ``None`` with ``selector``. ``node/NAME`` opens a
            shell on the node, as ``kubectl debug node/NAME``: in a debug pod on it (the
            host's ``/`` at ``/host``), deleted when the terminal closes.
        command: argv to run; ``None`` starts a login shell (:data:`DEFAULT_SHELL`:
            bash, else ash, else sh).
        rows: initial height in rows, 2 to 500 (the browser then fits the width).
        options: xterm.js options, for example ``{"fontSize": 15}``,
            ``{"screenReaderMode": True}`` or ``{"theme": {...}}``; known options are
            checked (:func:`~jupyter_k8stty.widget.options.check_options`).
        persist: run the shell (or ``command``) in a ``tmux`` (else ``screen``) session in
            the container named after the user and this name (``True``: ``default``), and
            attach to it: reconnects, page reloads, new kernels and other notebooks with
            the same name find the same shell, programs and scrollback (see
            :mod:`jupyter_k8stty.exec.persist`; :func:`jupyter_k8stty.sessions` lists them).
        record: write an asciicast v2 recording to this path (see :meth:`record`).
        record_input: with ``record``, record the keys typed too (passwords included).
        auto_reconnect: reconnect by itself, with :attr:`backoff`, when the connection
            drops without an exit status.
        attach: join the container's main process (``kubectl attach``) instead of
            running a command; read-only (:attr:`read_only`) when the container was not
            started with ``stdin: true``. Closing detaches and never ends the process.
        debug: first add an ephemeral debug container to the pod (``kubectl debug``) and
            join it: ``True`` (the image in ``$JUPYTER_K8STTY_DEBUG_IMAGE``, else
            ``busybox``), an image, or a :class:`~jupyter_k8stty.exec.profiles.DebugSpec`.
            Reconnects join the same container. Ephemeral containers cannot be removed
            from a pod. For ``node/NAME``: the debug pod's image.
        debug_target: the container whose processes the debug container sees
            (``--target``; ``container`` does the same with ``debug``).
        debug_profile: ``general`` (default), ``baseline``, ``restricted``, ``netadmin``
            or ``sysadmin``, as ``kubectl debug --profile``.
        **where: :class:`~jupyter_k8stty.exec.target.TargetArgs` building the target
            from a name (or overriding fields of an ``ExecTarget``): ``namespace``,
            ``container``, ``context``, ``kubeconfig``, ``selector``, ``impersonate``,
            ``impersonate_groups``, ``pod_running_timeout`` (seconds to wait for a
            Pending pod: status ``waiting``, the header says ``waiting for pod NS/NAME``).

    Raises:
        TargetError: an invalid target (before any request or widget exists).
        ArgumentError: a bad command, ``rows``, option, debug image or profile, or
            arguments that do not go together (one line says which).

    The session starts at once on a background thread; ``status`` tells how it goes.

    Example:
        >>> t = Terminal("web-0", namespace="prod")
        >>> t                      # shows the terminal
        >>> t.send("uptime\r")
        >>> t.close()
    """

    #: Unacknowledged output bytes after which the session pauses reading the pod.
    flow_window: int = FLOW_WINDOW
    #: The exec socket's receive buffer: output in TCP buffers is output a Ctrl-C waits for.
    receive_buffer: int | None = 256 * 1024
    #: Seconds a displayed terminal survives after its last view went away; ``None``: forever.
    orphan_grace: float | None = 5.0
    #: Skip ahead when Ctrl-C, Ctrl-\ or Ctrl-Z is typed while the view is far behind a
    #: flood: the view draws the end of the output at once, with a line saying how much it
    #: skipped (see :mod:`jupyter_k8stty.widget.skip_ahead`). ``False`` draws every byte.
    skip_ahead: bool = True
    #: Seconds of silence from the API server before a websocket ping; ``0`` disables it.
    keepalive: float = DEFAULT_KEEPALIVE
    #: Seconds without an answer after a ping before the connection is declared dead
    #: (status ``error``, with a message saying so).
    keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT
    #: Seconds for TCP, TLS and the exec upgrade of each (re)connection.
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    #: Waits between automatic reconnection attempts (0.5 s doubling to 15 s, giving up
    #: after 2 minutes); see :mod:`jupyter_k8stty.widget.reconnect`.
    backoff: Backoff = Backoff()

    def __init__(
        self,
        target: ExecTarget | str | None = None,
        command: list[str] | None = None,
        *,
        rows: int = 24,
        options: dict | None = None,
        persist: str | bool | None = None,
        record: str | None = None,
        record_input: bool = False,
        auto_reconnect: bool = True,
        attach: bool = False,
        debug: DebugSpec | str | bool | None = None,
        debug_target: str | None = None,
        debug_profile: str | None = None,
        **where: Unpack[TargetArgs],
    ):
        # Everything is checked before the widget (its comm, its threads) exists.
        exec_target = ExecTarget.of(target, **where)
        argv = check_command(command) if command is not None else None
        mode = terminal_mode(exec_target, argv, attach=attach, debug=debug, debug_target=debug_target,
                             debug_profile=debug_profile, persist=persist)
        #: The session manager's session name with ``persist``, else ``None``.
        self.persist: str | None = session_name(persist) if persist not in (None, False) else None
        if self.persist is not None:
            argv = persist_command(self.persist, argv)
        rows, _ = check_size(rows)
        options = check_options(options)
        # Plain attributes first: trait observers may run during super().__init__.
        self._target = exec_target
        self._mode = mode
        self._closed = False
        self._close_lock = threading.Lock()
        self._connection: Connection | None = None
        self._bridge: Bridge | None = None
        super().__init__(rows=rows, options=options, _where=where_label(exec_target))
        keep_frontend_routing(self.comm)
        quiet_comm(self.comm)
        label = str(exec_target)
        self._bridge = Bridge(self._send_message, name=label, on_orphaned=self._close_orphaned,
                              orphan_grace=self.orphan_grace, on_redraw=self._redraw)
        self._tap = RecordingTap(self._bridge)
        self._snapshots = SnapshotRequests(self._send_message)
        self._display_id = f"k8stty-{self.model_id}"
        self._connection = Connection(
            exec_target, argv, sink=self._tap, on_change=self._apply_state,
            backoff=self.backoff if auto_reconnect else None,
            rows=self.rows, cols=self.cols, session_options={
                "flow_window": self.flow_window,
                "receive_buffer": self.receive_buffer,
                "connect_timeout": self.connect_timeout,
                "keepalive": self.keepalive,
                "keepalive_timeout": self.keepalive_timeout,
            }, mode=mode,
        )
        self._apply_state(self._connection.state)
        self._expect = ExpectCursor(self._bridge.recent_span, lambda: self.session,
                                    self._connection.done)
        self._transfers = Transfers(
            self._send_message, lambda: self.session, lambda: (self.rows, self.cols),
            lambda: self._bridge.view_ids if self._bridge is not None else [], name=label)
        self._handlers.update({
            "input": self._on_input,
            "reconnect": self._on_reconnect,
            "snapshot": self._on_snapshot,
            "debug": self._on_debug,
            **self._bridge.handlers,
            **self._transfers.handlers,
        })
        self.observe(lambda change: self._transfers.note_status(change["new"]), names="status")
        self._listen()
        if self.comm is not None:
            self.comm.on_close(self._on_comm_close)
        cells.register(self)
        if record is not None:
            self.record(record, input=record_input)
        self._connection.connect()

    # -- public API -----------------------------------------------------------------------

    @property
    def target(self) -> ExecTarget:
        """Where the terminal execs (as given, before resolution to a pod)."""
        return self._target

    @property
    def session(self) -> ExecSession | None:
        """The current exec session (a new one after each reconnect)."""
        connection = self._connection
        return connection.session if connection is not None else None

    @property
    def note(self) -> str | None:
        """How the container was chosen when the pod has several (kubectl's note), else ``None``."""
        connection = self._connection
        return connection.note if connection is not None else None

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def placeholder(self) -> str:
        """What a saved notebook shows where the terminal was: ``terminal into NS/POD: not connected``."""
        return f"terminal into {self._where or self._target}: not connected"

    @property
    def output(self) -> str:
        """Recent output (at most the last 256 KiB), decoded as UTF-8."""
        return self.output_bytes.decode("utf-8", errors="replace")

    @property
    def output_bytes(self) -> bytes:
        """Recent output (at most the last 256 KiB) as sent to the browser, raw.

        Output still being gathered for the next message (a few milliseconds' worth)
        is included.
        """
        bridge = self._bridge
        return bridge.recent() if bridge is not None else b""

    def send(self, data: str | bytes | dict, buffers: list | None = None) -> None:
        """Type ``data`` into the terminal (``str`` is UTF-8 encoded; end a command with a carriage return).

        A ``dict`` is sent as a widget custom message instead, as
        :meth:`ipywidgets.Widget.send` does.

        Raises:
            StreamError: the session has ended.
        """
        if isinstance(data, dict):
            ipywidgets.Widget.send(self, data, buffers)
            return
        data = encode_input(data, "input")
        assert self._connection is not None
        self._connection.write(data, strict=True)
        self._tap.input(data)

    def expect(self, pattern: str | re.Pattern[str], timeout: float = 10.0) -> re.Match[str]:
        """Wait until the output since the previous match matches ``pattern``; return the match.

        Like pexpect: each successful call consumes the output up to the end of its
        match, so the next call only looks at what came after it (a new session after
        :meth:`reconnect` starts afresh). Output is decoded as UTF-8; ``match.string``
        is the text searched, ``match.group()`` the matching part. Only the most
        recent 256 KiB are searched.

        Raises:
            TimeoutError: no match within ``timeout`` seconds, or the session ended
                without one (the message shows the last output).
        """
        return self._expect.expect(pattern, timeout)

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the session to end; return its exit code (``None`` on error, close, timeout)."""
        assert self._connection is not None
        self._connection.wait(timeout)
        return self.exit_code

    def download(self, path: str) -> Transfer:
        """Save a file of the pod through the browser (a folder as ``NAME.tar``); return at once.

        The most recent view of the terminal receives it and saves it (the browser's
        downloads). A separate exec runs ``tar`` in the terminal's pod and container;
        nothing is typed into the shell. The returned :class:`~.transfers.Transfer`
        tells how it goes (``done``, ``bytes``, ``error``, ``wait()``).

        Raises:
            ArgumentError: an empty path.
            StreamError: the terminal is not displayed, or not connected.
        """
        return self._transfers.download(path)

    def reconnect(self) -> None:
        """Close the current session and start a new one with the same arguments.

        A terminal that added a debug container joins that container again.

        Raises:
            StreamError: the terminal is closed.
        """
        assert self._connection is not None
        self._connection.reconnect()

    def add_debug_container(self, image: DebugSpec | str | bool = True, *, target: str | None = None,
                            profile: str | None = None) -> None:
        """Reopen the terminal in a new ephemeral debug container of its pod (``kubectl debug``).

        The same arguments plus ``debug=image``: what the header's **Debug** action does,
        with the default image, when the container has no shell. The container stays in
        the pod until the pod is deleted: ephemeral containers cannot be removed.

        Args:
            image: ``True`` for ``$JUPYTER_K8STTY_DEBUG_IMAGE`` (else ``busybox``), an
                image, or a :class:`~jupyter_k8stty.exec.profiles.DebugSpec`.
            target: the container whose processes it sees (default: ``container``).
            profile: the security profile (``general`` by default).

        Raises:
            ArgumentError: a node shell or an attach, or an invalid image or profile.
            StreamError: the terminal is closed.
        """
        assert self._connection is not None
        mode = debug_mode(self._target, self._mode, image, debug_target=target, debug_profile=profile)
        self._connection.reopen(self._target, mode)

    def close(self) -> None:
        """End the session, stop the widget's threads and close the widget."""
        connection = getattr(self, "_connection", None)
        lock = getattr(self, "_close_lock", None)
        if lock is not None:
            with lock:
                closing, self._closed = not self._closed, True
            if closing:
                if connection is not None:
                    connection.close()
                transfers = getattr(self, "_transfers", None)
                if transfers is not None:
                    transfers.close()
                if self._bridge is not None:
                    self._bridge.close()
                self.stop_recording()
                cells.forget(self)
                forget_comm(getattr(self.comm, "comm_id", None))
        try:
            super().close()
        except Exception:
            log.debug("closing the widget's comm failed", exc_info=True)

    def __repr__(self) -> str:
        values = getattr(self, "_trait_values", {})
        title = values.get("title") or str(getattr(self, "_target", "?"))
        return f"<Terminal {title} {values.get('status', '?')}>"

    def _describe(self) -> str:
        return f"terminal {self._target}"

    # -- state ----------------------------------------------------------------------------

    @traitlets.observe("rows", "cols")
    def _on_size(self, change: dict) -> None:
        connection = getattr(self, "_connection", None)
        if connection is not None:
            connection.resize(self.rows, self.cols)
        tap = getattr(self, "_tap", None)
        if tap is not None:
            tap.resize(self.cols, self.rows)

    # -- comm messages --------------------------------------------------------------------

    def _on_input(self, content: dict, buffers: list) -> None:
        assert self._connection is not None
        data = b"".join(bytes(buffer) for buffer in buffers)
        key = interrupt_key(data) if self.skip_ahead else None
        if key is not None and self._bridge is not None:
            self._bridge.interrupt(key, (self.rows, self.cols))  # before the key reaches the pod
        self._connection.write(data)
        self._tap.input(data)

    def _on_reconnect(self, content: dict, buffers: list) -> None:
        if not self._closed:
            self.reconnect()

    def _on_debug(self, content: dict, buffers: list) -> None:
        # The user confirmed the header's Debug action; the error line shows a refusal.
        if not self._closed:
            self.add_debug_container()

    def _on_comm_close(self, _msg: Any) -> None:
        self.close()

    def _redraw(self) -> None:
        # A skip ahead ended in a full-screen program whose screen it may not complete.
        session = self.session
        if session is not None:
            nudge_redraw(session.resize, lambda: (self.rows, self.cols))

    def _close_orphaned(self) -> None:
        log.debug("every view of %r went away: closing it", self)
        self.close()
