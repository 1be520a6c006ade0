"""When a terminal reconnects by itself, and how long it waits: :class:`Backoff`.

A connection that drops without an exit status (the network, an API server restart,
a laptop that slept, a keepalive that got no answer) is reconnected by
:class:`~jupyter_k8stty.widget.connection.Connection` with bounded exponential backoff:
0.5 s, 1 s, 2 s ... up to 15 s between attempts, giving up 2 minutes after the drop.
A process that exited, a session the user closed, and a first connection that failed
are never retried: only a connection that had been up.

Each attempt is a new :class:`~jupyter_k8stty.exec.session.ExecSession`, so the target
is resolved again (a workload's replaced pod is found) and credentials are built
afresh: the kubeconfig is reloaded when it changed, an exec plugin's or OIDC token
that expired is refreshed (the Kubernetes client runs the plugin again, as kubectl
does), and an in-cluster token file is re-read.

Refusals that another attempt cannot change (403 Forbidden, an invalid request) end
the attempts at once; everything else (unreachable, 401 with a token that may be
refreshed, 404 while a pod is replaced, 5xx) is tried again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..errors import ApiError, ArgumentError, DebugError

__all__ = ["PERMANENT_STATUSES", "Backoff", "retryable"]

#: HTTP statuses after which reconnecting stops at once.
PERMANENT_STATUSES: frozenset[int] = frozenset({400, 403, 405, 422})


@dataclass(frozen=True)
class Backoff:
    """Bounded exponential backoff between reconnection attempts.

    Attributes:
        first: seconds before the first attempt.
        factor: each wait is this many times the previous one.
        longest: the longest wait between two attempts.
        give_up_after: seconds after the drop past which no attempt starts.
        jitter: each wait is spread by up to this fraction (many terminals dropped
            together do not all knock at the same instant).
    """

    first: float = 0.5
    factor: float = 2.0
    longest: float = 15.0
    give_up_after: float = 120.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        for name in ("first", "longest", "give_up_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ArgumentError(f"Backoff {name} must be a number of seconds >= 0, got {value!r}")
        if not self.factor >= 1:
            raise ArgumentError(f"Backoff factor must be >= 1, got {self.factor!r}")
        if not 0 <= self.jitter < 1:
            raise ArgumentError(f"Backoff jitter must be between 0 and 1, got {self.jitter!r}")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt number ``attempt`` (1, 2, ...)."""
        base = min(self.longest, self.first * self.factor ** max(0, attempt - 1))
        if self.jitter:
            base *= 1 + random.uniform(-self.jitter, self.jitter)
        return max(0.0, base)

    def schedule(self) -> list[float]:
        """Return the waits before each attempt, without jitter, until :attr:`give_up_after`."""
        waits: list[float] = []
        total, attempt = 0.0, 1
        plain = Backoff(self.first, self.factor, self.longest, self.give_up_after, 0.0)
        while True:
            wait = plain.delay(attempt)
            if total + wait > self.give_up_after:
                return waits
            waits.append(wait)
            total += wait
            attempt += 1


def retryable(error: BaseException) -> bool:
    """Whether another attempt may succeed after ``error`` (see the module docstring)."""
    if isinstance(error, (ArgumentError, DebugError)):
        return False
    if isinstance(error, ApiError):
        return error.status not in PERMANENT_STATUSES
    return True
