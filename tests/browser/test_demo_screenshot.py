"""The demo as a newcomer meets it: ``jupyter-k8stty demo``, then Run All, in real JupyterLab.

The demo runs as a user starts it (its own sandbox, its own JupyterLab), with fresh
Jupyter config and data folders, so nothing of the test's own JupyterLab setup (which
turns the news off by itself) hides a first-run pop-up. After Run All every cell has
run without an error, the terminals are connected, and no toast or dialog covers the
notebook; the screenshot lands in ``test-artifacts/demo-after-run-all.png``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from jupyter_k8stty.demo import demo_notebook

from .lab import (
    ARTIFACTS,
    KERNEL_READY_TIMEOUT,
    LAB_START_TIMEOUT,
    UI_TIMEOUT,
    LabServer,
    Notebook,
    free_port,
    poll,
)

pytestmark = pytest.mark.browser

#: Seconds Run All may take for the whole tour (the evaluation fan-out alone takes about two).
RUN_ALL_TIMEOUT = 120.0
#: Seconds the demo gets to stop JupyterLab and the sandbox after SIGTERM.
DEMO_STOP_TIMEOUT = 30.0
URL_RE = re.compile(r"(http://127\.0\.0\.1:(\d+))/lab/tree/demo\.ipynb\?token=(\w+)")
#: What a pop-up in JupyterLab is made of: notification toasts and modal dialogs.
POPUPS = ".jp-toastContainer .Toastify__toast, .jp-Dialog"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[LabServer]:
    """``jupyter-k8stty demo`` as a first-time user runs it: fresh Jupyter folders, no browser."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY_", "KUBECONFIG"))}
    env.update(
        HOME=str(home),
        JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
        JUPYTER_DATA_DIR=str(home / ".local" / "share" / "jupyter"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTER_PLATFORM_DIRS="1",
        IPYTHONDIR=str(home / ".ipython"),
        PYTHONUNBUFFERED="1",
    )
    workdir = tmp_path / "demo"
    log_path = tmp_path / "demo.log"
    argv = [sys.executable, "-m", "jupyter_k8stty.cli", "demo", "--no-browser", "--dir", str(workdir),
            "--port", str(free_port())]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        def started() -> re.Match | None:
            if proc.poll() is not None:
                raise AssertionError(f"the demo exited with {proc.returncode}:\n{log_path.read_text()}")
            return URL_RE.search(log_path.read_text())

        found = poll(started, LAB_START_TIMEOUT, "the demo's URL", interval=0.25,
                     describe=log_path.read_text)
        yield LabServer(url=found.group(1), token=found.group(3), root_dir=workdir / "notebooks",
                        process=proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(DEMO_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert "Demo stopped." in log_path.read_text()


def run_all(page) -> None:
    """Run ▸ Run All Cells, through the menu as a user does."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item .lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def test_the_demo_after_run_all_shows_no_pop_up(demo: LabServer, page):
    page.goto(f"{demo.url}/lab/tree/demo.ipynb?token={demo.token}")
    nb = Notebook(page, demo.root_dir / "demo.ipynb")
    poll(lambda: nb.cell_count() > 20, KERNEL_READY_TIMEOUT, "the tour's cells shown",
         describe=lambda: f"{nb.cell_count()} cells")
    nb.wait_kernel_idle(demo, "demo.ipynb")
    code_cells = nb.panel.locator(".jp-Notebook .jp-CodeCell")
    count = code_cells.count()
    run_all(page)

    def prompts() -> list[str]:
        # textContent: JupyterLab skips rendering cells out of view, which empties innerText.
        return [(code_cells.nth(i).locator(".jp-InputPrompt").text_content() or "").strip()
                for i in range(count)]

    poll(lambda: all(re.fullmatch(r"\[\d+\]:", p) for p in prompts()), RUN_ALL_TIMEOUT,
         "every cell run", interval=0.5, describe=lambda: " ".join(prompts()))
    errors = nb.panel.locator(".jp-OutputArea-output[data-mime-type*='error']")
    assert errors.count() == 0, errors.first.text_content()
    terminals = nb.panel.locator(".k8stty .k8stty-header .k8stty-status")
    poll(lambda: terminals.count() >= 4, UI_TIMEOUT, "the tour's terminals rendered")


    def statuses() -> list[str | None]:
        return [terminals.nth(i).get_attribute("data-status") for i in range(terminals.count())]

    # Every terminal connects, but two that show an error on purpose: a typo's, and the
    # distroless model server's "no shell" (which offers the Debug action).
    poll(lambda: sorted(statuses()) == ["connected"] * (len(statuses()) - 2) + ["error"] * 2, UI_TIMEOUT,
         "the terminals connected", describe=lambda: str(statuses()))
    ARTIFACTS.mkdir(exist_ok=True)
    ids = [cell.id for cell in nbformat.read(demo_notebook(), as_version=4).cells]

    def drawn(cell_id: str, inside: str | None = None) -> None:
        """Scroll a cell into view and wait until JupyterLab has drawn it (and ``inside``)."""
        cell = nb.cell(ids.index(cell_id))
        cell.evaluate("cell => cell.scrollIntoView({block: 'center'})")

        def ready() -> bool:
            if not cell.inner_text().strip():  # empty while JupyterLab skips drawing the cell
                return False
            if "jp-CodeCell" in (cell.get_attribute("class") or ""):
                if not re.fullmatch(r"\[\d+\]:", cell.locator(".jp-InputPrompt").inner_text().strip()):
                    return False
            return inside is None or cell.locator(inside).count() > 0

        poll(ready, UI_TIMEOUT, f"cell {cell_id!r} drawn", describe=lambda: cell.inner_text()[:300])

    # The last code cell, the player of the tour's recording: drawn with its prompt and player.
    drawn("player", ".k8stty-player")
    page.screenshot(path=str(ARTIFACTS / "demo-after-run-all.png"))
    # The progress bars of the evaluation fan-out and of both copies.
    bars = nb.panel.locator(".widget-hbox:has(.widget-hprogress)")
    texts = [(bars.nth(i).text_content() or "").replace("\u2007", " ") for i in range(bars.count())]
    assert len(texts) == 3, texts
    assert page.locator(POPUPS).count() == 0, page.locator(POPUPS).first.inner_text()
    # And at the top of the notebook, where a newcomer starts reading, and at the fan-out.
    drawn(ids[0])
    page.screenshot(path=str(ARTIFACTS / "demo-top.png"))
    assert page.locator(POPUPS).count() == 0
    drawn("fanout-eval-md")
    nb.cell(ids.index("fanout-eval-md")).evaluate("cell => cell.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(ARTIFACTS / "demo-fan-out.png"))
