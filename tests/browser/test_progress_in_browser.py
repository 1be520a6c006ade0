"""Progress bars in real JupyterLab: a copy and a long fan-out draw tqdm's widget bar under the cell.

A busy terminal stays open meanwhile: its widget messages reach the kernel while the
fan-out runs, and the fan-out's bar (made on a thread of its own) must still land
under the fan-out's cell.
"""

from __future__ import annotations

import re

import pytest

from jupyter_k8stty.exec.fanout_progress import SHOW_AFTER

from .lab import ARTIFACTS, CELL_TIMEOUT, UI_TIMEOUT, poll

pytestmark = pytest.mark.browser

BUSY_TERMINAL = """
from jupyter_k8stty import Terminal
busy = Terminal("demo", ["sh", "-c", "while :; do date; sleep 0.05; done"])
busy
"""
COPY = """
import os
from jupyter_k8stty import copy_to
with open("weights.bin", "wb") as f:
    f.write(os.urandom(3 * 1024 * 1024))
copy_to("demo", "weights.bin", "uploads/")
"""
FAN_OUT = f"""
from jupyter_k8stty import run_many
results = run_many(["worker-0", "worker-1", "worker-2"],
                   ["sh", "-c", "sleep {SHOW_AFTER + 1}; [ $HOSTNAME != worker-2 ]"])
results.summary()
"""


def bar_of(cell):
    """tqdm's widgets under a cell: a box holding a label, an ipywidgets progress bar and a text."""
    return cell.locator(".jp-OutputArea-output .widget-hbox").filter(
        has=cell.page.locator(".widget-hprogress .progress-bar"))


def test_copies_and_long_fan_outs_show_a_progress_bar_widget(open_notebook):
    nb = open_notebook([BUSY_TERMINAL, COPY, FAN_OUT])
    nb.run_and_wait(0)
    nb.terminal(0).wait_status("connected")
    nb.run_and_wait(1)
    copy_bar = bar_of(nb.cell(1))
    poll(lambda: copy_bar.count() == 1, UI_TIMEOUT, "the copy's progress bar",
         describe=lambda: nb.output_text(1))
    text = copy_bar.first.inner_text().replace("\u2007", " ")
    assert re.search(r"weights\.bin → demo: 100%", text), text
    assert re.search(r"3\.00M/3\.00M \[\d\d:\d\d<00:00, +[\d.]+[kMG]?B/s\]", text), text
    # The bar element itself: full, and green once done (bar_style "success").
    progress = copy_bar.first.locator(".widget-hprogress .progress-bar")
    poll(lambda: "progress-bar-success" in (progress.get_attribute("class") or ""), UI_TIMEOUT,
         "a finished (green) bar", describe=lambda: progress.get_attribute("class") or "")

    nb.run_cell(2)
    fan_bar = bar_of(nb.cell(2))
    # It appears while the pods still run, after about a second ...
    poll(lambda: fan_bar.count() == 1, SHOW_AFTER + 5, "the fan-out's progress bar")
    ARTIFACTS.mkdir(exist_ok=True)
    nb.cell(2).screenshot(path=str(ARTIFACTS / "fanout-progress-running.png"))
    nb.wait_cell_done(2, CELL_TIMEOUT)
    # ... and ends with every pod counted, the failure included.
    poll(lambda: "3/3" in fan_bar.first.inner_text(), UI_TIMEOUT, "3/3 pods done",
         describe=lambda: fan_bar.first.inner_text())
    text = fan_bar.first.inner_text().replace("\u2007", " ")
    assert re.search(r"pods: 100%", text) and "1 failed" in text, text
    assert "3 pods: 2 exited 0, 1 failed" in nb.output_text(2)
    nb.cell(1).screenshot(path=str(ARTIFACTS / "copy-progress.png"))
    nb.cell(2).screenshot(path=str(ARTIFACTS / "fanout-progress.png"))
