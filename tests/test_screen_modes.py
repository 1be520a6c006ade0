"""The terminal-mode tracker behind replays, the replay tail, and the skip-ahead pieces (no kernel)."""

from __future__ import annotations

import random

import pytest

from jupyter_k8stty.widget.replay_tail import ReplayTail
from jupyter_k8stty.widget.screen_modes import ScreenModes
from jupyter_k8stty.widget.skip_ahead import Skip, interrupt_key, needs_redraw, screen_tail, skip_replay

ESC = "\x1b"


def modes_after(*chunks: str | bytes) -> ScreenModes:
    modes = ScreenModes()
    for chunk in chunks:
        modes.feed(chunk.encode() if isinstance(chunk, str) else chunk)
    return modes


def same_state(a: ScreenModes, b: ScreenModes) -> bool:
    return all(getattr(a, name) == getattr(b, name) for name in (
        "alt_screen", "dec", "ansi", "keypad", "scroll_region", "sgr", "charsets", "shifted_out",
        "mouse_protocol", "mouse_encoding", "cursor_style"))


def test_a_fresh_terminal_needs_no_restore():
    assert ScreenModes().restore() == b""
    assert modes_after("plain text\r\n", f"{ESC}[31mred{ESC}[0m {ESC}[2J{ESC}[H").restore() == b""


def test_alternate_screen_and_cursor_visibility_are_followed():
    modes = modes_after(f"{ESC}[?1049h{ESC}[?25l")
    assert modes.alt_screen == 1049 and not modes.cursor_visible
    assert modes.restore() == f"{ESC}[?1049h{ESC}[?25l".encode()
    modes.feed(f"{ESC}[?25h{ESC}[?1049l".encode())
    assert modes.alt_screen is None and modes.cursor_visible and modes.restore() == b""


def test_application_cursor_keys_keypad_and_bracketed_paste():
    modes = modes_after(f"{ESC}[?1h{ESC}={ESC}[?2004h")
    assert modes.dec[1] and modes.keypad and modes.dec[2004]
    restored = modes.restore()
    assert f"{ESC}[?1;2004h".encode() in restored and f"{ESC}=".encode() in restored
    modes.feed(f"{ESC}[?1l{ESC}>{ESC}[?2004l".encode())
    assert modes.restore() == b""


def test_mouse_protocol_and_encoding_are_one_of_a_kind():
    modes = modes_after(f"{ESC}[?1000h{ESC}[?1002h{ESC}[?1006h")
    assert (modes.mouse_protocol, modes.mouse_encoding) == (1002, 1006)
    assert modes.restore() == f"{ESC}[?1002;1006h".encode()
    modes.feed(f"{ESC}[?1000l".encode())  # resetting any protocol turns reporting off
    assert modes.mouse_protocol is None and modes.restore() == f"{ESC}[?1006h".encode()


@pytest.mark.parametrize(("stream", "sgr"), [
    (f"{ESC}[1;31m", "0;1;31"),
    (f"{ESC}[1m{ESC}[22;4m", "0;4"),
    (f"{ESC}[38;5;196;48;2;1;2;3m", "0;38;5;196;48;2;1;2;3"),
    (f"{ESC}[38:2::10:20:30m{ESC}[4:3m", "0;4:3;38:2::10:20:30"),
    (f"{ESC}[7;9m{ESC}[27m", "0;9"),
    (f"{ESC}[93;104m{ESC}[39m", "0;104"),
    (f"{ESC}[1;2;3m{ESC}[m", None),
])
def test_sgr_is_kept_as_the_rendition_in_force(stream, sgr):
    restored = modes_after(stream).restore()
    assert restored == (f"{ESC}[{sgr}m".encode() if sgr else b"")


def test_a_sequence_split_between_chunks_is_read_whole():
    stream = f"abc{ESC}[?1049h{ESC}[?25l{ESC}[1;32mxyz{ESC}(0"
    whole = modes_after(stream)
    data = stream.encode()
    for cut in range(len(data) + 1):
        split = modes_after(data[:cut], data[cut:])
        assert same_state(split, whole), cut
    assert whole.charsets["("] == "0" and not whole.in_sequence
    assert modes_after(f"x{ESC}[?10").in_sequence


