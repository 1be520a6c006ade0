"""Ctrl-C in a flood skips ahead in real JupyterLab and Chromium; full-screen programs stay right.

Each test opens ``t = Terminal('demo', options={'screenReaderMode': True})`` (the
accessibility tree mirrors the screen for reading) and floods it with ``yes``, which
the browser draws far slower than the pod writes it. The modes are read from the view's
xterm.js (``root.k8stty.term``, see ``js/src/features.js``). How fast it is: measured by
``benchmarks/browser_terminal.py``, not here.
"""

from __future__ import annotations

import pytest

from .features import open_terminal
from .lab import TERMINAL_TIMEOUT, TerminalView, poll
from .test_terminal_in_browser import wait_prompt

pytestmark = pytest.mark.browser

NOTE = r"of output skipped after Ctrl-C"
#: Frames the view must have drawn of the flood before the interrupt (about a second).
FLOODED_FRAMES = 40


def xterm(term: TerminalView, expression: str):
    """Evaluate ``expression`` with ``t`` bound to the view's xterm.js Terminal."""
    return term.root.evaluate(f"root => {{ const t = root.k8stty.term; return {expression}; }}")


def screen_kind(term: TerminalView) -> str:
    return xterm(term, "t.buffer.active.type")


def modes(term: TerminalView) -> dict:
    return xterm(term, "({...t.modes, cursorHidden: t._core.coreService.isCursorHidden})")


def flood_then_interrupt(term: TerminalView, command: str = "yes") -> None:
    xterm(term, "(root.frames = 0, root.counting = t.onRender(() => root.frames++), 0)")
    term.type(f"{command}\n")
    poll(lambda: xterm(term, "root.frames") > FLOODED_FRAMES, TERMINAL_TIMEOUT,
         "the flood drawn for a while", describe=term.text)
    xterm(term, "root.counting.dispose()")
    term.page.keyboard.press("Control+c")


def assert_shell_modes(term: TerminalView) -> None:
    """Back at the shell: normal screen, cursor shown, no application or mouse modes."""
    poll(lambda: screen_kind(term) == "normal", TERMINAL_TIMEOUT, "the normal screen")
    now = modes(term)
    assert not now["cursorHidden"] and not now["applicationCursorKeysMode"], now
    assert now["mouseTrackingMode"] == "none", now


def test_ctrl_c_under_yes_skips_to_the_prompt_then_vim_and_less_work(open_notebook):
    nb, term = open_terminal(open_notebook)
    term.focus()
    flood_then_interrupt(term)
    term.wait_for(NOTE, timeout=30)
    wait_prompt(term)
    term.type("echo after-$((6*7))\n")
    term.wait_for(r"^after-42$")
    assert_shell_modes(term)
    term.screenshot("skip-01-prompt-after-ctrl-c")

    term.type("vim -u NONE\n")
    term.wait_for(r"^~$", count=3)
    assert screen_kind(term) == "alternate"
    term.type("ihello from vim")
    page = nb.page
    page.keyboard.press("Escape")
    term.wait_for(r"^hello from vim$")
    term.screenshot("skip-02-vim-after-skip")
    term.type(":q!\n")
    term.wait_gone(r"^~$")
    wait_prompt(term)
    assert_shell_modes(term)

    term.type("seq 1 500 | less\n")
    term.wait_for(r"^1$")
    assert screen_kind(term) == "alternate"
    page.keyboard.press("G")
    term.wait_for(r"^500$")
    term.screenshot("skip-03-less-after-skip")
    page.keyboard.press("q")
    wait_prompt(term)
    assert_shell_modes(term)


def test_a_flood_under_vim_ends_back_in_a_whole_vim_screen(open_notebook):
    nb, term = open_terminal(open_notebook)
    term.focus()
    term.type("vim -u NONE\n")
    term.wait_for(r"^~$", count=3)
    term.type("ikept text")
    nb.page.keyboard.press("Escape")
    term.wait_for(r"^kept text$")
    # vim leaves the alternate screen to run the command, and comes back after Enter.
    flood_then_interrupt(term, ":!yes")
    term.wait_for(NOTE, timeout=30)
    term.wait_for(r"Press ENTER", timeout=30)
    nb.page.keyboard.press("Enter")
    term.wait_for(r"^kept text$")
    term.wait_for(r"^~$", count=3)
    assert screen_kind(term) == "alternate"
    term.screenshot("skip-04-vim-after-a-flood-under-it")
    term.type(":q!\n")
    term.wait_gone(r"^~$")
    wait_prompt(term)
    assert_shell_modes(term)


def test_a_flood_inside_less_ends_with_its_screen_whole(open_notebook):
    nb, term = open_terminal(open_notebook)
    term.focus()
    # less follows the pipe (+F) inside the alternate screen: the flood is drawn there
    # (at about the speed a browser draws: skipped or not, its screen must be whole).
    flood_then_interrupt(term, "yes 'from less' | less +F")
    rows = xterm(term, "t.rows")
    # A whole page of the pipe's lines and less's prompt: nothing half drawn.
    term.wait_for(r"^from less$", count=rows - 2, timeout=30)
    assert screen_kind(term) == "alternate"
    term.screenshot("skip-05-less-after-a-flood-in-it")
    nb.page.keyboard.press("q")
    wait_prompt(term)
    assert_shell_modes(term)


def test_a_flood_in_the_alternate_screen_keeps_the_note_out_of_it(open_notebook):
    nb, term = open_terminal(open_notebook)
    term.focus()
    flood_then_interrupt(term, r"printf '\033[?1049h\033[?25l'; yes 'in the alternate screen'")
    poll(lambda: term.lines() and "^C" in term.text(), 30, "the flood interrupted", describe=term.text)
    wait_prompt(term)
    assert screen_kind(term) == "alternate"
    assert "skipped" not in term.text()  # nothing of ours inside a full-screen program's screen
    assert modes(term)["cursorHidden"]  # restored where the kept output begins
    rows = xterm(term, "t.rows")
    term.wait_for(r"^in the alternate screen$", count=rows - 3)
    term.type(r"printf '\033[?25h\033[?1049l'" + "\n")
    wait_prompt(term)
    assert_shell_modes(term)
    term.wait_for(NOTE)  # the note is on the normal screen, above where the shell went on


def test_with_skip_ahead_off_the_flood_is_drawn_to_the_end(open_notebook):
    nb, term = open_terminal(open_notebook, "", "t.skip_ahead = False")
    nb.run_and_wait(1)
    term.focus()
    flood_then_interrupt(term, "yes | head -c 3000000")  # bounded: drawn in a few seconds
    wait_prompt(term)
    term.type("echo drawn-$((6*7))\n")
    term.wait_for(r"^drawn-42$", timeout=60)
    assert "skipped" not in term.text()
