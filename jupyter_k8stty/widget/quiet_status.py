"""Keystrokes without a kernel status flicker: no ``busy`` status for a terminal's comm messages.

ipykernel publishes a ``busy`` status before and an ``idle`` status after every shell
message, comm messages included. A terminal sends one comm message per keystroke (and
one per acknowledgement of output), so every key flipped the notebook's kernel indicator
(the toolbar circle, the status bar, the tab's favicon) to busy and back. Both statuses
reach the browser just ahead of the key's echo, and the page redraws for them: the echo
then waits for the next animation frame (measured in ``docs/benchmarks.md``, echo hop by
hop).

For the streaming messages of open terminals only (keys, acknowledgements of output,
upload data, download acknowledgements: :data:`QUIET_TYPES`), the ``busy`` status is
left out. The ``idle`` status is still sent: frontends dispose of a comm message's
bookkeeping when its ``idle`` arrives (``KernelFutureHandler`` in
``@jupyterlab/services``), and an ``idle`` while the kernel is already idle changes
nothing on the page. Every other message keeps both statuses (the view resends
``ready`` and ``bundle`` until it sees a status for them, see ``js/src/send.js``).
ipykernel has no public hook for this; the kernel's ``_publish_status`` (the same
signature from ipykernel 6.0 to 7.x) is wrapped, and anything unexpected falls back to
publishing the status as before.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["QUIET_TYPES", "forget_comm", "quiet_comm", "quiet_comm_ids"]

#: The view's messages that come once per keystroke or per chunk of a stream.
QUIET_TYPES = frozenset({"input", "ack", "upload-data", "download-ack"})

_lock = threading.Lock()
_quiet: set[str] = set()
_MARK = "_k8stty_quiet_status"


def quiet_comm(comm: Any) -> bool:
    """Publish no ``busy`` status for ``comm``'s incoming messages; ``False`` if not possible."""
    comm_id = getattr(comm, "comm_id", None)
    kernel = _kernel_of(comm)
    if not isinstance(comm_id, str) or kernel is None or not _install(kernel):
        return False
    with _lock:
        _quiet.add(comm_id)
    return True


def forget_comm(comm_id: str | None) -> None:
    """Give ``comm_id``'s messages their ``busy`` status again (its terminal closed)."""
    with _lock:
        _quiet.discard(comm_id)  # type: ignore[arg-type]


def quiet_comm_ids() -> frozenset[str]:
    """Return the comm ids whose messages publish no ``busy`` status."""
    with _lock:
        return frozenset(_quiet)


def _kernel_of(comm: Any) -> Any:
    kernel = getattr(comm, "kernel", None)
    if kernel is not None:
        return kernel
    try:
        from IPython import get_ipython

        return getattr(get_ipython(), "kernel", None)
    except Exception:
        return None


def _install(kernel: Any) -> bool:
    with _lock:
        if getattr(kernel, _MARK, False):
            return True
        publish = getattr(kernel, "_publish_status", None)
        get_parent = getattr(kernel, "get_parent", None)
        if not callable(publish) or not callable(get_parent):
            return False

        def publish_status(status: str, channel: str, parent: Any = None) -> None:
            if status == "busy" and channel == "shell" and _is_quiet(parent or get_parent(channel)):
                return
            publish(status, channel, parent)

        kernel._publish_status = publish_status
        setattr(kernel, _MARK, True)
        return True


def _is_quiet(parent: Any) -> bool:
    try:
        if parent["header"]["msg_type"] != "comm_msg" or parent["content"]["comm_id"] not in _quiet:
            return False
        data = parent["content"]["data"]
        return data["method"] == "custom" and data["content"]["type"] in QUIET_TYPES
    except Exception:  # not the message shape this expects: keep the status
        return False
