"""Which notebook cell made which terminal: re-running a cell closes the terminals of its previous run.

JupyterLab and Notebook 7 send the cell's id in the metadata of each execute request.
A terminal registered while a cell runs is filed under that id and the request's
message id; when the same cell runs again (a new message id) and makes a terminal,
the terminals of the earlier run are closed, so their sessions and threads do not
pile up. Every live terminal is also closed at kernel shutdown (:func:`close_all`,
registered with :mod:`atexit`).
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from typing import Protocol

log = logging.getLogger("jupyter_k8stty")

__all__ = ["Closable", "close_all", "current_cell", "live", "register"]


class Closable(Protocol):
    """What the registry keeps: something with ``close()`` and ``closed``."""

    @property
    def closed(self) -> bool:
        """Whether it has been closed."""

    def close(self) -> None:
        """Close it (idempotent)."""


_live: weakref.WeakSet[Closable] = weakref.WeakSet()
_by_cell: dict[str, list[tuple[str, weakref.ref[Closable]]]] = {}
_lock = threading.Lock()


def current_cell() -> tuple[str | None, str | None]:
    """``(cell id, execute request id)`` of the running cell, when the kernel knows them."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        if kernel is None:
            return None, None
        parent = kernel.get_parent()
        cell = (parent.get("metadata") or {}).get("cellId")
        msg_id = (parent.get("header") or {}).get("msg_id")
        return (str(cell) if cell else None), msg_id
    except Exception:  # no IPython, or a kernel without get_parent: no cell to file under
        log.debug("could not tell the running cell", exc_info=True)
        return None, None


def register(item: Closable) -> None:
    """Keep ``item`` until it is closed; close what an earlier run of the current cell made."""
    cell, msg_id = current_cell()
    superseded: list[Closable] = []
    with _lock:
        _live.add(item)
        if cell and msg_id:
            kept: list[tuple[str, weakref.ref[Closable]]] = []
            for other_msg, ref in _by_cell.get(cell, []):
                other = ref()
                if other is None or other.closed:
                    continue
                if other_msg != msg_id:
                    superseded.append(other)  # made by an earlier run of this cell
                else:
                    kept.append((other_msg, ref))
            kept.append((msg_id, weakref.ref(item)))
            _by_cell[cell] = kept
    for other in superseded:
        other.close()


def forget(item: Closable) -> None:
    """Stop tracking ``item`` (it closed)."""
    with _lock:
        _live.discard(item)


def live() -> list[Closable]:
    """Every registered item not closed yet."""
    with _lock:
        return [item for item in _live if not item.closed]


def close_all() -> None:
    """Close every live terminal (registered with :mod:`atexit` for kernel shutdown)."""
    for item in live():
        try:
            item.close()
        except Exception:
            log.warning("closing %r failed", item, exc_info=True)


atexit.register(close_all)
