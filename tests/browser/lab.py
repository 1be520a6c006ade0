"""Driving real JupyterLab in Chromium: notebooks, cells and the terminal widget.

Every wait polls with a deadline (Playwright's own auto-waiting, or :func:`poll`); no
test synchronises with a bare sleep.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import nbformat
from playwright.sync_api import Locator, Page

#: Chromium flags for a headless browser that talks to nothing but the test server.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

#: Seconds JupyterLab may take to answer its REST API after starting.
LAB_START_TIMEOUT = 90.0
#: Seconds JupyterLab gets to stop after SIGTERM.
LAB_STOP_TIMEOUT = 20.0
#: Seconds for the notebook page to load and its kernel to become idle.
KERNEL_READY_TIMEOUT = 60.0
#: Seconds a short cell may take (import, magic, widget display).
CELL_TIMEOUT = 30.0
#: Seconds for the terminal to connect and for one interactive echo to show up.
TERMINAL_TIMEOUT = 15.0
#: Seconds to wait for DOM changes that follow a click or a keystroke.
UI_TIMEOUT = 10.0
#: Interval between two polls.
POLL_INTERVAL = 0.05

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
#: A code cell's editor: CodeMirror 6 (JupyterLab 4, Notebook 7), or 5 (JupyterLab 3).
CELL_EDITOR = ".jp-InputArea-editor .cm-content, .jp-InputArea-editor .CodeMirror"
#: Front-end extensions the terminal widget needs.
REQUIRED_EXTENSIONS = ("@jupyter-widgets/jupyterlab-manager", "anywidget")

T = TypeVar("T")


def poll(fn: Callable[[], T], timeout: float, what: str, interval: float = POLL_INTERVAL,
         describe: Callable[[], str] | None = None) -> T:
    """Call ``fn`` until it returns something truthy; return that, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = f"\n{describe()}" if describe else ""
            raise AssertionError(f"{what}: not seen within {timeout:g} s{detail}")
        time.sleep(interval)


