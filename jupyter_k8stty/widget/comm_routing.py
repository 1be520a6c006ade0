"""Which thread handles a terminal's comm messages: the subshell the browser chose, if it exists.

See :func:`keep_frontend_routing`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["keep_frontend_routing"]


def keep_frontend_routing(comm: Any) -> None:
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
