"""The browser smoke test in each frontend of the compatibility run: render, echo, resize, busy kernel.

The steps are the main browser tests' (``tests/browser/test_terminal_in_browser.py``),
in Notebook 7, JupyterLab 4.2 with ipykernel 6 and JupyterLab 3.6 with ipywidgets 7,
each served from its own venv (see ``conftest.py``). The last step records what the
compatibility table says of keys typed while another cell runs: they reach the pod
at once where widget messages use a kernel subshell, else they wait for the cell
and arrive afterwards, in order.
"""

from __future__ import annotations

import re
import time

import pytest

from ..browser.lab import CELL_TIMEOUT, TERMINAL_TIMEOUT, poll
from ..browser.test_terminal_in_browser import DRAG_PX, settled_box, start_terminal, stty_size, wait_prompt
from .conftest import ENABLED, SKIP_REASON, Frontend

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not ENABLED, reason=SKIP_REASON)]

#: How long the busy cell sleeps while we type into the terminal.
SLEEP_SECONDS = 8
#: An echo this many seconds before the sleep could end came while the cell ran.
BUSY_MARGIN = 1.5
#: The header's notice where keys wait for the running cell (js/src/keys_wait.js).
KEYS_WAIT = "keys wait for the running cell"


def test_terminal_renders_echoes_resizes_and_takes_keys_during_a_busy_cell(frontend: Frontend, open_notebook,
                                                                            diagnose):
    with diagnose():
        smoke_test(frontend, open_notebook)


def smoke_test(frontend: Frontend, open_notebook) -> None:
    nb, term = start_terminal(open_notebook, f"import time\ntime.sleep({SLEEP_SECONDS})")
    name = frontend.env.name

    # Echo: keys reach the pod's shell and its output comes back.
    term.focus()
    term.type("echo hello-$((6 * 7))\n")
    term.wait_for(r"^hello-42$")
    wait_prompt(term)
    term.screenshot(f"compat-{name}-01-echo")

    # Resize: dragging the handle gives more rows, and the pod's TTY follows the screen.
    rows0, _cols0 = stty_size(term, "before")
    assert rows0 == len(term.lines()), term.text()
    box = settled_box(term.screen)
    corner_x, corner_y = box["x"] + box["width"] - 3, box["y"] + box["height"] - 3
    nb.page.mouse.move(corner_x, corner_y)
    nb.page.mouse.down()
    nb.page.mouse.move(corner_x, corner_y + DRAG_PX, steps=10)
    nb.page.mouse.up()
    poll(lambda: len(term.lines()) > rows0, TERMINAL_TIMEOUT, "more terminal rows after the drag",
         describe=lambda: f"{len(term.lines())} rows, screen box {term.screen.bounding_box()}")
    term.focus()
    rows1, _cols1 = stty_size(term, "after")
    assert rows1 == len(term.lines()) and rows1 > rows0, (rows0, rows1, term.text())
    term.screenshot(f"compat-{name}-02-resized")

    # Keys while another cell runs: at once with a subshell, else after the cell, in order.
    nb.run_cell(2)
    started = time.monotonic()
    assert nb.running(2)
    term.focus()
    # One line: two Enters queued behind the cell would reach bash as type-ahead, whose
    # echo by the TTY can interleave with the first command's output (as in any terminal).
    term.type("echo during-1; echo during-2\n")
    # Where keys wait, the header says so until they go through.
    notice = term.root.locator(".k8stty-header .k8stty-keys-wait")
    notice_text = "r => r.querySelector('.k8stty-header .k8stty-keys-wait')?.textContent ?? null"
    noticed = False

    def echoed() -> bool:
        nonlocal noticed
        noticed = noticed or term.root.evaluate(notice_text) == KEYS_WAIT
        return re.search(r"^during-1$\n(?:.*\n)*?^during-2$", term.text(), re.MULTILINE) is not None

    poll(echoed, SLEEP_SECONDS + CELL_TIMEOUT, "the echo of the keys typed during the cell",
         describe=term.text)
    # The cell's end and the prompt's update race the queued keys' echo: tell the two
    # cases apart by time, since a kernel busy in the cell cannot echo before it ends.
    echoed_after = time.monotonic() - started
    seen_while_busy = echoed_after < SLEEP_SECONDS - BUSY_MARGIN
    nb.wait_cell_done(2, timeout=SLEEP_SECONDS + CELL_TIMEOUT)
    term.screenshot(f"compat-{name}-03-after-busy-cell")
    poll(lambda: notice.count() == 0, TERMINAL_TIMEOUT, "the keys-wait notice gone")
    assert noticed == (not frontend.keys_while_busy), (
        f"the notice {KEYS_WAIT!r} was {'shown' if noticed else 'not shown'} while the cell ran")
    assert seen_while_busy == frontend.keys_while_busy, (
        f"{frontend.env.title}: keys {'passed' if seen_while_busy else 'waited for'} the busy cell "
        f"(echo {echoed_after:.1f} s after it started), expected them to "
        f"{'pass' if frontend.keys_while_busy else 'wait'}"
    )
