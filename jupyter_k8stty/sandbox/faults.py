"""Fault injection for the sandbox: make the next exec streams misbehave on purpose.

A test (or ``jupyter-k8stty sandbox --fault KIND[:KEY=VALUE,...]``) queues faults with
:meth:`Sandbox.inject <jupyter_k8stty.sandbox.server.Sandbox.inject>`; each new exec
stream takes the next one. Kinds:

``drop``
    After ``after`` seconds, hang up the connection without a status or a close
    frame, like a network failure.
``close``
    After ``after`` seconds, send a websocket close frame (1000) without any status,
    then hang up the process.
``stall``
    After ``after`` seconds, send nothing more, not even pongs, and read nothing once
    a ping arrives, while keeping the socket open; after ``seconds`` the connection is
    dropped (so the server's threads end).
``slow``
    Delay the ``101 Switching Protocols`` answer by ``delay`` seconds, then serve
    normally. With ``rate`` (bytes/s) the output is throttled as well.
``throttle``
    Send output at most ``rate`` bytes per second.
``frames``
    After ``after`` seconds, send ``frames`` (``(opcode, payload)`` pairs, raw), then
    ``then``: ``continue`` (serve normally), ``close`` (close frame, hang up) or ``drop``.
``unknown-channel``, ``invalid-utf8``, ``huge-frame``
    ``frames`` presets that keep the stream going: output on channel 7, stdout bytes
    that are not UTF-8, one 16 MB stdout frame (``size`` bytes).
``bad-status``, ``truncated-status``
    ``frames`` presets that end the stream: a status that is not JSON, and a status cut
    in the middle, each followed by a close frame.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

#: The kinds :meth:`FaultPlan.add` accepts.
KINDS = ("drop", "close", "stall", "slow", "throttle", "frames", "unknown-channel",
         "invalid-utf8", "huge-frame", "bad-status", "truncated-status")
#: Seconds a stall lasts by default before the connection is dropped.
DEFAULT_STALL_SECONDS = 30.0
#: Size of the ``huge-frame`` preset's frame.
HUGE_FRAME = 16 * 1024 * 1024

_OP_BINARY = 0x2


@dataclass
class Fault:
    """One misbehaviour for one exec stream (see the module docstring for the kinds).

    Attributes:
        triggered: set once the fault has acted on a stream (for ``slow``: once the
            delayed upgrade answer went out).
        streams: how many streams it has been applied to.
    """

    kind: str
    after: float = 0.0
    delay: float = 0.0
    seconds: float = DEFAULT_STALL_SECONDS
    rate: float = 0.0
    frames: tuple[tuple[int, bytes], ...] = ()
    then: str = "continue"
    size: int = HUGE_FRAME
    triggered: threading.Event = field(default_factory=threading.Event, repr=False)
    streams: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.then not in ("continue", "close", "drop"):
            raise ValueError(f"then must be continue, close or drop, got {self.then!r}")
        preset = _preset(self.kind, self.size)
        if preset is not None:
            self.frames, self.then = preset
            self.kind = "frames"
        if self.kind in ("throttle",) and self.rate <= 0:
            raise ValueError("throttle needs rate > 0 (bytes per second)")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the fault has acted; return whether it did."""
        return self.triggered.wait(timeout)


def _preset(kind: str, size: int) -> tuple[tuple[tuple[int, bytes], ...], str] | None:
    if kind == "unknown-channel":
        return ((_OP_BINARY, b"\x07mystery channel"), (_OP_BINARY, b"\x07")), "continue"
    if kind == "invalid-utf8":
        return ((_OP_BINARY, b"\x01bad\xff\xfe\xc3(\xed\xa0\x80utf8\r\n"),), "continue"
    if kind == "huge-frame":
        return ((_OP_BINARY, b"\x01" + b"x" * size),), "continue"
    if kind == "bad-status":
        return ((_OP_BINARY, b"\x03this is not json"),), "close"
    if kind == "truncated-status":
        return ((_OP_BINARY, b'\x03{"metadata":{},"status":"Fail'),), "close"
    return None


class FaultPlan:
    """The queue of faults the next exec streams take, one each, in order."""

    def __init__(self) -> None:
        self._queue: deque[Fault] = deque()
        self._lock = threading.Lock()

    def add(self, kind: str, *, count: int = 1, **params: Any) -> Fault:
        """Queue ``kind`` for the next ``count`` exec streams; return the :class:`Fault`."""
        fault = Fault(kind, **params)
        with self._lock:
            self._queue.extend([fault] * max(1, int(count)))
        return fault

    def take(self) -> Fault | None:
        """Return the fault for a new exec stream, or ``None``."""
        with self._lock:
            if not self._queue:
                return None
            fault = self._queue.popleft()
            fault.streams += 1
            return fault

    def clear(self) -> None:
        """Forget every queued fault."""
        with self._lock:
            self._queue.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._queue)


def parse_fault(spec: str) -> tuple[str, dict[str, Any]]:
    """Parse ``KIND[:KEY=VALUE,...]`` (the CLI's ``--fault``) into ``(kind, params)``.

    Numbers become floats (``count`` and ``size`` ints). Example: ``stall:after=2,seconds=60``.
    """
    kind, _, rest = spec.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"fault parameter {item!r} is not KEY=VALUE")
        if key in ("count", "size"):
            params[key] = int(value)
        elif key == "then":
            params[key] = value
        elif key in ("after", "delay", "seconds", "rate"):
            params[key] = float(value)
        else:
            raise ValueError(f"unknown fault parameter {key!r}")
    Fault(kind.strip(), **{k: v for k, v in params.items() if k != "count"})  # validate now
    return kind.strip(), params
