"""Issue 11 in real JupyterLab and Chromium: the Debug action on a distroless pod, read-only attach.

The pods live in a sandbox of their own (the shared one is not reshaped); the magic points
at it with ``--kubeconfig``. Screenshots land in ``test-artifacts/issue11-*.png``.
"""

from __future__ import annotations

import re

import pytest

from jupyter_k8stty.sandbox import PodSpec
from jupyter_k8stty.sandbox.testing import api_request

from .lab import TERMINAL_TIMEOUT, UI_TIMEOUT, TerminalView, poll

pytestmark = pytest.mark.browser

LOAD = "%load_ext jupyter_k8stty"
DISTROLESS = PodSpec("model", images={"main": "gcr.io/distroless/python3-debian12"})
TICKER = PodSpec("ticker", commands={"main": ("sh", "-c", "while true; do echo tick; sleep 0.5; done")},
                 tty=("main",))
#: Seconds the sandbox keeps a new debug container in ContainerCreating: long enough to
#: see the header say what it starts.
START_DELAY = 1.5
PROMPT = r"[#$]\s*$"


@pytest.fixture
def pods(k8s_sandbox_factory):
    return k8s_sandbox_factory(pods=[DISTROLESS, TICKER], container_start_delay=START_DELAY)


def ephemeral_names(sandbox, pod: str) -> list[str]:
    code, body = api_request(sandbox, "GET", f"/api/v1/namespaces/default/pods/{pod}")
    assert code == 200, body
    return [c["name"] for c in body["spec"].get("ephemeralContainers", [])]


def title(term: TerminalView) -> str:
    return term.root.locator(".k8stty-header .k8stty-title").inner_text()


def wait_prompt(term: TerminalView) -> None:
    def at_prompt() -> bool:
        lines = [line for line in term.lines() if line.strip()]
        return bool(lines) and re.search(PROMPT, lines[-1]) is not None

    poll(at_prompt, TERMINAL_TIMEOUT, "a shell prompt on the last line", describe=term.text)


def test_debug_action_on_a_distroless_pod_opens_a_shell(open_notebook, pods):
    nb = open_notebook([LOAD, f"%k8sexec model --kubeconfig {pods.kubeconfig_path} "
                              "--option screenReaderMode=true"])
    nb.run_and_wait(0)
    nb.run_and_wait(1)
    term = nb.terminal(1)
    term.wait_status("error")
    detail = term.root.locator(".k8stty-header .k8stty-detail")
    assert "the container has no shell" in (detail.get_attribute("title") or "")
    action = term.root.locator('.k8stty-header [data-k8stty-action="debug"]')
    poll(action.is_visible, UI_TIMEOUT, "the Debug action")
    assert action.evaluate("b => b.tagName") == "BUTTON"
    assert action.get_attribute("aria-label") == "Debug" and action.inner_text().strip() == "Debug"
    term.screenshot("issue11-1-no-shell-debug-offered")

    # Asked first; Cancel adds nothing.
    confirm = term.root.locator(".k8stty-debug-confirm")
    action.click()
    poll(confirm.is_visible, UI_TIMEOUT, "the confirmation")
    text = confirm.inner_text()
    # the pod as the title names it: "model", or "default/model" once the namespace is known
    assert re.search(r"Add an ephemeral debug container \(busybox\) to pod (default/)?model ", text), text
    assert "Ephemeral containers cannot be removed from a pod" in text, text
    term.screenshot("issue11-2-confirmation")
    term.root.locator('[data-k8stty-action="debug-cancel"]').click()
    poll(lambda: not confirm.is_visible(), UI_TIMEOUT, "the confirmation gone")
    assert ephemeral_names(pods, "model") == [] and term.status() == "error"

    action.click()
    term.root.locator('[data-k8stty-action="debug-confirm"]').click()
    poll(lambda: title(term).startswith("starting debug container debugger-"), TERMINAL_TIMEOUT,
         "the header saying what starts", describe=lambda: title(term))
    assert re.fullmatch(r"starting debug container debugger-[a-z0-9]{5} \(busybox\)", title(term))
    term.screenshot("issue11-3-starting-debug-container")
    term.wait_status("connected")
    [name] = ephemeral_names(pods, "model")
    assert title(term) == f"default/model [{name}]"
    assert not action.is_visible()

    # Attached to a shell that printed its prompt before we joined (kubectl says "If you
    # don't see a command prompt, try pressing enter"): Enter shows one.
    term.focus()
    term.type("\n")
    wait_prompt(term)
    term.type("echo hi\n")
    term.wait_for(r"^hi$")
    term.screenshot("issue11-4-debug-shell-echo-hi")


def test_read_only_attach_says_so_and_sends_no_keys(open_notebook, pods):
    nb = open_notebook([LOAD, f"%k8sexec ticker --attach --kubeconfig {pods.kubeconfig_path} "
                              "--option screenReaderMode=true"])
    nb.run_and_wait(0)
    nb.run_and_wait(1)
    term = nb.terminal(1)
    term.wait_status("connected")
    badge = term.root.locator('.k8stty-header [data-k8stty-mode="read-only"]')
    poll(badge.is_visible, UI_TIMEOUT, "the read-only badge")
    term.wait_for(r"^tick$", count=2)
    term.wait_for(r"this terminal is read-only")
    term.focus()
    term.type("echo typed-here\n")
    term.wait_for(r"^tick$", count=4)  # time passes; the keys went nowhere
    assert "typed-here" not in term.text()
    term.screenshot("issue11-5-read-only-attach")
