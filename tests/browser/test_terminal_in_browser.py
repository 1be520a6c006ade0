"""The terminal widget in real JupyterLab and Chromium, against the sandbox cluster.

The terminal runs with ``screenReaderMode=true``: xterm.js then mirrors the screen in
``.xterm-accessibility-tree`` (one DOM row per terminal row), which the tests read.
Screenshots of the terminal land in ``test-artifacts/``.
"""

from __future__ import annotations

import re
import time

import pytest

from .lab import CELL_TIMEOUT, TERMINAL_TIMEOUT, Notebook, TerminalView, poll

pytestmark = pytest.mark.browser

LOAD = "%load_ext jupyter_k8stty"
MAGIC = "%k8sexec demo --option screenReaderMode=true"
#: A shell prompt at the end of the last non-blank screen line (bash: ``root@host:~#``).
PROMPT = r"[#$]$"
#: How long the busy cell sleeps while we type into the terminal.
SLEEP_SECONDS = 10
#: Pixels the resize handle is dragged down.
DRAG_PX = 200
NARROW_VIEWPORT = {"width": 900, "height": 900}


def start_terminal(open_notebook, *extra_cells: str) -> tuple[Notebook, TerminalView]:
    nb = open_notebook([LOAD, MAGIC, *extra_cells])
    nb.run_and_wait(0)
    nb.run_and_wait(1)
    term = nb.terminal(1)
    term.wait_status("connected")
    wait_prompt(term)
    return nb, term


def wait_prompt(term: TerminalView) -> None:
    def at_prompt() -> bool:
        lines = [line for line in term.lines() if line.strip()]
        return bool(lines) and re.search(PROMPT, lines[-1]) is not None

    poll(at_prompt, TERMINAL_TIMEOUT, "a shell prompt on the last line", describe=term.text)


def stty_size(term: TerminalView, tag: str) -> tuple[int, int]:
    """Ask the pod's TTY for its size; the tag keeps answers of several queries apart."""
    term.type(f"echo {tag} $(stty size)\n")
    match = term.wait_for(rf"^{tag} (\d+) (\d+)$")
    return int(match[1]), int(match[2])


def settled_box(locator, quiet: float = 0.3) -> dict:
    """The element's bounding box once it has not moved for ``quiet`` seconds.

    After a viewport change JupyterLab lays the notebook out again asynchronously; a
    drag started before that ends misses the resize handle.
    """
    last: dict | None = None
    since = time.monotonic()

    def stable() -> dict | None:
        nonlocal last, since
        box = locator.bounding_box()
        if box != last:
            last, since = box, time.monotonic()
            return None
        return box if box and time.monotonic() - since >= quiet else None

    return poll(stable, TERMINAL_TIMEOUT, "the terminal's layout to settle")


def test_shell_echo_resize_vim_and_exit_code(open_notebook):
    nb, term = start_terminal(open_notebook)
    page = nb.page
    term.focus()

    term.type("echo hello\n")
    term.wait_for(r"^hello$")
    wait_prompt(term)
    term.screenshot("01-echo-hello")

    # The pod's TTY starts with the size the browser fitted, shown by the screen's rows.
    rows0, cols0 = stty_size(term, "before")
    assert rows0 == len(term.lines()), term.text()

    # Narrower page: fewer columns. Dragging the resize handle: more rows.
    page.set_viewport_size(NARROW_VIEWPORT)
    box = settled_box(term.screen)
    corner_x, corner_y = box["x"] + box["width"] - 3, box["y"] + box["height"] - 3
    page.mouse.move(corner_x, corner_y)
    page.mouse.down()
    page.mouse.move(corner_x, corner_y + DRAG_PX, steps=10)
    page.mouse.up()
    poll(lambda: len(term.lines()) > rows0, TERMINAL_TIMEOUT, "more terminal rows after the drag",
         describe=lambda: f"{len(term.lines())} rows, screen box {term.screen.bounding_box()}")
    term.focus()
    rows1, cols1 = stty_size(term, "after")
    assert rows1 == len(term.lines()), term.text()
    assert rows1 > rows0, (rows0, rows1)
    assert cols1 < cols0, (cols0, cols1)
    term.screenshot("02-resized")

    term.type("vim\n")
    term.wait_for(r"^~$", count=3)  # vim marks the lines past the end of the buffer
    term.screenshot("03-vim")
    term.type(":q!\n")
    term.wait_gone(r"^~$")
    wait_prompt(term)
    term.type("echo back-$((6 * 7))\n")
    term.wait_for(r"^back-42$")

    term.type("exit 3\n")
    term.wait_status("exited")
    assert term.status_pill.inner_text().strip() == "exited 3"
    assert term.status_pill.get_attribute("data-exit") == "fail"
    term.screenshot("04-exit-3")


