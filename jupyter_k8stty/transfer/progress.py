"""Progress of a copy: a ``tqdm.auto`` bar (bytes, rate, ETA), or the caller's callback.

``tqdm.auto`` draws a widget bar in a notebook and a text bar on stderr elsewhere, so a
copy shows the same figures in JupyterLab, a terminal or a script's log. The bar is
never written to stdout: ``%%k8sexec --out`` and ``contextlib.redirect_stdout`` see
none of it. ``TQDM_DISABLE=1`` in the environment turns every bar off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["ByteProgress", "ProgressCallback", "progress_callback"]

#: ``progress(bytes_done, bytes_total)``; ``bytes_total`` is ``None`` when unknown.
ProgressCallback = Callable[[int, "int | None"], None]
#: Seconds between two redraws of a bar (tqdm's ``mininterval``).
REDRAW_INTERVAL: float = 0.2


class ByteProgress:
    """A progress callback that draws a ``tqdm.auto`` bar in bytes.

    The bar is made on the first call, so a copy that fails before any byte moves
    leaves no empty bar behind. A total that grows past its estimate (``copy_from``
    estimates the archive's size in the pod) is raised to the bytes done; :meth:`finish`
    sets it to the bytes done so a finished bar reads 100 %.

    Args:
        label: what is copied, e.g. ``data.csv → trainer-0``.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None
        self.hint: int | None = None

    def __call__(self, done: int, total: int | None) -> None:
        """Move the bar to ``done`` bytes of ``total`` (``None``: not known yet)."""
        if self.bar is None:
            from tqdm.auto import tqdm

            self.hint = total
            self.bar = tqdm(total=total, desc=self.label, unit="B", unit_scale=True,
                            unit_divisor=1024, mininterval=REDRAW_INTERVAL, leave=True)
        bar = self.bar
        if total != self.hint:
            self.hint = total
            if total is not None:
                retotal(bar, max(total, done))
        elif bar.total is not None and done > bar.total:
            # Past the estimate: grow it in steps rather than on every chunk.
            retotal(bar, max(done, int(bar.total * 1.1)))
        bar.update(done - bar.n)

    def finish(self, ok: bool = True) -> None:
        """Close the bar; a finished copy reads 100 %, a failed one keeps where it stopped."""
        bar = self.bar
        if bar is None:
            return
        if ok:
            retotal(bar, bar.n)
            bar.refresh()
        elif bar.total is None or bar.n >= bar.total:
            # tqdm.notebook paints a bar closed short of its total red ("danger").
            retotal(bar, bar.n + 1)
        bar.close()


def retotal(bar: Any, total: int) -> None:
    """Change a tqdm bar's total after it was made.

    ``tqdm.notebook`` keeps the maximum in its widget too (only ``reset``, which also
    restarts the clock, updates it), so the widget is told here.
    """
    bar.total = total
    container = getattr(bar, "container", None)
    if container is not None:
        widget = container.children[1]
        widget.max = max(total, 1)
        if widget.bar_style == "info":  # was the "size unknown" stub
            widget.bar_style = ""
            widget.layout.width = None


def progress_callback(progress: ProgressCallback | bool | None, label: str) -> ProgressCallback | None:
    """Return the callback ``progress`` stands for.

    ``True`` or ``None`` (the default) is a :class:`ByteProgress` bar, ``False`` is no
    progress at all, and a callable is used as it is.

    Raises:
        ArgumentError: ``progress`` is neither a callable nor a bool nor ``None``.
    """
    from ..errors import ArgumentError

    if progress is True or progress is None:
        return ByteProgress(label)
    if progress is False:
        return None
    if not callable(progress):
        raise ArgumentError("progress must be True, False or a callable(bytes_done, bytes_total), "
                            f"got {progress!r}")
    return progress


def finish(report: ProgressCallback | None, ok: bool) -> None:
    """Close ``report``'s bar when it is one of ours (a caller's callback is left alone)."""
    if isinstance(report, ByteProgress):
        report.finish(ok)
