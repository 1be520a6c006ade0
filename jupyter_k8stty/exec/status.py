"""The states of an exec session, as one type shared by the exec core, the widget and the magics."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["ENDED_STATES", "LIVE_STATES", "SESSION_STATES", "SessionStatus"]

#: ``new`` (not started), ``connecting``, ``waiting`` (for a Pending pod),
#: ``connected``, then one of ``exited`` (an exit status arrived), ``error`` or ``closed``.
SessionStatus = Literal["new", "connecting", "waiting", "connected", "exited", "error", "closed"]

#: Every state, in lifecycle order.
SESSION_STATES: tuple[SessionStatus, ...] = get_args(SessionStatus)
#: States in which the session may still produce output or take input.
LIVE_STATES: frozenset[SessionStatus] = frozenset({"new", "connecting", "waiting", "connected"})
#: Final states: the stream has ended.
ENDED_STATES: frozenset[SessionStatus] = frozenset({"exited", "error", "closed"})
