"""``Terminal``: an interactive xterm.js terminal into a pod, as an anywidget.

The browser side lives in ``js/src`` and is bundled into ``static/widget.js`` at
package build time; the message protocol and flow control are described in
:mod:`jupyter_k8stty.widget.bridge`.

Lifecycle: :meth:`Terminal.close` ends the session and the widget's threads. It is
also called when the front end closes the widget's comm, when the cell that created
the terminal is run again (JupyterLab and Notebook 7 send the cell id), when every
view of a displayed terminal has been disposed (output cleared, notebook closed) and
none came back within :attr:`Terminal.orphan_grace` seconds, and at kernel shutdown.
"""

from __future__ import annotations

import atexit
import logging
import re
import threading
import time
import weakref
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets
import traitlets

from ..errors import K8sTTYError, StreamError, one_line
from ..exec.connect import DEFAULT_CONNECT_TIMEOUT
from ..exec.session import DEFAULT_KEEPALIVE, DEFAULT_KEEPALIVE_TIMEOUT, DEFAULT_SHELL, ExecSession
from ..exec.targets import DEFAULT_POD_RUNNING_TIMEOUT, parse_target
from .bridge import FLOW_WINDOW, TAIL_SIZE, Bridge
from .input_pump import InputPump

log = logging.getLogger("jupyter_k8stty")

__all__ = ["DEFAULT_SHELL", "Terminal", "close_all"]

_STATIC = Path(__file__).resolve().parent.parent / "static"

#: Shown instead of the terminal when the package was installed without its bundle.
_MISSING_BUNDLE_ESM = """
export default {
  render({ el }) {
    el.textContent = "jupyter-k8stty: the widget bundle (jupyter_k8stty/static/widget.js) "
      + "is missing; reinstall the package (pip install jupyter-k8stty) or run "
      + "'npm --prefix js ci && node js/build.mjs' in a source checkout.";
  },
};
"""

#: Input typed while the session is still connecting is kept (up to this many bytes).
_EARLY_INPUT_LIMIT = 64 * 1024

_live: weakref.WeakSet[Terminal] = weakref.WeakSet()
_by_cell: dict[str, list[tuple[str, weakref.ref[Terminal]]]] = {}
_registry_lock = threading.Lock()


def close_all() -> None:
    """Close every live terminal (registered with :mod:`atexit` for kernel shutdown)."""
    for terminal in list(_live):
        try:
            terminal.close()
        except Exception:
            log.debug("closing %r failed", terminal, exc_info=True)


atexit.register(close_all)


