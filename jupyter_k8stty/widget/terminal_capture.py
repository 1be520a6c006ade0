"""A terminal's recordings (asciicast files) and snapshots (its screen, saved in the notebook).

:class:`TerminalCapture` sits between :class:`~.terminal_traits.TerminalTraits` and
:class:`~jupyter_k8stty.widget.terminal.Terminal`: what a terminal writes down or shows
of itself, apart from its connection. The terminal sets the parts it uses (the
recording tap in front of its bridge, the snapshot requests, its display id).
"""

from __future__ import annotations

from ..errors import ArgumentError
from ..exec.target import ExecTarget
from .recording import RecordingTap
from .snapshot import Snapshot, SnapshotRequests
from .terminal_traits import TerminalTraits

__all__ = ["TerminalCapture"]


class TerminalCapture(TerminalTraits):
    """Recordings and snapshots of a terminal (see the module docstring)."""

    # Set by Terminal.__init__.
    _target: ExecTarget
    _tap: RecordingTap
    _snapshots: SnapshotRequests
    _display_id: str

    @property
    def recording(self) -> str | None:
        """The path of the recording in progress, else ``None``."""
        tap: RecordingTap | None = getattr(self, "_tap", None)
        return tap.path if tap is not None else None

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
        return self._tap.start(path, width=self.cols, height=self.rows, record_input=input,
                               title=title or self.title or str(self._target))

    def stop_recording(self) -> str | None:
        """Stop the recording in progress and close its file; return its path (``None`` if none ran)."""
        tap: RecordingTap | None = getattr(self, "_tap", None)
        return tap.stop() if tap is not None else None

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

    def _on_snapshot(self, content: dict, buffers: list) -> None:
        snapshot = self._snapshots.answer(content, self.title)
        if snapshot is not None:
            self._show_snapshot(snapshot)
