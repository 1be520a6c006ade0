"""The terminal modes a replay must restore: :class:`ScreenModes`, a pure parser.

A replay writes only the most recent part of the output (a bounded tail). Whatever the
output set up before that part and never repeated is lost with it: a full-screen
program's alternate screen, a hidden cursor, application cursor keys or keypad,
bracketed paste, mouse reporting, the current colours. :class:`ScreenModes` follows
those through the bytes that fall off the front of the tail, so that
:meth:`ScreenModes.restore` can put them back in front of it.

It reads only the sequences that change those modes; everything else (text, cursor
motion, erases) is skipped over at C speed, so plain output costs a ``bytes.find``.
What it tracks, and how a restore spells it:

* the alternate screen (DEC modes 47, 1047, 1049);
* DEC private modes: cursor keys (1), origin (6), autowrap (7), reverse wrap (45),
  cursor visibility (25), keypad (66), focus events (1004), bracketed paste (2004),
  synchronized output (2026); the mouse protocol (9, 1000, 1002, 1003) and encoding
  (1006, 1016), each one of a kind as in xterm.js;
* ANSI modes: insert (4), automatic newline (20);
* the keypad (``ESC =``, ``ESC >``), the scroll region (DECSTBM), the cursor style
  (DECSCUSR), the G0/G1 character sets and which one is shifted in (SO/SI);
* SGR: the current rendition (intensity, italic, underline, blink, inverse, hidden,
  strike, overline, foreground, background and underline colours);
* full and soft resets (``ESC c``, ``CSI ! p``).

Not tracked: the cursor position (a tail starts at a line start where it can), a
cursor saved with DECSC before the tail, the title, and sequences split by C0 controls.
Tested in ``tests/test_screen_modes.py``.
"""

from __future__ import annotations

import copy
import re

__all__ = ["ScreenModes"]

#: The DEC private modes tracked as plain flags, with their defaults (xterm.js's).
DEC_DEFAULTS: dict[int, bool] = {1: False, 6: False, 7: True, 25: True, 45: False, 66: False,
                                 1004: False, 2004: False, 2026: False}
#: Mouse protocols: setting one replaces the other; resetting any turns reporting off.
MOUSE_PROTOCOLS = frozenset({9, 1000, 1002, 1003})
#: Mouse encodings xterm.js knows: the same, one of a kind.
MOUSE_ENCODINGS = frozenset({1006, 1016})
ALT_SCREENS = frozenset({47, 1047, 1049})
ANSI_DEFAULTS: dict[int, bool] = {4: False, 20: False}

# Only the sequences that matter; the parser jumps from one to the next.
_RELEVANT = re.compile(
    rb"\x1b\[([?]?)([0-9;:]*)([ !]?)([hlmrpq])"  # modes, SGR, DECSTBM, DECSTR, DECSCUSR
    rb"|\x1b([=>c])"  # keypad, full reset
    rb"|\x1b([()])([0-~])"  # G0/G1 designation
    rb"|([\x0e\x0f])"  # shift out / shift in
)
# A sequence cut by the end of a chunk: kept and parsed with the next chunk.
_INCOMPLETE = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*|[()])?\Z")
#: Longest sequence prefix kept between two chunks.
_MAX_CARRY = 64

# SGR groups: which attribute each parameter sets, and which parameters clear it.
_SGR_GROUP = {1: "intensity", 2: "intensity", 3: "italic", 4: "underline", 21: "underline",
              5: "blink", 6: "blink", 7: "inverse", 8: "hidden", 9: "strike", 53: "overline"}
_SGR_CLEAR = {22: ("intensity",), 23: ("italic",), 24: ("underline",), 25: ("blink",),
              27: ("inverse",), 28: ("hidden",), 29: ("strike",), 55: ("overline",),
              39: ("fg",), 49: ("bg",), 59: ("ul_color",)}
_SGR_COLOR = {38: "fg", 48: "bg", 58: "ul_color"}
# Order of a restored rendition.
_SGR_ORDER = ("intensity", "italic", "underline", "blink", "inverse", "hidden", "strike",
              "overline", "fg", "bg", "ul_color")


