"""``Terminal``: an interactive xterm.js terminal into a pod, as an anywidget.

This module is the widget facade: synced traits, the table of messages from the
browser, and the public API. The rest lives next to it:

* :mod:`.connection`: the exec session behind the terminal, across reconnects;
* :mod:`.bridge`: output coalescing and flow control, and the list of messages;
* :mod:`.bundle`: the front end sent over the comm, so notebooks stay small;
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

import collections
import logging
import re
import threading
from typing import Any

import anywidget
import ipywidgets
import traitlets
from typing_extensions import Unpack

from ..errors import ArgumentError, K8sTTYError, one_line
from ..exec.api import DEFAULT_CONNECT_TIMEOUT
from ..exec.checks import check_command
from ..exec.persist import persist_command, session_name
from ..exec.profiles import DebugSpec
from ..exec.session import DEFAULT_KEEPALIVE, DEFAULT_KEEPALIVE_TIMEOUT, DEFAULT_SHELL, ExecSession
from ..exec.status import SESSION_STATES
from ..exec.target import ExecTarget, TargetArgs
from . import cells
from .bridge import FLOW_WINDOW, TAIL_SIZE, Bridge
from .bundle import load_bundle, loader_esm
from .cells import close_all
from .connection import Connection, ConnectionState, where_label
from .expect import ExpectCursor
from .options import COLS_RANGE, ROWS_RANGE, check_options, check_size
from .reconnect import Backoff
from .recording import AsciicastWriter, RecordingTap
from .session_modes import debug_mode, offered_debug_image, terminal_mode
from .snapshot import Snapshot, SnapshotRequests
from .transfers import Transfer, Transfers
from .view_bundle import view_bundle

log = logging.getLogger("jupyter_k8stty")

__all__ = ["DEFAULT_SHELL", "OUTPUT_TAIL", "Terminal", "close_all"]

#: The size of the tail kept for replays and :attr:`Terminal.output`.
OUTPUT_TAIL = TAIL_SIZE
#: Longest error text accepted from the browser (a stack trace is cut here).
MAX_BROWSER_ERROR = 2000


class Terminal(anywidget.AnyWidget):
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

    # A loader of a few KB: the bundle itself comes over the comm and is never saved.
    _esm = loader_esm()
    _css = ""

    rows = traitlets.Int(
        24, help="Terminal height in rows (2 to 500); set by the browser after each fit, sent to the pod."
    ).tag(sync=True)
    cols = traitlets.Int(
        80, help="Terminal width in columns (2 to 1000); set by the browser after each fit, sent to the pod."
    ).tag(sync=True)
    status = traitlets.Enum(
        SESSION_STATES,
        default_value="connecting",
        help="Session state: connecting, waiting (for a Pending pod), connected, exited, "
        "error or closed (see jupyter_k8stty.exec.status.SessionStatus).",
    ).tag(sync=True)
    exit_code = traitlets.Int(
        None, allow_none=True, help="The command's exit code once it exited, else None."
    ).tag(sync=True)
    error = traitlets.Unicode(
        "", help="One-line reason when status is 'error' (never a traceback or a credential)."
    ).tag(sync=True)
    title = traitlets.Unicode(
        "", help="Header text: 'namespace/pod [container]'."
    ).tag(sync=True)
    options = traitlets.Dict(
        help="xterm.js terminal options, passed straight to the browser and applied live."
    ).tag(sync=True)
    _bundle_hash = traitlets.Unicode(
        "", help="Content hash of the front-end bundle the loader asks for ('' when it is missing)."
    ).tag(sync=True)
    _where = traitlets.Unicode(
        "", help="'namespace/target' as given: the placeholder a saved notebook shows without a kernel."
    ).tag(sync=True)
    reconnect_attempt = traitlets.Int(
        0, help="The automatic reconnection attempt under way (1, 2, ...), 0 when none is."
    ).tag(sync=True)
    read_only = traitlets.Bool(
        False, help="Whether the session takes no input (an attach to a container without stdin)."
    ).tag(sync=True)
    no_shell = traitlets.Bool(
        False, help="Whether the session ended because the container has no shell: the header "
        "then offers the Debug action (add_debug_container)."
    ).tag(sync=True)
    _debug_image = traitlets.Unicode(
        "", help="The image the header's Debug action adds (set while no_shell is true)."
    ).tag(sync=True)

    #: Unacknowledged output bytes after which the session pauses reading the pod.
    flow_window: int = FLOW_WINDOW
    #: The exec socket's receive buffer: output in TCP buffers is output a Ctrl-C waits for.
    receive_buffer: int | None = 256 * 1024
    #: Seconds a displayed terminal survives after its last view went away; ``None``: forever.
    orphan_grace: float | None = 5.0
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
        bundle = load_bundle()
        super().__init__(rows=rows, options=options, _bundle_hash=bundle.hash if bundle else "",
                         _where=where_label(exec_target))
        _keep_frontend_routing(self.comm)
        label = str(exec_target)
        self._bridge = Bridge(self._send_message, name=label, on_orphaned=self._close_orphaned,
                              orphan_grace=self.orphan_grace)
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
        self._bundle_requests: collections.deque[object] = collections.deque(maxlen=16)
        self._expect = ExpectCursor(self._bridge.recent_span, lambda: self.session,
                                    self._connection.done)
        #: Messages from the browser, by ``type`` (see :mod:`jupyter_k8stty.widget.bridge`).
        self._handlers = {
            "input": self._on_input,
            "ack": self._on_ack,
            "ready": self._on_ready,
            "detach": self._on_detach,
            "reconnect": self._on_reconnect,
            "bundle": self._on_bundle,
            "error": self._on_browser_error,
            "snapshot": self._on_snapshot,
            "debug": self._on_debug,
        }
        self._transfers = Transfers(
            self._send_message, lambda: self.session, lambda: (self.rows, self.cols),
            lambda: self._bridge.view_ids if self._bridge is not None else [], name=label)
        self._handlers.update(self._transfers.handlers)
        self.observe(lambda change: self._transfers.note_status(change["new"]), names="status")
        self.on_msg(self._handle_message)
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
        if isinstance(data, str):
            data = data.encode("utf-8")
        assert self._connection is not None
        self._connection.write(bytes(data), strict=True)
        self._record_input(bytes(data))

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

    # -- recordings and snapshots ---------------------------------------------------------

    @property
    def recording(self) -> str | None:
        """The path of the recording in progress, else ``None``."""
        writer = getattr(self, "_tap", None) and self._tap.writer
        return str(writer.path) if writer else None

    def record(self, path: str, *, input: bool = False, title: str | None = None) -> str:
        """Start recording the terminal to ``path`` as an asciicast v2 file; return the path.

        The recording holds the output from now on (``asciinema play PATH`` or
        :class:`~jupyter_k8stty.Player` replays it), each resize, and, with
        ``input=True`` only, the keys typed: **passwords typed at a prompt are then in
        the file**. A recording in progress is stopped first. It goes on across
        reconnects and ends with :meth:`stop_recording` or :meth:`close`.

        Raises:
            ArgumentError: the file cannot be created.
        """
        self.stop_recording()
        writer = AsciicastWriter(path, width=self.cols, height=self.rows, record_input=input,
                                 title=title or self.title or str(self._target))
        self._tap.writer = writer
        return str(writer.path)

    def stop_recording(self) -> str | None:
        """Stop the recording in progress and close its file; return its path (``None`` if none ran)."""
        tap: RecordingTap | None = getattr(self, "_tap", None)
        if tap is None or tap.writer is None:
            return None
        writer, tap.writer = tap.writer, None
        writer.close()
        return str(writer.path)

    def snapshot(self, *, scrollback: int = 0, timeout: float = 10.0) -> Snapshot:
        """Take the screen as a displayed view shows it, with its colours.

        Show the result (last expression of a cell, or ``display(...)``) to put it in
        that cell's outputs as HTML and plain text: the saved notebook then shows the
        screen in nbviewer, nbconvert and on GitHub. Nothing is saved unless asked (a
        screen may show secrets). The header's snapshot action adds one to the
        terminal's own output instead.

        Args:
            scrollback: also take this many rows above the screen.
            timeout: seconds to wait for a view to answer.

        Raises:
            TimeoutError: no view answered (the terminal is not displayed, or the kernel
                handles widget messages only once the cell has finished).
        """
        if isinstance(scrollback, bool) or not isinstance(scrollback, int) or scrollback < 0:
            raise ArgumentError(f"scrollback must be a whole number of rows >= 0, got {scrollback!r}")
        return self._snapshots.request(self.title, scrollback=scrollback, timeout=timeout)

    def _record_input(self, data: bytes) -> None:
        writer = self._tap.writer
        if writer is not None:
            writer.input(data)

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
        try:
            super().close()
        except Exception:
            log.debug("closing the widget's comm failed", exc_info=True)

    def __repr__(self) -> str:
        values = getattr(self, "_trait_values", {})
        title = values.get("title") or str(getattr(self, "_target", "?"))
        return f"<Terminal {title} {values.get('status', '?')}>"

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict, dict] | None:
        # Where widgets do not render (nbviewer, GitHub, a text console), the saved
        # text/plain says what was there instead of a Python repr.
        base = getattr(super(), "_repr_mimebundle_", lambda **_: None)(**kwargs)
        return view_bundle(self, base, self.placeholder)

    def _ipython_display_(self) -> None:
        # Displayed under a display id, so that the header's snapshot action can add the
        # screen to this very output later (update_display), where widgets do not render.
        from IPython.display import display

        bundle = self._repr_mimebundle_()
        if bundle is not None:
            data, metadata = bundle
            display(data, metadata=metadata, raw=True, display_id=self._display_id)

    def _show_snapshot(self, snapshot: Snapshot) -> None:
        """Put ``snapshot`` in the terminal's own output, beside the widget view."""
        from IPython.display import update_display

        bundle = self._repr_mimebundle_()
        if bundle is None:
            return
        data, metadata = bundle
        shot = snapshot._repr_mimebundle_()
        update_display({**data, "text/html": shot["text/html"], "text/plain": shot["text/plain"]},
                       metadata=metadata, raw=True, display_id=self._display_id)

    # -- state ----------------------------------------------------------------------------

    def _apply_state(self, state: ConnectionState) -> None:
        try:
            with self.hold_sync():
                self.status = state.status
                self.exit_code = state.exit_code
                self.error = state.error
                self.title = state.title
                self.reconnect_attempt = state.reconnect_attempt
                self.read_only = state.read_only
                self.no_shell = state.no_shell
                self._debug_image = offered_debug_image() if state.no_shell else ""
        except Exception:  # the comm may be gone (kernel shutting down)
            log.debug("could not update the widget state", exc_info=True)

    @traitlets.validate("rows", "cols")
    def _check_size(self, proposal: dict) -> int:
        value = proposal["value"]
        low, high = ROWS_RANGE if proposal["trait"].name == "rows" else COLS_RANGE
        if not low <= value <= high:
            raise traitlets.TraitError(
                f"{proposal['trait'].name} must be between {low} and {high}, got {value}")
        return value

    @traitlets.validate("options")
    def _check_options(self, proposal: dict) -> dict:
        try:
            return check_options(proposal["value"])
        except ArgumentError as exc:
            raise traitlets.TraitError(str(exc)) from None

    @traitlets.observe("rows", "cols")
    def _on_size(self, change: dict) -> None:
        connection = getattr(self, "_connection", None)
        if connection is not None:
            connection.resize(self.rows, self.cols)
        tap = getattr(self, "_tap", None)
        if tap is not None and tap.writer is not None:
            tap.writer.resize(self.cols, self.rows)

    # -- comm messages --------------------------------------------------------------------

    def _send_message(self, content: dict, buffers: list) -> None:
        if self.comm is not None:
            ipywidgets.Widget.send(self, content, buffers)

    def _show_error(self, message: str) -> None:
        """Show ``message`` on the error line under the terminal, in every view."""
        try:
            self._send_message({"type": "error", "message": message}, [])
        except Exception:
            log.debug("could not send an error to the views", exc_info=True)

    def _handle_message(self, _widget: Any, content: Any, buffers: list) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            log.warning("terminal %s: ignoring a %r message from the browser", self._target, kind)
            return
        try:
            handler(content, buffers or [])
        except Exception as exc:
            log.exception("terminal %s: handling a %r message failed", self._target, kind)
            self._show_error(f"handling a {kind!r} message failed: {one_line(exc)}")

    def _on_input(self, content: dict, buffers: list) -> None:
        assert self._connection is not None
        data = b"".join(bytes(buffer) for buffer in buffers)
        self._connection.write(data)
        self._record_input(data)

    def _on_ack(self, content: dict, buffers: list) -> None:
        if self._bridge is not None:
            self._bridge.ack(str(content.get("view")), int(content.get("bytes") or 0))

    def _on_ready(self, content: dict, buffers: list) -> None:
        if self._bridge is not None:
            self._bridge.ready(str(content.get("view")))

    def _on_detach(self, content: dict, buffers: list) -> None:
        if self._bridge is not None:
            self._bridge.detach(str(content.get("view")))

    def _on_reconnect(self, content: dict, buffers: list) -> None:
        if not self._closed:
            self.reconnect()

    def _on_debug(self, content: dict, buffers: list) -> None:
        # The user confirmed the header's Debug action; the error line shows a refusal.
        if not self._closed:
            self.add_debug_container()

    def _on_bundle(self, content: dict, buffers: list) -> None:
        request = content.get("request")
        if request is not None:
            if request in self._bundle_requests:
                return  # a copy the loader resent while this one waited behind a busy cell
            self._bundle_requests.append(request)
        bundle = load_bundle()
        if bundle is None:
            raise K8sTTYError("the widget bundle (jupyter_k8stty/static/) is missing: "
                              "reinstall jupyter-k8stty")
        # Two binary buffers: never base64 or a JSON string, and never in the saved state.
        self._send_message({"type": "bundle", "hash": bundle.hash}, [bundle.js, bundle.css])

    def _on_snapshot(self, content: dict, buffers: list) -> None:
        snapshot = self._snapshots.answer(content, self.title)
        if snapshot is not None:
            self._show_snapshot(snapshot)

    def _on_browser_error(self, content: dict, buffers: list) -> None:
        message = str(content.get("message") or "unknown error")[:MAX_BROWSER_ERROR]
        log.warning("terminal %s: the browser reported: %s", self._target, message)

    def _on_comm_close(self, _msg: Any) -> None:
        self.close()

    def _close_orphaned(self) -> None:
        log.debug("every view of %r went away: closing it", self)
        self.close()


