"""Arguments checked at the edge: one rule each for commands, timeouts, sizes and text.

Every public entry point (``ExecSession``, ``run``, ``run_many``, the magics,
``Terminal``) applies the same rule, so ``timeout=nan`` or an empty command fails the
same way everywhere, with one line that says which argument and why, before any
request is made.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import ArgumentError

__all__ = ["MAX_COLS", "MAX_ROWS", "check_command", "check_size", "check_text", "check_timeout",
           "encode_input"]

#: Largest terminal height and width accepted (the protocol's sizes are 16-bit).
MAX_ROWS: int = 1000
MAX_COLS: int = 2000


def check_text(value: object, what: str) -> str:
    """Return ``value`` if it is a string without NUL bytes that encodes as UTF-8.

    Raises:
        ArgumentError: otherwise, naming ``what``.
    """
    if not isinstance(value, str):
        raise ArgumentError(f"{what} must be a string, got {type(value).__name__}")
    if "\x00" in value:
        raise ArgumentError(f"{what} contains a NUL byte, which cannot be passed to a process")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ArgumentError(
            f"{what} cannot be encoded as UTF-8 ({exc.reason} at position {exc.start})"
        ) from None
    return value


def encode_input(data: bytes | str, what: str = "stdin") -> bytes:
    """Return ``data`` as bytes: a string is encoded as UTF-8 (NUL bytes are fine in input).

    Raises:
        ArgumentError: neither bytes nor a string, or a string that cannot be encoded (a
            lone surrogate), naming ``what``.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if not isinstance(data, str):
        raise ArgumentError(f"{what} must be bytes or a string, got {type(data).__name__}")
    try:
        return data.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ArgumentError(
            f"{what} cannot be encoded as UTF-8 ({exc.reason} at position {exc.start})"
        ) from None


def check_command(command: object) -> list[str]:
    """Return ``command`` as a list of arguments.

    Raises:
        ArgumentError: a string (not an argv list), an empty list, an argument that is
            not a string, has a NUL byte or cannot be encoded.
    """
    if isinstance(command, (str, bytes)):
        raise ArgumentError("command must be a list of arguments, e.g. ['ls', '-l'], not a string")
    if not isinstance(command, Sequence):
        raise ArgumentError(f"command must be a list of arguments, got {type(command).__name__}")
    if not command:
        raise ArgumentError("command is empty: give the program to run, e.g. ['ls', '-l']")
    return [check_text(arg, f"command argument {i}") for i, arg in enumerate(command)]


def check_timeout(value: object, what: str = "timeout", *, allow_none: bool = True) -> float | None:
    """Return ``value`` as seconds: a finite number above 0 (``None`` means no limit).

    Raises:
        ArgumentError: zero, negative, not finite (``nan``, ``inf``) or not a number.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentError(f"{what} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ArgumentError(f"{what} must be a finite number of seconds above 0, got {value!r}")
    return float(value)


def check_size(rows: object, cols: object) -> tuple[int, int]:
    """Return ``(rows, cols)`` as ints within ``1..MAX_ROWS`` and ``1..MAX_COLS``.

    Raises:
        ArgumentError: a size out of range or not a whole number.
    """
    sizes = []
    for what, value, top in (("rows", rows, MAX_ROWS), ("cols", cols, MAX_COLS)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ArgumentError(f"{what} must be a whole number, got {value!r}")
        if not 1 <= value <= top:
            raise ArgumentError(f"{what} must be between 1 and {top}, got {value}")
        sizes.append(int(value))
    return sizes[0], sizes[1]