def test_notebook_shortcut_keys_go_to_the_pod(open_notebook):
    nb, term = start_terminal(open_notebook, "x = 'third cell'")
    term.focus()
    term.type("cat -v\n")
    cells_before = nb.cell_count()
    # Clicking an output puts the notebook in command mode, where a, b and d d insert
    # and delete cells: exactly when those keys must reach the terminal instead.
    assert nb.command_mode()

    for key in ("a", "b", "d", "d", "Escape"):
        nb.page.keyboard.press(key)
    # cat -v prints the line once the TTY gets Enter; the TTY's echo shows it too.
    assert term.has_focus(), "the terminal lost the keyboard focus"
    nb.page.keyboard.press("Enter")
    term.wait_for(r"^abdd\^\[$", count=2)
    assert nb.cell_count() == cells_before
    assert "third cell" in nb.cell(2).inner_text()

    nb.page.keyboard.press("Control+c")
    wait_prompt(term)
    term.type("echo still-here\n")
    term.wait_for(r"^still-here$")
    assert nb.cell_count() == cells_before


def test_keystrokes_flow_while_another_cell_runs(open_notebook):
    nb, term = start_terminal(open_notebook, f"import time\ntime.sleep({SLEEP_SECONDS})")
    nb.run_cell(2)
    started = time.monotonic()
    assert nb.running(2)

    term.focus()
    term.type("echo during\n")
    term.wait_for(r"^during$", timeout=SLEEP_SECONDS - 2)
    seen_after = time.monotonic() - started
    assert nb.running(2), f"the sleeping cell finished before 'during' showed ({seen_after:.1f} s)"
    nb.wait_cell_done(2, timeout=SLEEP_SECONDS + CELL_TIMEOUT)


#: Records every favicon JupyterLab shows: it switches to a "busy" icon while the kernel is busy.
WATCH_FAVICON = """() => {
  window.k8sttyIcons = [];
  const note = () => document.querySelectorAll('link[rel="icon"]').forEach(
    (link) => window.k8sttyIcons.push(link.getAttribute("href") || ""));
  new MutationObserver(note).observe(document.head, {subtree: true, childList: true, attributes: true});
}"""


def test_typing_does_not_flash_the_kernel_busy(open_notebook):
    # Each key is one comm message; a busy status for each used to flip the kernel
    # indicator and the tab's favicon on every keystroke.
    nb, term = start_terminal(open_notebook, "import time\ntime.sleep(1)")
    nb.page.evaluate(WATCH_FAVICON)
    term.focus()
    term.type("echo typed-$((20+3))\n")
    term.wait_for(r"^typed-23$")
    wait_prompt(term)
    time.sleep(1)  # an acknowledgement of the echo leaves up to half a second later
    icons = nb.page.evaluate("window.k8sttyIcons")
    assert not [icon for icon in icons if "busy" in icon], icons
    # The probe sees a busy kernel: a cell that sleeps shows the busy favicon.
    nb.run_and_wait(2)
    icons = nb.page.evaluate("window.k8sttyIcons")
    assert [icon for icon in icons if "busy" in icon], icons


@pytest.fixture
def comms_without_subshells(lab_server):
    """JupyterLab sending widget messages on the main shell channel, as before kernel subshells."""
    plugin = "@jupyterlab/apputils-extension:kernels-settings"
    lab_server.set_lab_settings(plugin, {"commsOverSubshells": "disabled"})
    yield
    lab_server.set_lab_settings(plugin, {})


def test_without_subshells_keystrokes_wait_for_the_busy_cell(comms_without_subshells, open_notebook):
    """The control for the test above: it is the subshell that lets keystrokes through.

    Without it the input queues behind the running cell, and still arrives afterwards.
    """
    nb, term = start_terminal(open_notebook, f"import time\ntime.sleep({SLEEP_SECONDS})\nprint('slept')")
    nb.run_cell(2)
    term.focus()
    term.type("echo queued\n")
    seen_while_busy = False

    def cell_done() -> bool:
        # The cell's "slept" leaves on IOPub before the kernel even reads the queued keys,
        # so output shown before it got past the busy cell. (The [*] prompt is not the
        # signal: it changes with the execute reply, which the browser may see after the
        # output that the next message already produced.)
        nonlocal seen_while_busy
        queued = re.search(r"^queued$", term.text(), re.MULTILINE) is not None
        if queued and "slept" not in nb.output_text(2):
            seen_while_busy = True
        return not nb.running(2)

    poll(cell_done, SLEEP_SECONDS + CELL_TIMEOUT, "the sleeping cell finished")
    assert not seen_while_busy, "keystrokes passed a busy kernel without a subshell"
    term.wait_for(r"^queued$")
