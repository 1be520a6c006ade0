"""Helpers for the browser tests of the terminal's features (search, zoom, links, files...).

A view's root element (``.k8stty``) carries ``k8stty`` (see ``js/src/features.js``):
``k8stty.term`` is the xterm.js ``Terminal``, which these helpers use to find where a
text is drawn, so the mouse can point at it.
"""

from __future__ import annotations

import json

from playwright.sync_api import Locator

from .lab import UI_TIMEOUT, Notebook, TerminalView, poll
from .test_terminal_in_browser import wait_prompt

#: A cell that opens a terminal bound to ``t`` (the accessibility tree mirrors the screen).
TERMINAL_CELL = ("from jupyter_k8stty import Terminal\n"
                 "t = Terminal('demo', options={{'screenReaderMode': True{extra}}})\nt")

LOCATE_JS = """([root, text]) => {
    const term = root.k8stty.term;
    const buffer = term.buffer.active;
    const screen = root.querySelector('.xterm-screen').getBoundingClientRect();
    const cell = term._core._renderService.dimensions.css.cell;
    for (let row = 0; row < term.rows; row++) {
        const line = buffer.getLine(buffer.viewportY + row);
        const col = line ? line.translateToString(true).indexOf(text) : -1;
        if (col >= 0) {
            return {x: screen.left + (col + Math.min(text.length, 4) / 2) * cell.width,
                    y: screen.top + (row + 0.5) * cell.height};
        }
    }
    return null;
}"""


def open_terminal(open_notebook, extra_option: str = "", *cells: str) -> tuple[Notebook, TerminalView]:
    """Open a notebook whose first cell makes ``t``; wait for its prompt."""
    nb = open_notebook([TERMINAL_CELL.format(extra=extra_option), *cells])
    nb.run_and_wait(0)
    term = nb.terminal(0)
    term.wait_status("connected")
    wait_prompt(term)
    return nb, term


def locate(term: TerminalView, text: str) -> dict:
    """The page coordinates of ``text`` on the terminal's screen (its first occurrence)."""
    script = f"root => ({LOCATE_JS})([root, {json.dumps(text)}])"
    return poll(lambda: term.root.evaluate(script), UI_TIMEOUT, f"{text!r} drawn on the screen",
                describe=term.text)


def action(term: TerminalView, name: str) -> Locator:
    """The header button ``data-k8stty-action=name``."""
    return term.root.locator(f".k8stty-header [data-k8stty-action='{name}']")


def font_size(term: TerminalView) -> float:
    return term.root.evaluate("root => root.k8stty.term.options.fontSize")


def renderer(term: TerminalView) -> str | None:
    return term.root.get_attribute("data-k8stty-renderer")