class ScreenModes:
    r"""Follow the modes a byte stream sets; :meth:`restore` writes them again.

    Feed it the stream in order with :meth:`feed` (chunks may split sequences anywhere);
    :meth:`copy` forks the state to look ahead without disturbing it.

    Example:
        >>> modes = ScreenModes()
        >>> modes.feed(b"\x1b[?1049h\x1b[?25lhello \x1b[1;31mworld")
        >>> modes.alt_screen, modes.cursor_visible
        (1049, False)
        >>> modes.restore()
        b'\x1b[?1049h\x1b[?25l\x1b[0;1;31m'
    """

    def __init__(self) -> None:
        self._carry = b""
        self.reset()

    def reset(self) -> None:
        """Back to a freshly reset terminal (``ESC c``)."""
        #: The alternate screen mode in force (47, 1047 or 1049), else ``None``.
        self.alt_screen: int | None = None
        self._soft_reset()
        self.mouse_protocol: int | None = None
        self.mouse_encoding: int | None = None
        self.cursor_style = 0

    def _soft_reset(self) -> None:
        # What DECSTR resets (xterm.js InputHandler.softReset, CoreService.reset).
        self.dec: dict[int, bool] = dict(DEC_DEFAULTS)
        self.ansi: dict[int, bool] = dict(ANSI_DEFAULTS)
        self.keypad = False
        self.scroll_region: tuple[int, int] | None = None
        self.sgr: dict[str, str] = {}
        self.charsets = {"(": "B", ")": "B"}
        self.shifted_out = False

    # -- reading ----------------------------------------------------------------------------

    @property
    def cursor_visible(self) -> bool:
        """Whether the cursor is shown (DECTCEM)."""
        return self.dec[25]

    @property
    def in_sequence(self) -> bool:
        """Whether the bytes fed so far end inside an escape sequence."""
        return bool(self._carry)

    def copy(self) -> ScreenModes:
        """Return an independent copy of this state."""
        return copy.deepcopy(self)

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Follow ``data``, the next bytes of the stream."""
        if self._carry:
            data = self._carry + bytes(data)
            self._carry = b""
        elif b"\x1b" not in data and b"\x0e" not in data and b"\x0f" not in data:
            return
        for match in _RELEVANT.finditer(data):
            self._apply(match)
        cut = _INCOMPLETE.search(data, max(0, len(data) - _MAX_CARRY))
        if cut is not None:
            self._carry = bytes(data[cut.start():])

    def _apply(self, match: re.Match[bytes]) -> None:
        final = match[4]
        if final is not None:
            private, params, intermediate = match[1], match[2], match[3]
            if intermediate == b" ":
                if final == b"q" and not private:
                    self.cursor_style = _number(params)
            elif intermediate == b"!":
                if final == b"p" and not private:
                    self._soft_reset()
            elif final in b"hl":
                self._set_modes(params, on=final == b"h", private=bool(private))
            elif private:
                return
            elif final == b"m":
                self._sgr(params)
            elif final == b"r":
                self._scroll_region(params)
            return
        escape = match[5]
        if escape is not None:
            if escape == b"=":
                self.keypad = True
            elif escape == b">":
                self.keypad = False
            else:
                self.reset()
            return
        if match[6] is not None:
            self.charsets[match[6].decode()] = match[7].decode()
            return
        self.shifted_out = match[8] == b"\x0e"

    def _set_modes(self, params: bytes, *, on: bool, private: bool) -> None:
        for part in params.split(b";"):
            mode = _number(part)
            if not private:
                if mode in self.ansi:
                    self.ansi[mode] = on
            elif mode in self.dec:
                self.dec[mode] = on
            elif mode in ALT_SCREENS:
                self.alt_screen = mode if on else None
            elif mode in MOUSE_PROTOCOLS:
                self.mouse_protocol = mode if on else None
            elif mode in MOUSE_ENCODINGS:
                self.mouse_encoding = mode if on else None

    def _scroll_region(self, params: bytes) -> None:
        parts = params.split(b";")
        top = _number(parts[0]) if parts else 0
        bottom = _number(parts[1]) if len(parts) > 1 else 0
        self.scroll_region = (max(top, 1), bottom) if top > 1 or bottom > 0 else None

    def _sgr(self, params: bytes) -> None:
        tokens = params.split(b";") if params else [b""]
        i = 0
        while i < len(tokens):
            token = tokens[i]
            i += 1
            if b":" in token:  # sub-parameters: 4:3 (curly underline), 38:2::r:g:b
                head = _number(token.split(b":", 1)[0])
                if head in _SGR_COLOR:
                    self.sgr[_SGR_COLOR[head]] = token.decode()
                elif head == 4:
                    if token.split(b":")[1:2] == [b"0"]:
                        self.sgr.pop("underline", None)
                    else:
                        self.sgr["underline"] = token.decode()
                continue
            code = _number(token)
            if code == 0:
                self.sgr.clear()
            elif code in _SGR_COLOR:
                kind = _number(tokens[i]) if i < len(tokens) else 0
                take = 2 if kind == 5 else 4 if kind == 2 else 1
                self.sgr[_SGR_COLOR[code]] = b";".join(tokens[i - 1: i + take]).decode()
                i += take
            elif code in _SGR_GROUP:
                self.sgr[_SGR_GROUP[code]] = str(code)
            elif code in _SGR_CLEAR:
                for group in _SGR_CLEAR[code]:
                    self.sgr.pop(group, None)
            elif 30 <= code <= 37 or 90 <= code <= 97:
                self.sgr["fg"] = str(code)
            elif 40 <= code <= 47 or 100 <= code <= 107:
                self.sgr["bg"] = str(code)

    # -- writing ----------------------------------------------------------------------------

    def restore(self) -> bytes:
        """Return the bytes that take a reset terminal (normal screen, default modes) to this state.

        Empty when every tracked mode has its default. On a terminal in an unknown state,
        send a soft reset (``CSI ! p``) and leave the alternate screen first (see
        :func:`~jupyter_k8stty.widget.skip_ahead.skip_replay`).
        """
        out = []
        if self.alt_screen is not None:
            out.append(f"\x1b[?{self.alt_screen}h")
        if self.scroll_region is not None:
            top, bottom = self.scroll_region
            # DECSTBM homes the cursor: keep it where the replay starts.
            out.append(f"\x1b7\x1b[{top};{bottom or ''}r\x1b8")
        on = [mode for mode, value in self.dec.items() if value and not DEC_DEFAULTS[mode]]
        off = [mode for mode, value in self.dec.items() if not value and DEC_DEFAULTS[mode]]
        # Origin mode homes the cursor too.
        if 6 in on:
            on.remove(6)
            out.append("\x1b7\x1b[?6h\x1b8")
        if self.mouse_protocol is not None:
            on.append(self.mouse_protocol)
        if self.mouse_encoding is not None:
            on.append(self.mouse_encoding)
        if on:
            out.append(f"\x1b[?{';'.join(map(str, on))}h")
        if off:
            out.append(f"\x1b[?{';'.join(map(str, off))}l")
        ansi = [mode for mode, value in self.ansi.items() if value]
        if ansi:
            out.append(f"\x1b[{';'.join(map(str, ansi))}h")
        if self.keypad:
            out.append("\x1b=")
        if self.cursor_style:
            out.append(f"\x1b[{self.cursor_style} q")
        for which, charset in self.charsets.items():
            if charset != "B":
                out.append(f"\x1b{which}{charset}")
        if self.shifted_out:
            out.append("\x0e")
        if self.sgr:
            out.append("\x1b[0;" + ";".join(self.sgr[k] for k in _SGR_ORDER if k in self.sgr) + "m")
        return "".join(out).encode()


def _number(text: bytes) -> int:
    """Read a CSI parameter (empty or not a number: 0)."""
    try:
        return int(text) if text else 0
    except ValueError:
        return 0