def test_resets_scroll_region_charsets_and_cursor_style():
    modes = modes_after(f"{ESC}[5;20r{ESC}[4h{ESC}[3 q{ESC})0\x0e{ESC}[?6h")
    assert modes.scroll_region == (5, 20) and modes.ansi[4] and modes.cursor_style == 3
    restored = modes.restore()
    # DECSTBM and DECOM home the cursor: saved and restored around them.
    assert f"{ESC}7{ESC}[5;20r{ESC}8".encode() in restored and f"{ESC}7{ESC}[?6h{ESC}8".encode() in restored
    assert f"{ESC}[4h".encode() in restored and f"{ESC}[3 q".encode() in restored
    assert f"{ESC})0\x0e".encode() in restored
    soft = modes.copy()
    soft.feed(f"{ESC}[!p".encode())  # DECSTR: not the alternate screen, mouse or cursor style
    assert soft.restore() == f"{ESC}[3 q".encode()
    modes.feed(f"{ESC}[?1049h{ESC}[?1003h{ESC}c".encode())  # RIS: everything
    assert modes.restore() == b""


def test_restore_replays_to_the_same_state():
    rng = random.Random(7)
    pieces = [f"{ESC}[?1049h", f"{ESC}[?1049l", f"{ESC}[?47h", f"{ESC}[?25l", f"{ESC}[?25h",
              f"{ESC}[?1h", f"{ESC}[?7l", f"{ESC}[?2004h", f"{ESC}[?1000h", f"{ESC}[?1003h",
              f"{ESC}[?1006h", f"{ESC}[?1004h", f"{ESC}=", f"{ESC}>", f"{ESC}[3;10r", f"{ESC}[r",
              f"{ESC}[1;4;38;5;33m", f"{ESC}[0m", f"{ESC}[22m", f"{ESC}[45m", f"{ESC}(0", f"{ESC}(B",
              "\x0e", "\x0f", f"{ESC}[4h", f"{ESC}[5 q", "text\r\n", f"{ESC}[H{ESC}[2J"]
    for _ in range(200):
        modes = modes_after("".join(rng.choice(pieces) for _ in range(12)))
        again = modes_after(modes.restore())
        assert same_state(again, modes), modes.restore()


def test_the_tail_restores_modes_set_before_it():
    tail = ReplayTail(1000, slack=100)
    tail.append(f"{ESC}[?1049h{ESC}[?25l{ESC}[?1h".encode())
    for i in range(200):
        tail.append(f"line {i:04d} {ESC}[K\r\n".encode())
    modes, data = tail.replay()
    assert len(data) <= 1000 and data.startswith(b"line ")  # starts at a line start
    assert modes.alt_screen == 1049 and not modes.cursor_visible and modes.dec[1]
    assert tail.end == len(f"{ESC}[?1049h{ESC}[?25l{ESC}[?1h") + 200 * len(f"line 0000 {ESC}[K\r\n")
    short_modes, short = tail.replay(100)
    assert len(short) <= 100 and short.startswith(b"line ") and short_modes.alt_screen == 1049
    assert tail.data() == data


def test_the_tail_never_starts_inside_an_escape_sequence_or_a_character():
    tail = ReplayTail(500, slack=50)
    unit = f"{ESC}[38;5;{{}}mé€{ESC}[0m".replace("{}", "200").encode()  # no newline anywhere
    for _ in range(200):
        tail.append(unit)
    modes, data = tail.replay()
    assert not modes.in_sequence
    assert data[:1] == b"\x1b" or data[:1].isascii() or data[0] & 0xC0 == 0xC0, data[:8]
    # What the tail starts with decodes, and the modes plus the tail give the true end state.
    data.decode("utf-8")
    end = modes.copy()
    end.feed(data)
    assert same_state(end, modes_after(unit * 200))


