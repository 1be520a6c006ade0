"""The terminal in ``marimo edit``, through ``mo.ui.anywidget``: render, echo, a busy cell, styles.

marimo runs from its own venv (``requirements/marimo.txt``) on a free port, with no
token, cells run on open (``runtime.auto_instantiate``). marimo renders each
anywidget in an open shadow root: Playwright's CSS locators pierce it, but
``document.activeElement`` is the host, so focus is checked through the root node.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ..browser.lab import (
    CELL_TIMEOUT,
    KERNEL_READY_TIMEOUT,
    LAB_START_TIMEOUT,
    LAB_STOP_TIMEOUT,
    TERMINAL_TIMEOUT,
    TerminalView,
    free_port,
    poll,
)
from ..browser.test_terminal_in_browser import PROMPT
from .conftest import ENABLED, SKIP_REASON, ready_env
from .envs import ENVS

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not ENABLED, reason=SKIP_REASON)]

#: How long the busy cell sleeps while we type into the terminal.
SLEEP_SECONDS = 8
#: An echo this many seconds before the sleep could end came while the cell ran.
BUSY_MARGIN = 1.5
#: The header's notice where keys wait for the running cell (js/src/keys_wait.js).
KEYS_WAIT = "keys wait for the running cell"
#: An echo this many seconds before the sleep could end came while the cell ran.
BUSY_MARGIN = 1.5
#: The header's notice where keys wait for the running cell (js/src/keys_wait.js).
KEYS_WAIT = "keys wait for the running cell"

NOTEBOOK = f'''
import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo
    from jupyter_k8stty import Terminal

    term = mo.ui.anywidget(Terminal("demo", options={{"screenReaderMode": True}}))
    term
    return (mo,)


@app.cell
def _(mo):
    sleep = mo.ui.run_button(label="sleep")
    sleep
    return (sleep,)


@app.cell
def _(mo, sleep):
    import time

    mo.stop(not sleep.value, mo.md("idle"))
    time.sleep({SLEEP_SECONDS})
    mo.md("slept")
    return
'''


@contextmanager
def run_marimo(notebook: Path, env: dict[str, str], log_path: Path) -> Iterator[str]:
    """``marimo edit NOTEBOOK`` on a free loopback port with no token; yields its URL."""
    port = free_port()
    argv = [str(ENVS["marimo"].bin / "marimo"), "edit", str(notebook), "--headless", "--host", "127.0.0.1",
            "--port", str(port), "--no-token", "--skip-update-check", "--no-sandbox"]
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, env=env, cwd=notebook.parent, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT)

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"marimo exited with {proc.returncode}; see {log_path}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False

        try:
            poll(up, LAB_START_TIMEOUT, "marimo answering /health", interval=0.25)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(LAB_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def marimo_url(kubeconfig: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    ready_env(ENVS["marimo"])
    home = tmp_path_factory.mktemp("marimo-home")
    (home / ".config" / "marimo").mkdir(parents=True)
    # Run the cells when the notebook opens, as `marimo run` would.
    (home / ".config" / "marimo" / "marimo.toml").write_text("[runtime]\nauto_instantiate = true\n")
    env = {**os.environ, "KUBECONFIG": kubeconfig, "HOME": str(home),
           "XDG_CONFIG_HOME": str(home / ".config"),
           "PATH": f"{ENVS['marimo'].bin}{os.pathsep}{os.environ.get('PATH', '')}"}
    notebook = tmp_path_factory.mktemp("marimo") / "terminal.py"
    notebook.write_text(NOTEBOOK)
    with run_marimo(notebook, env, tmp_path_factory.getbasetemp() / "marimo.log") as url:
        yield url


@pytest.fixture
def terminal(marimo_url: str, page) -> TerminalView:
    page.goto(marimo_url)
    term = TerminalView(page, page.locator(".k8stty").first)
    # The first open starts marimo's kernel, which imports (and byte-compiles) everything.
    term.root.wait_for(timeout=KERNEL_READY_TIMEOUT * 1000)
    term.wait_status("connected", timeout=CELL_TIMEOUT)
    term.wait_for(PROMPT)
    return term


def focus(term: TerminalView) -> None:
    """Click into the terminal; its focus is inside marimo's shadow root."""
    term.screen.click()
    poll(lambda: term.root.evaluate("r => r.contains(r.getRootNode().activeElement)"), TERMINAL_TIMEOUT,
         "keyboard focus in the terminal")


def test_terminal_renders_echoes_and_keys_wait_for_a_busy_cell(terminal: TerminalView):
    term, page = terminal, terminal.page
    focus(term)
    term.type("echo hello-$((6 * 7))\n")
    term.wait_for(r"^hello-42$")
    term.screenshot("compat-marimo-01-echo")

    # marimo handles a widget's messages between cells: keys wait for the busy cell.
    page.get_by_role("button", name="sleep").click()
    started = time.monotonic()
    focus(term)
    term.type("echo during\n")
    slept = page.get_by_text("slept", exact=True)
    seen_at: float | None = None

    notice = term.root.locator(".k8stty-header .k8stty-keys-wait")
    notice_text = "r => r.querySelector('.k8stty-header .k8stty-keys-wait')?.textContent ?? null"
    noticed = False

    def cell_done() -> bool:
        nonlocal seen_at, noticed
        noticed = noticed or term.root.evaluate(notice_text) == KEYS_WAIT
        if seen_at is None and re.search(r"^during$", term.text(), re.MULTILINE):
            seen_at = time.monotonic() - started
        return slept.count() > 0

    poll(cell_done, SLEEP_SECONDS + CELL_TIMEOUT, "the sleeping cell's output")
    # Output the pod sends with no key typed can wait in marimo until the next message
    # from the browser (seen here 1 time in 3): the next key brings it, in order.
    term.type("echo after\n")
    term.wait_for(r"^during$\n(?:.*\n)*?^after$")
    term.screenshot("compat-marimo-02-after-busy-cell")
    assert noticed, "no 'keys wait for the running cell' in the header while the cell ran"
    poll(lambda: notice.count() == 0, TERMINAL_TIMEOUT, "the keys-wait notice gone")
    # The cell cannot end before SLEEP_SECONDS: an echo well before came while it ran.
    assert seen_at is None or seen_at >= SLEEP_SECONDS - BUSY_MARGIN, f"keys passed the cell ({seen_at} s)"


def test_styles_reach_the_view_in_its_shadow_root(terminal: TerminalView):
    header = terminal.root.locator(".k8stty-header")
    assert header.evaluate("h => getComputedStyle(h).display") == "flex"
