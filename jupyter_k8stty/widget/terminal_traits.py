"""A terminal's synced state: the traits its views read and write, and their checks.

:class:`TerminalTraits` is the base of :class:`~jupyter_k8stty.widget.terminal.Terminal`:
the size the browser fits (``rows``, ``cols``), the xterm.js ``options``, and what the
header shows, mirrored from the connection's
:class:`~jupyter_k8stty.widget.connection_state.ConnectionState` by :meth:`_apply_state`.
"""

from __future__ import annotations

import logging

import traitlets

from ..errors import ArgumentError
from ..exec.status import SESSION_STATES
from .bundled_widget import BundledWidget
from .connection_state import ConnectionState
from .options import COLS_RANGE, ROWS_RANGE, check_options
from .session_modes import offered_debug_image

log = logging.getLogger("jupyter_k8stty")

__all__ = ["TerminalTraits"]


class TerminalTraits(BundledWidget):
    """The synced traits of a terminal (see the module docstring)."""

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