def test_interrupt_keys_are_single_keystrokes():
    assert interrupt_key(b"\x03") == "Ctrl-C"
    assert interrupt_key(b"\x1c") == "Ctrl-\\"
    assert interrupt_key(b"\x1a") == "Ctrl-Z"
    assert interrupt_key(b"q") is None
    assert interrupt_key(b"pasted text \x03 with a control char" * 2) is None


def test_a_skip_ends_when_output_calms_down_or_after_the_longest_wait():
    skip = Skip("Ctrl-C", 100.0, quiet=0.05, calm_bytes=100, longest=1.0)
    skip.count(10_000)
    assert not skip.calm(100.01)  # the first window is not over
    assert not skip.calm(100.06)  # 10 kB in it: still flooding
    skip.count(50)
    assert skip.due() == pytest.approx(100.11)
    assert skip.calm(100.12)  # 50 bytes in the next window: calm
    busy = Skip("Ctrl-C", 0.0, quiet=0.05, calm_bytes=100, longest=1.0)
    for step in range(1, 20):
        busy.count(10_000)
        assert not busy.calm(step * 0.05)
    busy.count(10_000)
    assert busy.calm(1.0) and busy.skipped == 200_000


def test_the_skip_replay_goes_back_to_the_normal_screen_notes_and_restores():
    start = modes_after(f"{ESC}[?1049h{ESC}[?1h")
    payload = skip_replay(start, b"TAIL", skipped=4_200_000, key="Ctrl-C")
    assert payload.startswith(b"\x18")  # aborts a half-received sequence
    note = payload.index(b"4.2 MB of output skipped after Ctrl-C")
    assert payload.index(b"\x1b[?1049h\x1b[?1049l") < note < payload.index(b"\x1b[!p")
    assert payload.endswith(start.restore() + b"TAIL")
    assert b"\x1b[0;2m" in payload[:note]  # dim


def test_a_full_screen_program_is_asked_to_redraw_only_without_a_full_redraw_in_the_tail():
    in_alt = modes_after(f"{ESC}[?1049h")
    assert needs_redraw(in_alt, f"{ESC}[5;1Hcpu 42%".encode())
    assert not needs_redraw(in_alt, f"{ESC}[H{ESC}[2Jall of it".encode())
    assert not needs_redraw(in_alt, f"{ESC}[?1049l$ ".encode())  # it ended
    assert not needs_redraw(ScreenModes(), b"y\n" * 100)
    assert not needs_redraw(ScreenModes(), f"{ESC}[?1049h{ESC}[H{ESC}[2J~\r\n".encode())


def test_the_end_of_a_skip_is_cut_to_what_fits_under_the_note():
    tail = b"y\n" * 5000 + b"^C\r\n$ "
    modes, cut = screen_tail(ScreenModes(), tail, 24, 80)
    assert cut.endswith(b"y\n^C\r\n$ ") and cut.count(b"\n") == 21  # 22 rows: prompt included
    # Long lines wrap: fewer of them fit.
    wide = (b"x" * 200 + b"\r\n") * 50 + b"$ "
    assert screen_tail(ScreenModes(), wide, 24, 80)[1].count(b"\n") == 7
    # Colours set before the cut are restored; sequences and carriage returns take no room.
    coloured = b"\x1b[1;32m" + b"\x1b[K10%\r20%\r100%\r\n" * 100 + b"$ "
    modes, cut = screen_tail(ScreenModes(), coloured, 10, 80)
    assert modes.restore() == b"\x1b[0;1;32m" and cut.count(b"\n") == 7
    # A tail that switches screens is not cut by lines.
    full = b"y\n" * 100 + b"\x1b[?1049h\x1b[H\x1b[2J~\r\n~"
    assert screen_tail(ScreenModes(), full, 24, 80)[1] == full
    in_alt = modes_after("\x1b[?1049h")
    assert screen_tail(in_alt, b"y\n" * 100, 24, 80)[1] == b"y\n" * 100
    assert screen_tail(ScreenModes(), b"x" * 5000, 24, 80)[1] == b"x" * 5000  # one long line