def _current_cell() -> tuple[str | None, str | None]:
    """``(cell id, execute request id)`` of the running cell, when the kernel knows them."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
        kernel = getattr(shell, "kernel", None)
        if kernel is None:
            return None, None
        parent = kernel.get_parent()
        cell = (parent.get("metadata") or {}).get("cellId")
        msg_id = (parent.get("header") or {}).get("msg_id")
        return (str(cell) if cell else None), msg_id
    except Exception:
        return None, None


class Terminal(anywidget.AnyWidget):
    r"""An interactive terminal into a container of a Kubernetes pod.

    Display it (last expression of a cell, or ``display(t)``) to get an xterm.js
    terminal under the cell; keystrokes go to the pod, output comes back live.

    Args:
        pod: the pod's name, or a target as kubectl takes it: ``pod/NAME``,
            ``deploy/NAME``, ``sts/NAME``, ``ds/NAME``, ``rs/NAME``, ``job/NAME``,
            ``svc/NAME`` (one pod is picked as ``kubectl exec`` does); ``None`` with
            ``selector``.
        command: argv to run; ``None`` starts a login shell (:data:`DEFAULT_SHELL`:
            bash, else ash, else sh).
        namespace: defaults to the kubeconfig context's namespace, else ``default``.
        container: defaults to the pod's default container.
        context: kubeconfig context; defaults to the current one.
        kubeconfig: kubeconfig path; defaults to ``KUBECONFIG`` or ``~/.kube/config``.
        rows: initial height in rows (the browser then fits the width).
        options: xterm.js options, for example ``{"fontSize": 15}``,
            ``{"screenReaderMode": True}`` or ``{"theme": {...}}``.
        selector: a label selector instead of ``pod``.
        pod_running_timeout: seconds to wait for a Pending pod (status ``waiting``, the
            header says ``waiting for pod NS/NAME (Pending)``).

    The session starts at once on a background thread; ``status`` tells how it goes.

    Example:
        >>> t = Terminal("web-0", namespace="prod")
        >>> t                      # shows the terminal
        >>> t.send("uptime\r")
        >>> t.close()
    """

    _esm = _STATIC / "widget.js" if (_STATIC / "widget.js").is_file() else _MISSING_BUNDLE_ESM
    _css = _STATIC / "widget.css" if (_STATIC / "widget.css").is_file() else ""

    rows = traitlets.Int(
        24, help="Terminal height in rows; set by the browser after each fit, sent to the pod."
    ).tag(sync=True)
    cols = traitlets.Int(
        80, help="Terminal width in columns; set by the browser after each fit, sent to the pod."
    ).tag(sync=True)
    status = traitlets.Unicode(
        "connecting",
        help="Session state: connecting, waiting (for a Pending pod), connected, exited, "
        "error or closed.",
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

    def __init__(
        self,
        pod: str,
        command: list[str] | None = None,
        *,
        namespace: str | None = None,
        container: str | None = None,
        context: str | None = None,
        kubeconfig: str | None = None,
        rows: int = 24,
        options: dict | None = None,
        selector: str | None = None,
        pod_running_timeout: float = DEFAULT_POD_RUNNING_TIMEOUT,
    ):
        if isinstance(command, str):
            raise TypeError("command must be a list of arguments, not a string")
        parse_target(pod, selector)  # a bad name or kind fails here, before any widget exists
        # Plain attributes first: trait observers may run during super().__init__.
        self._pod = pod if pod else f"-l {selector}"
        self._target = pod
        self._selector = selector
        self._pod_running_timeout = pod_running_timeout
        self._note_shown = False
        self._command = list(command) if command else None
        self._namespace = namespace
        self._container = container
        self._context = context
        self._kubeconfig = kubeconfig
        self._lock = threading.RLock()
        self._session: ExecSession | None = None
        self._generation = 0
        self._closed = False
        self._done = threading.Event()
        self._early_input = bytearray()
        self._connect_thread: threading.Thread | None = None
        self._bridge: Bridge | None = None
        self._input: InputPump | None = None
        self._input_live = False  # early input flushed: keys go straight to the pump
        super().__init__(rows=int(rows), options=dict(options or {}), title=self._make_title())
        label = f"{namespace}/{pod}" if namespace else pod
        self._bridge = Bridge(
            self._send_message,
            name=label,
            on_orphaned=self._close_orphaned,
            orphan_grace=self.orphan_grace,
        )
        self._input: InputPump | None = InputPump(self._write_now, name=label)
        self._handlers = {
            "input": self._on_input,
            "ack": self._on_ack,
            "ready": self._on_ready,
            "detach": self._on_detach,
            "reconnect": self._on_reconnect,
        }
        self.on_msg(self._handle_message)
        if self.comm is not None:
            self.comm.on_close(self._on_comm_close)
        self._register()
        self._connect()

    # -- public API -----------------------------------------------------------------------

    @property
    def session(self) -> ExecSession | None:
        """The current exec session (a new one after each reconnect)."""
        return self._session

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
        self._write(bytes(data), strict=True)

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
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            ended = self._done.is_set()  # read before the output: nothing after it is missed
            match, consumed = self._search(regex)
            if match is not None:
                self._expect_mark = consumed
                return match
            if ended or time.monotonic() >= deadline:
                _, _, text = self._since_mark()
                tail = text[-200:]
                why = "before the session ended" if ended else f"within {timeout:g} s"
                raise TimeoutError(f"{regex.pattern!r} did not appear {why}; last output: {tail!r}")
            time.sleep(0.02)

    def _since_mark(self) -> tuple[int, int, str]:
        """``(start position, end position, text)`` of the output not consumed by ``expect``."""
        bridge = self._bridge
        data, end = bridge.recent_span() if bridge is not None else (b"", 0)
        session = self._session
        if session is not None and session is not getattr(self, "_expect_session", None):
            self._expect_session = session
            self._expect_mark = 0  # a new stream (first use or after a reconnect)
        mark = min(getattr(self, "_expect_mark", 0), end)
        first = end - len(data)
        skip = max(0, mark - first)
        # surrogateescape maps any stray byte to one code point and back, so a match's
        # end converts back to an exact stream position.
        text = data[skip:].decode("utf-8", errors="surrogateescape")
        return first + skip, end, text

    def _search(self, regex: re.Pattern[str]) -> tuple[re.Match[str] | None, int]:
        start, _end, text = self._since_mark()
        match = regex.search(text)
        if match is None:
            return None, start
        consumed = len(text[: match.end()].encode("utf-8", errors="surrogateescape"))
        return match, start + consumed

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the session to end; return its exit code (``None`` on error, close, timeout)."""
        self._done.wait(timeout)
        return self.exit_code

    def reconnect(self) -> None:
        """Close the current session and start a new one with the same arguments."""
        if self._closed:
            raise StreamError("the terminal is closed")
        old = self._session
        with self._lock:
            self._generation += 1
            self._session = None
        if old is not None:
            old.close()
        self._connect()

    def close(self) -> None:
        """End the session, stop the widget's threads and close the widget."""
        lock = getattr(self, "_lock", None)
        if lock is None:  # __init__ failed early
            super().close()
            return
        with lock:
            if self._closed:
                closing = False
            else:
                self._closed = True
                closing = True
                self._generation += 1
                session, self._session = self._session, None
                bridge = self._bridge
        if closing:
            if session is not None:
                session.close()
            if bridge is not None:
                bridge.close()
            if self._input is not None:
                self._input.close()
            thread = self._connect_thread
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=1)
            if self.status in ("connecting", "waiting", "connected"):
                self._set_state(status="closed")
            self._done.set()
            _live.discard(self)
        try:
            super().close()
        except Exception:
            log.debug("closing the widget's comm failed", exc_info=True)

    def __repr__(self) -> str:
        status = getattr(self, "_trait_values", {}).get("status", "?")
        return f"<Terminal {self.title or getattr(self, '_pod', '?')} {status}>"

    # -- session management ---------------------------------------------------------------

    def _make_title(self, namespace: str | None = None, pod: str | None = None,
                    container: str | None = None) -> str:
        namespace = namespace or self._namespace
        pod = pod or self._pod
        container = container or self._container
        title = f"{namespace}/{pod}" if namespace else pod
        if pod != self._pod and self._target:
            title += f" ({self._target})"  # the workload it was picked from
        return f"{title} [{container}]" if container else title

    def _on_waiting(self, session: ExecSession, generation: int) -> None:
        if self._generation != generation:
            return
        where = f"{session.namespace}/{session.pod}" if session.namespace else session.pod
        self._set_state(status="waiting",
                        title=f"waiting for pod {where} ({session.phase_note or 'Pending'})")

    def _show_note(self, session: ExecSession) -> None:
        # kubectl prints this on stderr; here it leads the terminal output, dimmed.
        bridge = self._bridge
        with self._lock:
            if self._note_shown or not session.note or bridge is None:
                return
            self._note_shown = True
        bridge.feed(b"\x1b[2m" + session.note.encode("utf-8", "replace") + b"\x1b[0m\r\n")

    @property
    def note(self) -> str | None:
        """How the container was chosen when the pod has several (kubectl's note), else ``None``."""
        session = self._session
        return session.note if session is not None else None

    def _connect(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._generation += 1
            generation = self._generation
            self._input_live = False
            self._done.clear()
            session = ExecSession(
                self._target,
                self._command,
                namespace=self._namespace,
                container=self._container,
                context=self._context,
                kubeconfig=self._kubeconfig,
                tty=True,
                stdin=True,
                rows=self.rows,
                cols=self.cols,
                flow_window=self.flow_window,
                receive_buffer=self.receive_buffer,
                connect_timeout=self.connect_timeout,
                keepalive=self.keepalive,
                keepalive_timeout=self.keepalive_timeout,
                selector=self._selector,
                pod_running_timeout=self._pod_running_timeout,
            )
            self._session = session
            self._note_shown = False
        bridge = self._bridge
        assert bridge is not None
        bridge.reset(session.acknowledge)

        def on_output(channel: int, data: bytes) -> None:
            if self._generation == generation:
                if not self._note_shown:
                    self._show_note(session)
                bridge.feed(data)
            else:
                session.acknowledge(len(data))

        session.on_output(on_output)
        session.on_exit(lambda s: self._on_session_end(s, generation))
        session.on_wait(lambda s: self._on_waiting(s, generation))
        self._set_state(status="connecting", exit_code=None, error="")
        thread = threading.Thread(
            target=self._start_session,
            args=(session, generation),
            name=f"k8stty-connect-{self._pod}",
            daemon=True,
        )
        self._connect_thread = thread
        thread.start()

    def _start_session(self, session: ExecSession, generation: int) -> None:
        try:
            session.start()
        except Exception as exc:  # every failure becomes status="error", never a traceback
            if not isinstance(exc, K8sTTYError):
                log.debug("starting %r failed", session, exc_info=True)
            with self._lock:
                if self._generation != generation:
                    return
                self._early_input.clear()
            # The title may still say "waiting for pod ..."; the error says why it ended.
            self._set_state(status="error", error=one_line(exc), exit_code=None,
                            title=self._make_title(session.namespace, session.pod))
            self._done.set()
            return
        with self._lock:
            if self._generation != generation:
                session.close()
                return
            early, self._early_input = bytes(self._early_input), bytearray()
            if early and self._input is not None:
                # Under the lock: keys typed from now on must queue after these.
                self._input.put(early)
            self._input_live = True
            if not session.done:
                self._set_state(status="connected", title=self._make_title(
                    session.namespace, session.pod, session.container))
        self._show_note(session)

    def _on_session_end(self, session: ExecSession, generation: int) -> None:
        if self._generation != generation:
            return
        bridge = self._bridge
        if bridge is not None:
            bridge.flush()  # all output before the status change
        with self._lock:
            if self._generation != generation:
                return
            status = session.status if session.status in ("exited", "error", "closed") else "closed"
            self._set_state(
                status=status,
                exit_code=session.exit_code if status == "exited" else None,
                error=" ".join((session.error or "").split()) if status == "error" else "",
            )
        self._done.set()

    def _set_state(self, **values: Any) -> None:
        try:
            with self.hold_sync():
                for name, value in values.items():
                    setattr(self, name, value)
        except Exception:  # the comm may be gone (kernel shutting down)
            log.debug("could not update the widget state", exc_info=True)

    def _write(self, data: bytes, *, strict: bool = False) -> None:
        if not data:
            return
        with self._lock:
            session = self._session
            if session is None or not self._input_live:
                connecting = session is not None and session.status in (
                    "new", "connecting", "waiting", "connected")
                if connecting and len(self._early_input) + len(data) <= _EARLY_INPUT_LIMIT:
                    self._early_input += data
                    return
                if strict:
                    raise StreamError(f"the terminal into {self._pod} is {self.status}")
                return
            if strict and (session.done or session.status != "connected"):
                raise StreamError(f"the terminal into {self._pod} is {session.status}")
        pump = self._input
        if pump is not None and not pump.put(data) and strict:
            raise StreamError(f"the terminal into {self._pod} is closed or has too much queued input")

    def _write_now(self, data: bytes) -> None:
        # Runs on the input pump's thread: it may block while the pod is not reading.
        session = self._session
        if session is not None and not session.done:
            try:
                session.write(data)
            except StreamError:
                pass  # the session ended meanwhile; its status says so

    @traitlets.observe("rows", "cols")
    def _on_size(self, change: dict) -> None:
        session = getattr(self, "_session", None)
        if session is None or self.rows < 1 or self.cols < 1:
            return
        try:
            session.resize(self.rows, self.cols)
        except StreamError:
            pass  # not connected (any more): the next session starts with this size

    # -- comm messages --------------------------------------------------------------------

    def _send_message(self, content: dict, buffers: list) -> None:
        if self.comm is not None:
            ipywidgets.Widget.send(self, content, buffers)

    def _handle_message(self, _widget: Any, content: Any, buffers: list) -> None:
        if not isinstance(content, dict):
            return
        handler = self._handlers.get(content.get("type"))
        if handler is None:
            log.debug("ignoring a %r message", content.get("type"))
            return
        try:
            handler(content, buffers or [])
        except Exception:
            log.exception("handling a %r message failed", content.get("type"))

    def _on_input(self, content: dict, buffers: list) -> None:
        self._write(b"".join(bytes(buffer) for buffer in buffers))

    def _on_ack(self, content: dict, buffers: list) -> None:
        bridge = self._bridge
        if bridge is not None:
            bridge.ack(str(content.get("view")), int(content.get("bytes") or 0))

    def _on_ready(self, content: dict, buffers: list) -> None:
        bridge = self._bridge
        if bridge is not None:
            bridge.ready(str(content.get("view")))

    def _on_detach(self, content: dict, buffers: list) -> None:
        bridge = self._bridge
        if bridge is not None:
            bridge.detach(str(content.get("view")))

    def _on_reconnect(self, content: dict, buffers: list) -> None:
        if not self._closed:
            self.reconnect()

    def _on_comm_close(self, _msg: Any) -> None:
        self.close()

    def _close_orphaned(self) -> None:
        log.debug("every view of %r went away: closing it", self)
        self.close()

    # -- registry -------------------------------------------------------------------------

    def _register(self) -> None:
        cell, msg_id = _current_cell()
        superseded: list[Terminal] = []
        with _registry_lock:
            _live.add(self)
            if cell and msg_id:
                entries = _by_cell.get(cell, [])
                kept: list[tuple[str, weakref.ref[Terminal]]] = []
                for other_msg, ref in entries:
                    other = ref()
                    if other is None or other._closed:
                        continue
                    if other_msg != msg_id:
                        superseded.append(other)  # made by an earlier run of this cell
                    else:
                        kept.append((other_msg, ref))
                kept.append((msg_id, weakref.ref(self)))
                _by_cell[cell] = kept
        for other in superseded:
            other.close()


#: The size of the tail kept for replays and :attr:`Terminal.output`.
OUTPUT_TAIL = TAIL_SIZE
