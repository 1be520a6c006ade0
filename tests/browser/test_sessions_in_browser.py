"""Issue 15 in real JupyterLab and Chromium: auto-reconnect, a persistent shell across a
kernel restart, playback of a recording, and a snapshot rendered by ``jupyter nbconvert``.

The terminals use a sandbox of this module's own (its restart must reach no other test),
named with ``--kubeconfig``. Screenshots land in ``test-artifacts/``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator

import pytest

from jupyter_k8stty import sessions
from jupyter_k8stty.sandbox import Sandbox
from jupyter_k8stty.widget.recording import AsciicastWriter

from .lab import ARTIFACTS, CELL_TIMEOUT, KERNEL_READY_TIMEOUT, TERMINAL_TIMEOUT, UI_TIMEOUT, poll
from .test_terminal_in_browser import LOAD, wait_prompt

pytestmark = pytest.mark.browser

#: Seconds the sandbox is down: the default backoff tries at 0.5, 1.5 and 3.5 s.
DOWNTIME = 2.0


@pytest.fixture(scope="module")
def own() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


def magic(sb: Sandbox, extra: str = "") -> str:
    return f"%k8sexec demo --kubeconfig {sb.kubeconfig_path} --option screenReaderMode=true {extra}".strip()


def kernel_id(lab_server, name: str) -> str:
    (session,) = [s for s in lab_server.api("GET", "/api/sessions") if s["path"] == name]
    return session["kernel"]["id"]


def test_the_terminal_reconnects_by_itself_after_the_api_server_restarts(open_notebook, own):
    nb = open_notebook([LOAD, magic(own)])
    nb.run_and_wait(0)
    nb.run_and_wait(1)
    term = nb.terminal(1)
    term.wait_status("connected")
    wait_prompt(term)
    term.focus()
    term.type("echo before-$((6*7))\n")
    term.wait_for(r"^before-42$")

    restart = threading.Thread(target=own.restart, kwargs={"downtime": DOWNTIME}, daemon=True)
    restart.start()
    poll(lambda: re.search(r"reconnecting \(attempt \d+\)…", term.header_text()), TERMINAL_TIMEOUT,
         "the header saying it reconnects", describe=term.header_text)
    term.screenshot("15-reconnecting")
    restart.join(DOWNTIME + 10)
    term.wait_status("connected", timeout=TERMINAL_TIMEOUT + DOWNTIME)
    wait_prompt(term)
    term.focus()
    term.type("echo after-$((7*6))\n")
    term.wait_for(r"^after-42$")
    assert "reconnecting" not in term.header_text()
    term.screenshot("15-reconnected")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_a_persistent_shell_survives_a_kernel_restart(open_notebook, own, lab_server):
    name = f"b{uuid.uuid4().hex[:8]}"
    nb = open_notebook([LOAD, magic(own, f"--persist {name}")])
    try:
        nb.run_and_wait(0)
        nb.run_and_wait(1)
        term = nb.terminal(1)
        term.wait_status("connected")
        wait_prompt(term)
        term.focus()
        term.type("export MARK=kept-$((6*7)); sleep 900 &\n")
        wait_prompt(term)
        term.type("echo first $MARK\n")
        term.wait_for(r"^first kept-42$")

        notebook = nb.path.name
        old = kernel_id(lab_server, notebook)
        # Restarted elsewhere (as another tab or client does), in the same page: JupyterLab
        # keeps sending widget messages to the old kernel's subshell, which the kernel
        # side routes to its main shell (test_kernel_restart_in_browser.py).
        lab_server.api("POST", f"/api/kernels/{old}/restart")
        nb.wait_kernel_idle(lab_server, notebook, KERNEL_READY_TIMEOUT)
        nb.run_and_wait(0)
        nb.run_and_wait(1)
        term = nb.terminal(1)
        term.wait_status("connected")
        term.wait_for(r"^first kept-42$")  # the scrollback came back with the shell
        term.focus()
        term.type("echo again $MARK; jobs\n")
        term.wait_for(r"^again kept-42$")
        term.wait_for(r"sleep 900")
        term.screenshot("15-persistent-after-kernel-restart")
    finally:
        for found in sessions("demo", kubeconfig=own.kubeconfig_path):
            if found.label == name:
                found.end()


def test_a_recording_plays_back_with_play_seek_and_speed(open_notebook, lab_server):
    cast = lab_server.root_dir / "demo.cast"
    clock = [0.0]
    writer = AsciicastWriter(cast, width=60, height=8, title="default/demo", clock=lambda: clock[0])
    for second, text in enumerate(["$ echo one\r\n", "one\r\n", "\x1b[1;32mtwo in green\x1b[0m\r\n",
                                   "$ echo three\r\n", "three\r\n"], start=1):
        clock[0] = second * 0.4
        writer.output(text.encode())
    writer.close()

    nb = open_notebook(["from jupyter_k8stty import Player\nPlayer('demo.cast')"])
    nb.run_and_wait(0)
    root = nb.cell(0).locator(".k8stty-player")
    play = root.locator("[data-k8stty-action='play']")
    poll(lambda: play.is_enabled(), UI_TIMEOUT, "the recording loaded")
    assert root.get_attribute("data-state") == "paused"
    root.locator(".k8stty-player-speed").select_option("2")
    play.click()
    poll(lambda: root.get_attribute("data-state") == "ended", CELL_TIMEOUT, "the replay to end",
         describe=lambda: str(root.get_attribute("data-position")))

    def screen() -> str:
        return root.evaluate("""r => Array.from(r.querySelectorAll('.xterm-accessibility-tree > div'),
                                      d => d.textContent.replace(/\\u00a0/g, ' ').trimEnd()).join('\\n')""")

    # xterm.js writes and renders asynchronously: the last rows show a frame later.
    poll(lambda: re.search(r"^two in green$", screen(), re.M) and re.search(r"^three$", screen(), re.M),
         UI_TIMEOUT, "the whole recording on the screen", describe=screen)
    root.screenshot(path=str(ARTIFACTS / "15-player-ended.png"))
    # Seek back to 0.9 s: only what was written by then is on the screen.
    root.locator(".k8stty-player-seek").evaluate(
        "s => { s.value = '0.9'; s.dispatchEvent(new Event('input')); }")
    poll(lambda: "three" not in screen() and "one" in screen(), UI_TIMEOUT, "the screen at 0.9 s",
         describe=screen)
    assert "two in green" not in screen()
    root.screenshot(path=str(ARTIFACTS / "15-player-seek.png"))


def test_a_snapshot_is_saved_in_the_notebook_and_rendered_by_nbconvert(open_notebook, own, page, tmp_path):
    nb = open_notebook([LOAD, f"t = {magic(own)}\nt", "t.snapshot()"])
    nb.run_and_wait(0)
    nb.run_and_wait(1)
    term = nb.terminal(1)
    term.wait_status("connected")
    wait_prompt(term)
    term.focus()
    term.type(r"printf '\033[1;31mred alert\033[0m \033[42mgreen ground\033[0m\n'" + "\n")
    term.wait_for(r"^red alert green ground$")
    # The header action: the screen joins the terminal's own output.
    term.root.locator("[data-k8stty-action='snapshot']").click()
    # The output now holds the snapshot beside the widget view, which JupyterLab renders
    # anew (a new view, the same session).
    nb.terminal(1).wait_for(r"^red alert green ground$")
    # t.snapshot() in a later cell: the screen in that cell's outputs.
    nb.run_and_wait(2)
    poll(lambda: "red alert green ground" in nb.output_text(2), UI_TIMEOUT, "the snapshot in cell 2",
         describe=lambda: nb.output_text(2))
    nb.cell(2).screenshot(path=str(ARTIFACTS / "15-snapshot-cell.png"))

    saved = nb.save(must_contain="k8stty-snapshot")
    assert saved.read_text().count("k8stty-snapshot") >= 2  # both snapshots
    html = tmp_path / "snapshot.html"
    done = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--output",
                           str(html), str(saved)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rendered = html.read_text()
    assert rendered.count('class="k8stty-snapshot"') >= 2, "the snapshots are not in the HTML"
    page.goto(html.as_uri())
    shot = page.locator(".k8stty-snapshot").first
    shot.scroll_into_view_if_needed()
    assert "red alert" in shot.inner_text()
    red = shot.locator("span", has_text=re.compile(r"^red alert$")).first  # not the command line
    colour = red.evaluate("s => getComputedStyle(s).color")
    assert colour not in ("rgb(0, 0, 0)", ""), colour
    weight = red.evaluate("s => getComputedStyle(s).fontWeight")
    assert weight in ("bold", "700"), weight
    page.screenshot(path=str(ARTIFACTS / "15-snapshot-nbconvert.png"), full_page=True)
