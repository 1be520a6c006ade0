"""The exec session behind a terminal, across reconnects: :class:`Connection`.

A terminal's connection outlives its sessions: each (re)connect starts a new
:class:`~jupyter_k8stty.exec.session.ExecSession` on a named daemon thread
(``k8stty-connect-<target>``) and bumps a *generation* counter. Output, exit and
wait callbacks carry the generation they were made for and are ignored once a newer
session replaced theirs, so a late frame of an old session never reaches the screen
or changes the state. Keys typed while a session is still connecting are kept (up to
:data:`EARLY_INPUT_LIMIT` bytes) and sent first once it is connected; afterwards they
go through an :class:`~jupyter_k8stty.widget.input_pump.InputPump`.

A connection that drops after it was up is reconnected by itself with bounded
exponential backoff (:mod:`.reconnect`; ``reconnect_attempt`` in the state counts the
attempts, the header says ``reconnecting (attempt 3)…``).

What each session joins (exec, attach, a debug container added first) is the
connection's *mode* (:mod:`.session_modes`); once a debug container was added, every
later session joins it instead of adding another.

Every change is published as one :class:`~.connection_state.ConnectionState` (status,
exit code, error, title, reconnect attempt; see :mod:`.connection_state`) to an
``on_change`` callback; the widget mirrors it into its traits. Nothing here needs a
kernel or a comm: output goes to an :class:`~.connection_state.OutputSink` (the widget's
:class:`~jupyter_k8stty.widget.bridge.Bridge`, or a list in tests).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import Any

from ..errors import K8sTTYError, StreamError, one_line
from ..exec.session import ExecSession
from ..exec.status import ENDED_STATES, LIVE_STATES, SessionStatus
from ..exec.target import ExecTarget
from .connection_state import (
    ConnectionState,
    OutputSink,
    StateCallback,
    session_title,
    waiting_title,
    where_label,
)
from .input_pump import InputPump
from .reconnect import Backoff, retryable
from .session_modes import follow_debug_container, no_shell_error, no_shell_notice

log = logging.getLogger("jupyter_k8stty")

__all__ = ["EARLY_INPUT_LIMIT", "Connection", "ConnectionState", "OutputSink", "where_label"]

#: Input typed while the session is still connecting is kept (up to this many bytes).
EARLY_INPUT_LIMIT: int = 64 * 1024


class Connection:
    """Start, restart and end exec sessions for one terminal, and route its keys and output.

    Args:
        target: where to exec.
        command: argv; ``None`` starts a login shell.
        sink: receives the output of the current session.
        on_change: called with the new :class:`ConnectionState` after every change (from
            whichever thread made it); exceptions are logged.
        rows, cols: the size the next session starts with (see :meth:`resize`).
        session_options: passed to each :class:`~jupyter_k8stty.exec.session.ExecSession`
            (``flow_window``, ``receive_buffer``, ``connect_timeout``, ``keepalive``,
            ``keepalive_timeout``).
        backoff: how to reconnect after a drop (see :mod:`.reconnect`); ``None``: never
            by itself.
        mode: what each session joins (``attach``, ``debug``; see :mod:`.session_modes`);
            once a debug container was added, reconnects join it instead of adding another.

    Call :meth:`connect` to start the first session.
    """

    def __init__(
        self,
        target: ExecTarget,
        command: list[str] | None,
        *,
        sink: OutputSink,
        on_change: StateCallback | None = None,
        rows: int = 24,
        cols: int = 80,
        session_options: dict[str, Any] | None = None,
        backoff: Backoff | None = None,
        mode: dict[str, Any] | None = None,
    ):
        self.target = target
        self.command = list(command) if command else None
        self._sink = sink
        self._on_change = on_change
        self._size = (rows, cols)
        self._session_options = dict(session_options or {})
        self._mode = dict(mode or {})
        self._label = target.name or f"-l {target.selector}"
        self._lock = threading.RLock()
        self._session: ExecSession | None = None
        self._generation = 0
        self._closed = False
        self._done = threading.Event()
        self._early_input = bytearray()
        self._input_live = False  # early input flushed: keys go straight to the pump
        self._note_shown = False
        self._thread: threading.Thread | None = None
        self._state = ConnectionState(title=self.make_title())
        self._input = InputPump(self._write_now, name=str(target))
        self.backoff = backoff
        self._live_generation = 0  # the last generation whose session got connected
        self._ended_generation = 0  # the last generation whose end was handled
        self._retry_wake = threading.Event()  # cuts a backoff wait short (close, reconnect)

    # -- state ----------------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        """The current state."""
        return self._state

    @property
    def status(self) -> SessionStatus:
        """The current status (``connecting``, ``waiting``, ``connected``, ``exited``, ...)."""
        return self._state.status

    @property
    def session(self) -> ExecSession | None:
        """The current exec session (a new one after each reconnect)."""
        return self._session

    @property
    def generation(self) -> int:
        """How many sessions were started (or abandoned) so far."""
        return self._generation

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def done(self) -> threading.Event:
        """Set while the current session has ended (cleared by a reconnect)."""
        return self._done

    @property
    def note(self) -> str | None:
        """How the container was chosen when the pod has several (kubectl's note), else ``None``."""
        session = self._session
        return session.note if session is not None else None

    def make_title(self, namespace: str | None = None, pod: str | None = None,
                   container: str | None = None) -> str:
        """``namespace/pod [container]``, with the workload the pod was picked from."""
        return session_title(self.target, self._label, namespace, pod, container)

    def _set_state(self, **values: Any) -> None:
        with self._lock:
            self._state = replace(self._state, **values)
            state = self._state
        if self._on_change is not None:
            try:
                self._on_change(state)
            except Exception:
                log.exception("the state callback of %s failed", self.target)

    # -- lifecycle ------------------------------------------------------------------------

    def connect(self, *, attempt: int = 0, dropped_at: float = 0.0) -> None:
        """Start a new session on a background thread (the previous one must be gone).

        ``attempt`` and ``dropped_at`` (``time.monotonic()``) are set for automatic
        reconnections, which go on after a failure until the backoff gives up.
        """
        with self._lock:
            if self._closed:
                return
            self._generation += 1
            generation = self._generation
            self._input_live = False
            self._done.clear()
            rows, cols = self._size
            session = ExecSession(self.target, self.command, tty=True, stdin=True,
                                  rows=rows, cols=cols, **self._session_options, **self._mode)
            self._session = session
            self._note_shown = False
        self._sink.reset(session.acknowledge)

        def on_output(channel: int, data: bytes) -> None:
            if self._generation == generation:
                if not self._note_shown:
                    self._show_note(session)
                self._sink.feed(data)
            else:
                session.acknowledge(len(data))

        session.on_output(on_output)
        session.on_exit(lambda s: self._on_session_end(s, generation))
        session.on_wait(lambda s: self._on_waiting(s, generation))
        session.on_exit(lambda s: self._report_cleanup(s, generation))
        self._set_state(status="connecting", exit_code=None, error="", reconnect_attempt=attempt,
                        no_shell=False)
        thread = threading.Thread(target=self._start_session, args=(session, generation, attempt, dropped_at),
                                  name=f"k8stty-connect-{self._label}", daemon=True)
        self._thread = thread
        thread.start()

    def reconnect(self) -> None:
        """Close the current session and start a new one with the same arguments.

        Raises:
            StreamError: the connection is closed.
        """
        if self._closed:
            raise StreamError("the terminal is closed")
        with self._lock:
            self._generation += 1
            old, self._session = self._session, None
        self._retry_wake.set()
        if old is not None:
            old.close()
        self.connect()

    def reopen(self, target: ExecTarget, mode: dict[str, Any]) -> None:
        """Like :meth:`reconnect`, into ``target`` with ``mode``, kept for later sessions.

        Raises:
            StreamError: the connection is closed.
        """
        if self._closed:
            raise StreamError("the terminal is closed")
        with self._lock:
            self.target, self._mode = target, dict(mode)
        self.reconnect()

    @property
    def mode(self) -> dict[str, Any]:
        """What the next session joins (``attach``, ``debug``; see :mod:`.session_modes`)."""
        return dict(self._mode)

    def close(self) -> None:
        """End the session and the input thread; the status becomes ``closed`` unless it had ended."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._generation += 1
            session, self._session = self._session, None
        self._retry_wake.set()
        if session is not None:
            session.close()
        self._input.close()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1)
        if self.status in LIVE_STATES:
            self._set_state(status="closed")
        self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the current session has ended; return whether it has."""
        return self._done.wait(timeout)

    # -- session callbacks ----------------------------------------------------------------

    def _on_waiting(self, session: ExecSession, generation: int) -> None:
        if self._generation != generation:
            return
        self._set_state(status="waiting", title=waiting_title(session))

    def _report_cleanup(self, session: ExecSession, generation: int) -> None:
        # A node debug pod that could not be deleted stays on the node: say so, in the
        # log always and on the screen while this session's output is still shown.
        if not session.cleanup_error:
            return
        log.warning("%s", session.cleanup_error)
        if self._generation == generation and not self._closed:
            self._sink.feed(f"\r\n\x1b[1m{session.cleanup_error}\x1b[0m\r\n".encode())
            self._sink.flush()

    def _show_note(self, session: ExecSession) -> None:
        # kubectl prints this on stderr; here it leads the terminal output, dimmed.
        with self._lock:
            if self._note_shown or not session.note:
                return
            self._note_shown = True
        self._sink.feed(b"\x1b[2m" + session.note.encode("utf-8", "replace") + b"\x1b[0m\r\n")

    def _start_session(self, session: ExecSession, generation: int, attempt: int = 0,
                       dropped_at: float = 0.0) -> None:
        try:
            session.start()
        except Exception as exc:  # every failure becomes status="error", never a traceback
            if not isinstance(exc, K8sTTYError):
                log.warning("starting %r failed", session, exc_info=True)
            with self._lock:
                if self._generation != generation:
                    return
                if attempt and retryable(exc):
                    self._retry_later(generation, attempt + 1, dropped_at, one_line(exc))
                    return
                self._early_input.clear()
            # The title may still say "waiting for pod ..."; the error says why it ended.
            self._set_state(status="error", error=one_line(exc), exit_code=None, reconnect_attempt=0,
                            title=self.make_title(session.namespace, session.pod))
            self._done.set()
            return
        with self._lock:
            if self._generation != generation:
                session.close()
                return
            early, self._early_input = bytes(self._early_input), bytearray()
            if early and not session.read_only:
                # Under the lock: keys typed from now on must queue after these.
                self._input.put(early)
            self._input_live = True
            self._live_generation = generation
            # Reconnects join the debug container this session added, never add another.
            self.target, self._mode = follow_debug_container(self.target, self.command, self._mode,
                                                             session)
            if not session.done:
                self._set_state(status="connected", reconnect_attempt=0, read_only=session.read_only,
                                title=self.make_title(session.namespace, session.pod,
                                                      session.container))
        self._show_note(session)
        if session.done:  # it ended before it was counted as up: its end is handled here
            self._on_session_end(session, generation)

    def _on_session_end(self, session: ExecSession, generation: int) -> None:
        if self._generation != generation:
            return
        self._sink.flush()  # all output before the status change
        with self._lock:
            if (self._generation != generation or self._live_generation != generation
                    or self._ended_generation == generation):
                return  # superseded, never up (_start_session reports it), or handled
            self._ended_generation = generation
            if session.no_shell:  # said on the screen too: a header cuts a long error short
                self._sink.feed(no_shell_notice(session))
                self._sink.flush()
            status: SessionStatus = session.status if session.status in ENDED_STATES else "closed"
            if status == "error" and self._live_generation == generation and self.backoff is not None \
                    and not session.no_shell:  # no shell: another attempt finds none either
                # Dropped without an exit status after it was up: reconnect by itself.
                log.info("the connection of %s dropped (%s): reconnecting", self.target, session.error)
                self._retry_later(generation, 1, time.monotonic(), one_line(session.error or "dropped"))
                return
            self._set_state(
                status=status,
                exit_code=session.exit_code if status == "exited" else None,
                error=no_shell_error(session.error or "") if status == "error" else "",
                no_shell=session.no_shell,
            )
        self._done.set()

    def _retry_later(self, generation: int, attempt: int, dropped_at: float, why: str) -> None:
        """Wait the backoff's delay on a thread, then :meth:`connect` again (the lock is held)."""
        backoff = self.backoff
        assert backoff is not None
        delay = backoff.delay(attempt)
        if time.monotonic() + delay - dropped_at > backoff.give_up_after:
            self._early_input.clear()
            self._set_state(status="error", reconnect_attempt=0, exit_code=None,
                            error=f"gave up reconnecting after {attempt - 1} attempt(s) in "
                                  f"{backoff.give_up_after:g} s: {why}")
            self._done.set()
            return
        self._set_state(status="connecting", reconnect_attempt=attempt, exit_code=None, error="")
        self._retry_wake.clear()

        def later() -> None:
            self._retry_wake.wait(delay)
            with self._lock:
                if self._closed or self._generation != generation:
                    return  # closed, or the user reconnected meanwhile
                self._generation += 1  # the dead session's late callbacks are ignored
                self._session = None
            self.connect(attempt=attempt, dropped_at=dropped_at)

        threading.Thread(target=later, name=f"k8stty-reconnect-{self._label}", daemon=True).start()

    # -- input and size -------------------------------------------------------------------

    def write(self, data: bytes, *, strict: bool = False) -> None:
        """Send keys to the session, or keep them until it is connected.

        With ``strict``, input that cannot be delivered raises instead of being dropped.

        Raises:
            StreamError: (only with ``strict``) the session has ended, is read-only, or
                too much input is queued.
        """
        if not data:
            return
        with self._lock:
            session = self._session
            if session is None or not self._input_live:
                connecting = session is not None and session.status in LIVE_STATES
                if connecting and len(self._early_input) + len(data) <= EARLY_INPUT_LIMIT:
                    self._early_input += data
                    return
                if strict:
                    raise StreamError(f"the terminal into {self._label} is {self.status}")
                return
            if strict and (session.done or session.status != "connected"):
                raise StreamError(f"the terminal into {self._label} is {session.status}")
            if session.read_only:  # an attach to a container without stdin: keys go nowhere
                if strict:
                    raise StreamError(f"the terminal into {self._label} is read-only: the container "
                                      "was not started with stdin")
                return
        if not self._input.put(data) and strict:
            raise StreamError(f"the terminal into {self._label} is closed or has too much queued input")

    def _write_now(self, data: bytes) -> None:
        # Runs on the input pump's thread: it may block while the pod is not reading.
        session = self._session
        if session is not None and not session.done:
            try:
                session.write(data)
            except StreamError as exc:
                # The session ended meanwhile; its status says so.
                log.debug("input for %s dropped: %s", self.target, exc)

    def resize(self, rows: int, cols: int) -> None:
        """Set the terminal size: sent to the current session, used by the next ones."""
        self._size = (rows, cols)
        session = self._session
        if session is None:
            return
        try:
            session.resize(rows, cols)
        except StreamError as exc:
            # Not connected (any more): the next session starts with this size.
            log.debug("resize of %s not sent: %s", self.target, exc)