def _keep_frontend_routing(comm: Any) -> None:
    """Let the subshell the browser chose stand for this comm's incoming messages.

    ipykernel 7.4 routes a comm's incoming messages to the subshell its last outgoing
    message left from, so that an async cell can await a widget's reply (see
    ipython/ipykernel#1565). A terminal made by a running cell opens its comm from the
    main shell, so its first messages (the bundle request, ``ready``) would wait behind
    that very cell although JupyterLab sent them over a subshell. A terminal never
    awaits a reply in a cell: it keeps the browser's routing.

    Unless that subshell is not one of this kernel's: JupyterLab keeps one subshell per
    comm target and kernel id for the whole page, and forgets it only when its own
    connection restarts the kernel (``CommHandler._commTargetSubShellsId`` in
    jupyterlab/jupyterlab packages/services/src/kernel/comm.ts, cleared on a
    ``restarting`` status; compare jupyterlab/jupyterlab#17633). After a restart made
    elsewhere (``POST /api/kernels/<id>/restart``, another tab or client) the page keeps
    sending the old kernel's subshell id, which the new kernel rejects ("Unknown
    subshell_id"): the terminal would stay blank, its keys and size lost. Such messages
    go to the main shell, as without subshells. ipykernel's own routing (the subshell of
    the comm's last outgoing message) does not save them either: the terminal's output
    leaves with the stale id in its parent header, and the next messages go back to it.
    """
    if comm is not None and hasattr(comm, "_reply_subshell_for"):
        comm._reply_subshell_for = lambda _data, default: (
            default if default is None or _subshell_exists(comm, default) else None)


def _subshell_exists(comm: Any, subshell_id: str) -> bool:
    try:
        return subshell_id in comm.kernel.shell_channel_thread.manager.list_subshell()
    except Exception:  # another kernel or ipykernel: keep the browser's choice
        return True
