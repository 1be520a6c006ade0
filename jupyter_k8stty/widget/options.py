"""The terminal's arguments checked at the edge: its size and its xterm.js options.

``Terminal(..., rows=-3)`` or ``options={"fontSize": "abc"}`` would otherwise reach
the browser, where xterm.js ignores or misapplies them without a word. These
functions raise one :class:`~jupyter_k8stty.errors.ArgumentError` line instead, at
construction; the magics call :func:`check_options` for ``--option KEY=VALUE``.

Only the options in :data:`XTERM_OPTIONS` are checked (the common ones of xterm.js
6's ``ITerminalOptions``); other keys pass through unchanged, so a newer xterm.js
option works without a change here. :data:`WIDGET_OPTIONS` are the widget's own
(``clipboardWrite``): the front end keeps them from xterm.js.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ArgumentError

__all__ = ["COLS_RANGE", "ROWS_RANGE", "WIDGET_OPTIONS", "XTERM_OPTIONS", "check_options", "check_size"]

#: Heights (rows) a terminal may have, inclusive.
ROWS_RANGE: tuple[int, int] = (2, 500)
#: Widths (columns) a terminal may have, inclusive.
COLS_RANGE: tuple[int, int] = (2, 1000)

#: Options the widget sets itself: the size comes from ``rows`` and the browser's width.
RESERVED = ("rows", "cols")

Check = Callable[[Any], "str | None"]


def _plain(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:g}"


def _number(low: float | None = None, high: float | None = None, *, whole: bool = False,
            above: float | None = None) -> Check:
    kind = "a whole number" if whole else "a number"
    if above is not None:
        expected = f"{kind} above {_plain(above)}"
    elif low is not None and high is not None:
        expected = f"{kind} between {_plain(low)} and {_plain(high)}"
    elif low is not None:
        expected = f"{kind} >= {_plain(low)}"
    else:
        expected = kind

    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return expected
        if (whole and value != int(value) or above is not None and value <= above
                or low is not None and value < low or high is not None and value > high):
            return expected
        return None
    return check


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else "a string"


def _one_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in choices else "one of " + ", ".join(repr(c) for c in choices)
    return check


_FONT_WEIGHTS = ("normal", "bold", *(str(w) for w in range(100, 1000, 100)))


def _font_weight(value: Any) -> str | None:
    if isinstance(value, str) and value in _FONT_WEIGHTS:
        return None
    if not isinstance(value, bool) and isinstance(value, (int, float)) and 1 <= value <= 1000:
        return None
    return "'normal', 'bold', '100' ... '900' or a number from 1 to 1000"


def _theme(value: Any) -> str | None:
    if not isinstance(value, Mapping):
        return "a dict of colours, e.g. {'background': '#000000'}"
    for key, colour in value.items():
        if key == "extendedAnsi":
            if not isinstance(colour, (list, tuple)) or not all(isinstance(c, str) for c in colour):
                return "a dict of colours whose 'extendedAnsi' is a list of colour strings"
        elif not isinstance(colour, str):
            return f"a dict of colour strings ({key!r} is {type(colour).__name__})"
    return None


#: xterm.js options checked, with what each one must be.
XTERM_OPTIONS: dict[str, Check] = {
    "allowProposedApi": _boolean,
    "allowTransparency": _boolean,
    "altClickMovesCursor": _boolean,
    "convertEol": _boolean,
    "cursorBlink": _boolean,
    "cursorInactiveStyle": _one_of("outline", "block", "bar", "underline", "none"),
    "cursorStyle": _one_of("block", "underline", "bar"),
    "cursorWidth": _number(1, whole=True),
    "customGlyphs": _boolean,
    "disableStdin": _boolean,
    "drawBoldTextInBrightColors": _boolean,
    "fastScrollSensitivity": _number(above=0),
    "fontFamily": _string,
    "fontSize": _number(1, 200),
    "fontWeight": _font_weight,
    "fontWeightBold": _font_weight,
    "ignoreBracketedPasteMode": _boolean,
    "letterSpacing": _number(-100, 100),
    "lineHeight": _number(1, 10),
    "logLevel": _one_of("trace", "debug", "info", "warn", "error", "off"),
    "macOptionClickForcesSelection": _boolean,
    "macOptionIsMeta": _boolean,
    "minimumContrastRatio": _number(1, 21),
    "rescaleOverlappingGlyphs": _boolean,
    "rightClickSelectsWord": _boolean,
    "screenReaderMode": _boolean,
    "scrollback": _number(0, whole=True),
    "scrollOnUserInput": _boolean,
    "scrollSensitivity": _number(above=0),
    "smoothScrollDuration": _number(0, 10_000, whole=True),
    "tabStopWidth": _number(1, 100, whole=True),
    "theme": _theme,
    "wordSeparator": _string,
}


#: The widget's own options, not xterm.js's (``js/src/terminal.js`` keeps them from xterm).
WIDGET_OPTIONS: dict[str, Check] = {
    # OSC 52: may a program in the pod set the user's clipboard? Off: a pod must not
    # write the clipboard silently (js/src/clipboard.js).
    "clipboardWrite": _boolean,
}


def check_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return ``options`` as a dict of xterm.js options whose known values have the right type.

    Keys in :data:`XTERM_OPTIONS` are checked; other keys pass through, as long as their
    value can be sent to the browser (JSON).

    Raises:
        ArgumentError: not a dict, a key that is not a string, ``rows``/``cols`` (set by
            the terminal's size), a known option with a value of the wrong type or range,
            or a value that is not JSON.

    Example:
        >>> check_options({"fontSize": 15, "cursorStyle": "bar"})
        {'fontSize': 15, 'cursorStyle': 'bar'}
        >>> check_options({"fontSize": "abc"})
        Traceback (most recent call last):
        ...
        ArgumentError: xterm option fontSize must be a number between 1 and 200, got 'abc'
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ArgumentError(f"options must be a dict of xterm.js options, got {type(options).__name__}")
    checked: dict[str, Any] = {}
    for key, value in options.items():
        if not isinstance(key, str) or not key:
            raise ArgumentError(f"xterm option names are strings, got {key!r}")
        if key in RESERVED:
            raise ArgumentError(f"xterm option {key} is set by the terminal: use rows=N "
                                "(the width follows the browser)")
        check = XTERM_OPTIONS.get(key) or WIDGET_OPTIONS.get(key)
        expected = check(value) if check is not None else None
        if expected is not None:
            raise ArgumentError(f"xterm option {key} must be {expected}, got {value!r}")
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise ArgumentError(f"xterm option {key} must be a JSON value (str, number, bool, "
                                f"list, dict), got {value!r}") from None
        checked[key] = value
    return checked


def check_size(rows: Any, cols: Any = None) -> tuple[int, int | None]:
    """Return ``(rows, cols)`` if within :data:`ROWS_RANGE` and :data:`COLS_RANGE` (``cols`` may be ``None``).

    Raises:
        ArgumentError: not a whole number, or out of range.
    """
    sizes: list[int | None] = []
    for what, value, (low, high) in (("rows", rows, ROWS_RANGE), ("cols", cols, COLS_RANGE)):
        if value is None and what == "cols":
            sizes.append(None)
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ArgumentError(f"{what} must be a whole number, got {value!r}")
        number = int(value)
        if not low <= number <= high:
            raise ArgumentError(f"{what} must be between {low} and {high}, got {number}")
        sizes.append(number)
    rows_, cols_ = sizes
    assert rows_ is not None
    return rows_, cols_
