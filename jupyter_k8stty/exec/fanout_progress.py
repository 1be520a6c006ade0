"""Progress of a fan-out: pods done of the total and failures so far, once it runs a while.

A fan-out over a handful of pods that answer at once shows nothing; one still running
after :data:`SHOW_AFTER` seconds gets a ``tqdm.auto`` bar (a widget in a notebook, text
on stderr elsewhere). The bar is never written to stdout, so ``%%k8sexec --out`` and
the pods' ``[pod] line`` output stay as they are. ``TQDM_DISABLE=1`` in the environment
turns every bar off.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from typing import Any

__all__ = ["SHOW_AFTER", "FanoutProgress"]

log = logging.getLogger("jupyter_k8stty")

#: Seconds a fan-out runs before its bar appears.
SHOW_AFTER: float = 1.0


class FanoutProgress:
    """Counts pods as they finish; draws the bar from :data:`SHOW_AFTER` seconds on.

    :meth:`start` and :meth:`finish` are called by the fan-out's owner, :meth:`advance`
    from the worker threads. A timer thread shows the bar when no pod has finished by
    then, so a fan-out whose pods all take long still shows ``0/N`` at once.

    Args:
        total: how many pods the fan-out runs on.
        label: the bar's description.
    """

    def __init__(self, total: int, label: str = "pods") -> None:
        self.total = total
        self.label = label
        self.done = 0
        self.failed = 0
        self.finished = False
        self.bar: Any = None
        self.started = time.time()
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def start(self) -> FanoutProgress:
        """Start the clock; returns ``self``. Call it on the thread running the notebook cell."""
        self.started = time.time()
        # ipykernel 7 keeps the running cell's message in context variables; a thread of
        # our own that displays without them puts the bar under whichever message the
        # kernel saw last (in JupyterLab, often a widget's comm message: no cell at all).
        context = contextvars.copy_context()
        timer = threading.Timer(SHOW_AFTER, context.run, (self._show,))
        timer.name = "k8stty-fanout-progress"
        timer.daemon = True
        self._timer = timer
        timer.start()
        return self

    def advance(self, ok: bool) -> None:
        """Count one more pod done (``ok``: its command exited 0)."""
        with self._lock:
            self.done += 1
            self.failed += 0 if ok else 1
            self._draw()

    def finish(self) -> None:
        """Stop the clock and close the bar, if it was shown."""
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self.finished = True
            self._draw(close=True)

    def _show(self) -> None:
        with self._lock:
            if self.finished or self.bar is not None:
                return
            try:
                from tqdm.auto import tqdm

                bar = tqdm(total=self.total, desc=self.label, unit="pod", leave=True,
                           mininterval=0.2)
                # Elapsed time and rate count from the fan-out's start, not the bar's.
                bar.start_t = self.started
                bar.last_print_t = bar.start_t
                self.bar = bar
            except Exception:  # a bar that cannot be drawn must not break the fan-out
                log.warning("cannot show the fan-out's progress", exc_info=True)
                self.finished = True
                return
            self._draw()
            if self.bar is not None:
                self.bar.refresh()

    def _draw(self, close: bool = False) -> None:
        """Bring the bar up to date (called with the lock held); never raises."""
        if self.bar is None:
            return
        try:
            self._update(self.bar)
            if close:
                self.bar.close()
        except Exception:  # the pods' results matter more than the bar
            log.warning("cannot update the fan-out's progress", exc_info=True)
            self.bar = None
            self.finished = True

    def _update(self, bar: Any) -> None:
        bar.set_postfix_str(f"{self.failed} failed", refresh=False)
        bar.update(self.done - bar.n)