@dataclass
class LabServer:
    """A running JupyterLab server started by the ``lab_server`` fixture."""

    url: str
    token: str
    root_dir: Path
    process: subprocess.Popen
    #: Where a notebook opens: ``lab/tree`` (JupyterLab) or ``notebooks`` (Notebook 7).
    notebook_path: str = "lab/tree"

    def notebook_url(self, name: str) -> str:
        """The page of the notebook file ``name`` (relative to the root), with the token.

        In JupyterLab, ``reset`` starts from an empty workspace: without it the page restores
        the notebooks an earlier test left open, with their dialogs (a kernel to select).
        """
        reset = "reset&" if self.notebook_path == "lab/tree" else ""
        return f"{self.url}/{self.notebook_path}/{name}?{reset}token={self.token}"

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the Jupyter REST API; return the decoded JSON (or ``None``)."""
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"},
            data=None if body is None else json.dumps(body).encode(),
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def set_lab_settings(self, plugin: str, settings: dict[str, Any]) -> None:
        """Replace the user settings of a JupyterLab plugin (pages opened afterwards use them)."""
        self.api("PUT", f"/lab/api/settings/{plugin}", {"raw": json.dumps(settings)})

    def shutdown_kernels(self) -> None:
        """Delete every session (which shuts its kernel down)."""
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")


def write_notebook(path: Path, cells: Sequence[str]) -> Path:
    """Write a Python notebook with one code cell per string."""
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in cells],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}},
    )
    nbformat.write(nb, path)
    return path


def labextensions(env: dict[str, str], python: str = sys.executable) -> str:
    """Output of ``jupyter labextension list`` in ``env``, run by ``python``."""
    done = subprocess.run([python, "-m", "jupyterlab.labextensions", "list"], env=env,
                          capture_output=True, text=True, timeout=120)
    return done.stdout + done.stderr


def jupyter_env(home: Path, kubeconfig: str) -> dict[str, str]:
    """A Jupyter server's environment: isolated config/data/runtime dirs under ``home``.

    ``KUBECONFIG`` is the sandbox's. Extensions still come from the server's venv
    (``sys.prefix/share/jupyter``), which is on the Jupyter path whatever
    ``JUPYTER_DATA_DIR`` says.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY_"))}
    env.update(
        KUBECONFIG=kubeconfig,
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTER_PLATFORM_DIRS="1",
        IPYTHONDIR=str(home / "ipython"),
    )
    config = home / "config"
    (config / "labconfig").mkdir(parents=True)
    # No network: no news feed, no update check, no "receive news?" toast.
    (config / "jupyter_server_config.json").write_text(json.dumps({
        "LabApp": {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"},
        "LanguageServerManager": {"autodetect": False},
    }))
    (config / "labconfig" / "page_config.json").write_text(json.dumps({
        "disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True},
    }))
    return env


def check_extensions(env: dict[str, str], python: str = sys.executable) -> None:
    """Fail unless the widget extensions are installed and enabled for ``python``'s server."""
    listing = re.sub(r"\x1b\[[0-9;]*m", "", labextensions(env, python))
    enabled = [line for line in listing.splitlines() if "enabled" in line and "OK" in line]
    missing = [name for name in REQUIRED_EXTENSIONS if not any(name in line for line in enabled)]
    assert not missing, f"JupyterLab extensions missing or disabled: {missing}\n{listing}"


class Notebook:
    """An open notebook in JupyterLab."""

    def __init__(self, page: Page, path: Path | None = None):
        self.page = page
        #: The notebook file on the server's disk, when known.
        self.path = path
        self.panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first
        self.cells = self.panel.locator(".jp-Notebook .jp-Cell")

    def cell(self, index: int) -> Locator:
        return self.cells.nth(index)

    def cell_count(self) -> int:
        return self.cells.count()

    def command_mode(self) -> bool:
        """Whether the notebook is in command mode (where single keys are shortcuts)."""
        return "jp-mod-commandMode" in (self.panel.locator(".jp-Notebook").get_attribute("class") or "")

    def wait_kernel_idle(self, server: LabServer, path: str, timeout: float = KERNEL_READY_TIMEOUT) -> None:
        """Wait until the server runs a kernel for ``path`` and the page shows it idle.

        The page's indicator says "idle" once before it even asked for a kernel, so the
        server's session list is checked first.
        """

        def kernel_started() -> bool:
            return any(s.get("path") == path and s.get("kernel") for s in server.api("GET", "/api/sessions"))

        poll(kernel_started, timeout, f"a kernel for {path}")
        indicator = self.panel.locator(".jp-Notebook-ExecutionIndicator")
        poll(lambda: indicator.get_attribute("data-status") == "idle", timeout, "kernel idle",
             describe=lambda: f"indicator status: {indicator.get_attribute('data-status')!r}")

    def prompt(self, index: int) -> str:
        """The cell's input prompt text, e.g. ``[3]:``, ``[*]:`` or ``[ ]:``."""
        return self.cell(index).locator(".jp-InputPrompt").inner_text().strip()

    def run_cell(self, index: int) -> None:
        """Put the cursor in the cell's editor and press Shift+Enter, as a user does."""
        cell = self.cell(index)
        cell.scroll_into_view_if_needed()
        cell.locator(CELL_EDITOR).click()
        poll(lambda: "jp-mod-active" in (cell.get_attribute("class") or ""), UI_TIMEOUT,
             f"cell {index} active")
        self.page.keyboard.press("Shift+Enter")
        # The prompt turns into [*] (queued/running) or straight into [n] when fast.
        poll(lambda: re.fullmatch(r"\[(\*|\d+)\]:", self.prompt(index)), UI_TIMEOUT,
             f"cell {index} started", describe=lambda: f"prompt: {self.prompt(index)!r}")

    def running(self, index: int) -> bool:
        return self.prompt(index) == "[*]:"

    def wait_cell_done(self, index: int, timeout: float = CELL_TIMEOUT) -> None:
        poll(lambda: re.fullmatch(r"\[\d+\]:", self.prompt(index)), timeout, f"cell {index} finished",
             describe=lambda: f"prompt: {self.prompt(index)!r}; output: {self.output_text(index)!r}")

    def run_and_wait(self, index: int, timeout: float = CELL_TIMEOUT) -> None:
        self.run_cell(index)
        self.wait_cell_done(index, timeout)
        errors = self.cell(index).locator(".jp-OutputArea-output[data-mime-type*='error']")
        assert errors.count() == 0, f"cell {index} raised:\n{self.output_text(index)}"

    def output_text(self, index: int) -> str:
        outputs = self.cell(index).locator(".jp-OutputArea")
        return outputs.inner_text() if outputs.count() else ""

    def terminal(self, index: int, nth: int = 0) -> TerminalView:
        """The ``nth`` terminal widget in the outputs of cell ``index``."""
        return TerminalView(self.page, self.cell(index).locator(".k8stty").nth(nth))

    def save(self, must_contain: str = "", timeout: float = CELL_TIMEOUT) -> Path:
        """Save with Ctrl+S from command mode (never from a terminal, which would get Ctrl+S).

        Waits until the file on disk holds ``must_contain``; returns its path.
        """
        assert self.path is not None, "the notebook's path is not known"
        before = self.path.stat().st_mtime_ns
        self.cell(0).locator(CELL_EDITOR).click()
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("Control+s")
        poll(lambda: self.path.stat().st_mtime_ns != before and must_contain in self.path.read_text(),
             timeout, f"{self.path.name} saved")
        return self.path


class TerminalView:
    """The terminal widget under a cell, read through xterm's accessibility tree.

    The magic must run with ``--option screenReaderMode=true``: xterm.js then keeps one
    DOM row per screen line in ``.xterm-accessibility-tree``, whatever renderer draws it.
    """

    def __init__(self, page: Page, root: Locator):
        self.page = page
        self.root = root
        self.screen = root.locator(".k8stty-screen")
        self.status_pill = root.locator(".k8stty-header .k8stty-status")

    def status(self) -> str | None:
        return self.status_pill.get_attribute("data-status")

    def wait_status(self, status: str, timeout: float = TERMINAL_TIMEOUT) -> None:
        poll(lambda: self.status() == status, timeout, f"terminal status {status!r}",
             describe=lambda: f"status {self.status()!r}, header {self.header_text()!r}")

    def header_text(self) -> str:
        return self.root.locator(".k8stty-header").inner_text()

    def lines(self) -> list[str]:
        """The screen's rows, as xterm.js's accessibility tree shows them (trailing blanks cut)."""
        return self.root.evaluate(
            """root => Array.from(
                   root.querySelectorAll('.xterm-accessibility-tree > div'),
                   row => row.textContent.replace(/\\u00a0/g, ' ').replace(/\\s+$/, ''))"""
        )

    def text(self) -> str:
        return "\n".join(self.lines())

    def wait_for(self, pattern: str, timeout: float = TERMINAL_TIMEOUT, count: int = 1) -> re.Match:
        """Wait until ``pattern`` (a regex, multiline) matches the screen ``count`` times; return the last."""
        regex = re.compile(pattern, re.MULTILINE)

        def found() -> re.Match | None:
            matches = list(regex.finditer(self.text()))
            return matches[-1] if len(matches) >= count else None

        return poll(found, timeout, f"{pattern!r} on the terminal screen", describe=self.text)

    def wait_gone(self, pattern: str, timeout: float = TERMINAL_TIMEOUT) -> None:
        regex = re.compile(pattern, re.MULTILINE)
        poll(lambda: not regex.search(self.text()), timeout, f"{pattern!r} gone from the screen",
             describe=self.text)

    def focus(self) -> None:
        """Click into the terminal, as a user does before typing."""
        self.screen.scroll_into_view_if_needed()
        self.screen.click()
        poll(self.has_focus, UI_TIMEOUT, "keyboard focus in the terminal", describe=self.focused_element)

    def focused_element(self) -> str:
        """Where the keyboard focus is, for a failure's message."""
        return "focus on " + self.page.evaluate(
            """() => { const e = document.activeElement; if (!e) return 'nothing';
                       let path = []; for (let n = e; n && path.length < 6; n = n.parentElement)
                         path.push(n.tagName.toLowerCase() + (n.className && typeof n.className === 'string'
                                   ? '.' + n.className.trim().split(/\\s+/).join('.') : ''));
                       return path.join(' < '); }"""
        )

    def has_focus(self) -> bool:
        return self.root.evaluate(
            "root => document.activeElement !== null && root.contains(document.activeElement)"
        )

    def type(self, text: str) -> None:
        """Type ``text`` key by key into the focused terminal (``\\n`` presses Enter)."""
        for part in re.split(r"(\n)", text):
            if part == "\n":
                self.page.keyboard.press("Enter")
            elif part:
                self.page.keyboard.type(part)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.root.screenshot(path=str(path))
        return path


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def run_lab(env: dict[str, str], root: Path, log_path: Path, *, python: str = sys.executable,
            app: str = "jupyterlab") -> Iterator[LabServer]:
    """Run JupyterLab on a free loopback port with a random token, serving ``root``.

    ``python -m app`` starts it: another venv's Python, or ``app="notebook"`` for Notebook 7.
    """
    token = secrets.token_hex(16)
    port = free_port()
    argv = [
        python, "-m", app, "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}",
    ]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    log = open(log_path, "wb")
    proc = subprocess.Popen(argv, env={**env, "JUPYTER_TOKEN": token}, cwd=root,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    server = LabServer(url=f"http://127.0.0.1:{port}", token=token, root_dir=root, process=proc,
                       notebook_path="notebooks" if app == "notebook" else "lab/tree")

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {proc.returncode}; see {log.name}")
        try:
            with urllib.request.urlopen(f"{server.url}/api/status?token={token}", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    try:
        poll(up, LAB_START_TIMEOUT, "JupyterLab answering /api/status", interval=0.25)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(LAB_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
