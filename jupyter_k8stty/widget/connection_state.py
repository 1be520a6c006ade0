"""What a terminal shows about its session: :class:`ConnectionState` and the titles.

The state a :class:`~jupyter_k8stty.widget.connection.Connection` publishes, the
titles it words (``namespace/pod [container]``, ``waiting for pod ...``), and the
:class:`OutputSink` its output goes to. Pure: no threads, no kernel.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..exec.session import ExecSession
from ..exec.status import SessionStatus
from ..exec.target import ExecTarget

log = logging.getLogger("jupyter_k8stty")

__all__ = ["ConnectionState", "OutputSink", "StateCallback", "session_title", "waiting_title",
           "where_label"]


class OutputSink(Protocol):
    """Where a connection's output goes (the widget's bridge)."""

    def feed(self, data: bytes) -> None:
        """Take output bytes (called on the session's reader thread)."""

    def reset(self, acknowledge: Callable[[int], None] | None) -> None:
        """Start a new stream: a new session, whose ``acknowledge`` takes flow-control credit."""

    def flush(self) -> None:
        """Deliver everything taken so far (called before the status says the session ended)."""


@dataclass(frozen=True)
class ConnectionState:
    """What the terminal shows about its session.

    Attributes:
        status: a :data:`~jupyter_k8stty.exec.status.SessionStatus`.
        exit_code: the command's exit code once ``status`` is ``exited``, else ``None``.
        error: one line saying why, when ``status`` is ``error``; else empty.
        title: ``namespace/pod [container]``, or ``waiting for pod ...`` while waiting
            (``starting debug container debugger-ab12c (busybox)`` while one starts).
        reconnect_attempt: the automatic reconnection attempt under way or waited for
            (1, 2, ...), ``0`` when none is.
        read_only: the session takes no input (an attach to a container without stdin).
        no_shell: the session ended because the container has no shell (offer a debug
            container).
    """

    status: SessionStatus = "connecting"
    exit_code: int | None = None
    error: str = ""
    title: str = ""
    reconnect_attempt: int = 0
    read_only: bool = False
    no_shell: bool = False


StateCallback = Callable[[ConnectionState], None]


def session_title(target: ExecTarget, label: str, namespace: str | None = None,
                  pod: str | None = None, container: str | None = None) -> str:
    """``namespace/pod [container]``, with the workload or selector (``label``) the pod was picked from."""
    namespace = namespace or target.namespace
    pod = pod or label
    container = container or target.container
    title = f"{namespace}/{pod}" if namespace else pod
    if pod != label and not target.pod:
        title += f" ({label})"  # the workload or selector it was picked from
    return f"{title} [{container}]" if container else title


def waiting_title(session: ExecSession) -> str:
    """Return the title while the session waits for its pod (or starts a debug container)."""
    where = f"{session.namespace}/{session.pod}" if session.namespace else session.pod
    note = session.phase_note or "Pending"
    # A debug container or node pod being started: "starting debug container
    # debugger-ab12c (busybox)", as the session words it.
    return note if note.startswith("starting debug ") else f"waiting for pod {where} ({note})"


def where_label(target: ExecTarget) -> str:
    """``namespace/NAME`` as the user gave it, the namespace resolved from the kubeconfig if need be."""
    name = target.name or f"-l {target.selector}"
    namespace = target.namespace
    if namespace is None:
        try:
            namespace = target.cluster().namespace
        except Exception:  # no usable configuration yet: the session will say so
            log.debug("no namespace for the placeholder of %s", target, exc_info=True)
    return f"{namespace}/{name}" if namespace else name

