"""A kernel restart in the same page: a new terminal works without reloading the page.

JupyterLab keeps the page, its widget manager and the loader's bundle cache across a
restart, while the kernel, its comms and its subshells are new. The terminal opened
after the restart must get its output to the screen and its keys and size to the pod.

Two restarts: from the notebook's toolbar (the page's own kernel connection restarts the
kernel, and JupyterLab forgets the old kernel's comm subshells), and through the REST
API, as another tab, a console or another client does (JupyterLab keeps sending comm
messages to the old kernel's subshell; see ``keep_frontend_routing`` in
``jupyter_k8stty/widget/comm_routing.py``).
"""

from __future__ import annotations

import pytest

from .lab import CELL_TIMEOUT, KERNEL_READY_TIMEOUT, UI_TIMEOUT, poll
from .test_terminal_in_browser import start_terminal, stty_size, wait_prompt

pytestmark = pytest.mark.browser


def kernel_id(lab_server, name: str) -> str:
    (session,) = [s for s in lab_server.api("GET", "/api/sessions") if s["path"] == name]
    return session["kernel"]["id"]


def restart_from_the_toolbar(nb) -> None:
    """Restart the kernel as a user does: the toolbar's restart button, then "Restart"."""
    nb.panel.locator(".jp-Toolbar [data-command='notebook:restart-kernel']").click()
    dialog = nb.page.locator(".jp-Dialog")
    dialog.locator(".jp-mod-accept").click()
    poll(lambda: dialog.count() == 0, UI_TIMEOUT, "the restart dialog closed")


@pytest.mark.parametrize("how", ["toolbar", "api"])
def test_a_new_terminal_works_after_a_kernel_restart_in_the_same_page(open_notebook, lab_server, how):
    nb, term = start_terminal(open_notebook)
    term.focus()
    term.type("echo one\n")
    term.wait_for(r"^one$")
    size_before = stty_size(term, "before")
    notebook = nb.path.name
    nb.page.evaluate("() => { window.__k8sttySamePage = true; }")  # gone if the page reloads
    before = kernel_id(lab_server, notebook)

    if how == "toolbar":
        restart_from_the_toolbar(nb)
    else:
        lab_server.api("POST", f"/api/kernels/{before}/restart")
    # Same kernel id, new process: wait for its first idle (no cell has run in it yet).
    poll(lambda: nb.panel.locator(".jp-Notebook-ExecutionIndicator").get_attribute("data-status")
         == "idle", KERNEL_READY_TIMEOUT, "the restarted kernel idle")
    assert kernel_id(lab_server, notebook) == before

    nb.run_and_wait(0)
    assert nb.prompt(0) == "[1]:", "the cell did not run in a fresh kernel"
    nb.run_and_wait(1, timeout=CELL_TIMEOUT)
    assert nb.page.evaluate("() => window.__k8sttySamePage === true"), "the page was reloaded"
    term = nb.terminal(1)
    term.wait_status("connected")
    wait_prompt(term)  # output of the new session reached the view
    term.focus()
    term.type("echo two\n")
    term.wait_for(r"^two$")  # keys reached the new kernel
    rows, cols = stty_size(term, "after")
    assert rows == len(term.lines()), term.text()  # the kernel learned the fitted size
    assert (rows, cols) == size_before  # same page, same fit
    term.screenshot(f"restart-new-terminal-after-{how}-restart")

