"""Reloading the page reattaches the terminal to its live session, history included.

The kernel and its exec session outlive the page: after a reload JupyterLab restores
the widget from the kernel, the new view sends ``ready`` and gets a ``replay`` of the
recent output, and typing goes on in the same shell (same PID).
"""

from __future__ import annotations

import pytest

from .lab import CELL_TIMEOUT, KERNEL_READY_TIMEOUT, UI_TIMEOUT, Notebook, poll
from .test_terminal_in_browser import start_terminal, wait_prompt

pytestmark = pytest.mark.browser

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_reload_reattaches_the_view_to_the_live_session(open_notebook, lab_server):
    nb, term = start_terminal(open_notebook)
    page = nb.page
    term.focus()
    term.type("echo before-$((6*7)) pid=$$\n")
    before = term.wait_for(r"^before-42 pid=(\d+)$")
    wait_prompt(term)

    # Save (from the notebook, not the terminal, which would send Ctrl-S to the pod) so
    # that the reloaded page shows the output holding the widget's view.
    nb.cell(0).locator(".jp-InputArea-editor .cm-content").click()
    poll(lambda: not term.has_focus(), UI_TIMEOUT, "focus out of the terminal")
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    path = next(lab_server.root_dir.glob("test_reload_reattaches*.ipynb"))
    poll(lambda: WIDGET_VIEW in path.read_text(), CELL_TIMEOUT, "the notebook saved with the widget view")

    cells = nb.cell_count()  # running the last cell added an empty one
    page.reload()
    reloaded = Notebook(page)
    poll(lambda: reloaded.cell_count() == cells, KERNEL_READY_TIMEOUT, "cells after the reload",
         describe=lambda: f"{reloaded.cell_count()} cells")
    term = reloaded.terminal(1)
    term.wait_status("connected")
    term.wait_for(r"^before-42 pid=\d+$")  # the replay holds the history
    term.focus()
    term.type("echo after-$((7*6)) pid=$$\n")
    after = term.wait_for(r"^after-42 pid=(\d+)$")
    assert after[1] == before[1], "the reloaded view talks to a different shell"
    term.screenshot("05-after-reload")
