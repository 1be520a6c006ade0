"""Links, the title and the clipboard against hostile output from the pod, in JupyterLab and Chromium.

The pod prints its escape sequences from base64 (``echo ... | base64 -d``), so the
command line on the screen does not contain the texts the tests point at.
"""

from __future__ import annotations

import base64

import pytest

from .features import TERMINAL_CELL, locate, open_terminal
from .lab import UI_TIMEOUT, poll
from .test_terminal_in_browser import wait_prompt

pytestmark = pytest.mark.browser

HOSTILE = (
    b"plain https://example.com/ok?a=1 then javascript:alert(1) and data:text/html,hi\r\n"
    b"\x1b]8;;javascript:alert(document.domain)\x1b\\js-link\x1b]8;;\x1b\\\r\n"
    b"\x1b]8;;data:text/html,<script>alert(1)</script>\x1b\\data-link\x1b]8;;\x1b\\\r\n"
    b"\x1b]8;;file:///etc/passwd\x1b\\file-link\x1b]8;;\x1b\\\r\n"
    b"\x1b]8;;https://example.org/osc8?x=<b>\x1b\\safe-link\x1b]8;;\x1b\\\r\n"
    b"\x1b]0;<img src=x onerror=window.__pwned=1>\x07"
)
STUB_OPEN = """() => {
    window.__opened = [];
    window.open = (...args) => { window.__opened.push(args); return null; };
}"""


def pod_prints(term, data: bytes) -> None:
    term.type(f"echo {base64.b64encode(data).decode()} | base64 -d\n")


def hover_and_click(page, term, text: str) -> str | None:
    """Point at ``text``, return the link target shown (``None`` if none), then click it."""
    spot = locate(term, text)
    page.mouse.move(spot["x"] - 30, spot["y"] - 30)
    page.mouse.move(spot["x"], spot["y"], steps=3)
    tip = term.root.locator(".k8stty-link-target")
    try:
        poll(tip.is_visible, 1.5, f"the target of {text!r}")
        shown = tip.inner_text()
    except AssertionError:
        shown = None
    page.mouse.click(spot["x"], spot["y"])
    return shown


def test_only_http_links_open_after_hover_and_the_title_is_text(open_notebook):
    nb, term = open_terminal(open_notebook)
    page = nb.page
    page.evaluate(STUB_OPEN)
    term.focus()
    pod_prints(term, HOSTILE)
    term.wait_for(r"^safe-link$")
    wait_prompt(term)

    opened = lambda: page.evaluate("() => window.__opened")  # noqa: E731
    for text in ("js-link", "data-link", "file-link", "javascript:alert(1)", "data:text/html,hi"):
        assert hover_and_click(page, term, text) is None, text
    assert opened() == []

    assert hover_and_click(page, term, "example.com") == "https://example.com/ok?a=1"
    poll(lambda: len(opened()) == 1, UI_TIMEOUT, "the plain URL opened")
    assert opened()[0] == ["https://example.com/ok?a=1", "_blank", "noopener,noreferrer"]
    shown = hover_and_click(page, term, "safe-link")
    assert shown == "https://example.org/osc8?x=%3Cb%3E", shown
    poll(lambda: len(opened()) == 2, UI_TIMEOUT, "the OSC 8 link opened")
    assert opened()[1] == ["https://example.org/osc8?x=%3Cb%3E", "_blank", "noopener,noreferrer"]
    spot = locate(term, "safe-link")
    page.mouse.move(spot["x"], spot["y"])
    poll(lambda: term.root.locator(".k8stty-link-target").is_visible(), UI_TIMEOUT, "the target shown")
    term.screenshot("17-link-target-on-hover")

    # The title: text in the header, never markup.
    title = term.root.locator(".k8stty-header .k8stty-osc-title")
    poll(lambda: title.is_visible() and title.inner_text(), UI_TIMEOUT, "the title in the header")
    assert title.inner_text() == "<img src=x onerror=window.__pwned=1>"
    assert term.root.locator(".k8stty-header img").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    # Bidirectional overrides would make "exe.png" read as "gnp.exe": they are dropped.
    pod_prints(term, "\x1b]2;\u202egnp.exe \u200fok\x07".encode())
    poll(lambda: title.inner_text() == "gnp.exe ok", UI_TIMEOUT, "the title cleaned",
         describe=title.inner_text)
    term.screenshot("18-title-as-text")


def test_clipboard_keys_menu_and_osc52(open_notebook, lab_server):
    allowing = "t2 = Terminal('demo', options={'screenReaderMode': True, 'clipboardWrite': True})\nt2"
    nb = open_notebook([TERMINAL_CELL.format(extra=""), allowing])
    page = nb.page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab_server.url)
    nb.run_and_wait(0)
    term = nb.terminal(0)
    term.wait_status("connected")
    wait_prompt(term)
    clipboard = lambda: page.evaluate("() => navigator.clipboard.readText()")  # noqa: E731

    term.focus()
    term.type("echo copy-me-$((40+2))\n")
    term.wait_for(r"^copy-me-42$")
    wait_prompt(term)
    spot = locate(term, "copy-me-42")
    page.mouse.dblclick(spot["x"], spot["y"])
    poll(lambda: term.root.evaluate("root => root.k8stty.term.getSelection()") == "copy-me-42",
         UI_TIMEOUT, "the word selected")
    page.keyboard.press("Control+Shift+C")
    poll(lambda: clipboard() == "copy-me-42", UI_TIMEOUT, "Ctrl+Shift+C copied the selection")

    page.evaluate("() => navigator.clipboard.writeText('echo pasted-$((20+1))')")
    term.focus()
    page.keyboard.press("Control+Shift+V")
    page.keyboard.press("Enter")
    term.wait_for(r"^pasted-21$")
    wait_prompt(term)

    # Right-click: our Copy / Paste, not JupyterLab's context menu.
    spot = locate(term, "pasted-21")
    page.mouse.dblclick(spot["x"], spot["y"])
    page.mouse.click(spot["x"], spot["y"], button="right")
    menu = term.root.locator(".k8stty-menu")
    poll(menu.is_visible, UI_TIMEOUT, "the clipboard menu")
    assert page.locator(".lm-Menu").count() == 0, "JupyterLab's context menu opened too"
    term.screenshot("19-clipboard-menu")
    menu.locator("[data-k8stty-menu='copy']").click()
    poll(lambda: clipboard() == "pasted-21", UI_TIMEOUT, "Copy from the menu")
    page.evaluate("() => navigator.clipboard.writeText('echo menu-$((30+3))')")
    page.mouse.click(spot["x"], spot["y"], button="right")
    poll(menu.is_visible, UI_TIMEOUT, "the clipboard menu again")
    menu.locator("[data-k8stty-menu='paste']").click()
    term.wait_for(r"# echo menu-\$\(\(30\+3\)\)$")  # the clipboard is read asynchronously
    page.keyboard.press("Enter")
    term.wait_for(r"^menu-33$")
    wait_prompt(term)

    # OSC 52 from the pod: ignored (and said so) unless clipboardWrite is on.
    page.evaluate("() => navigator.clipboard.writeText('untouched')")
    pod_prints(term, b"\x1b]52;c;" + base64.b64encode(b"osc52-secret") + b"\x07done-52\r\n")
    term.wait_for(r"^done-52$")
    note = term.root.locator(".k8stty-error")
    poll(lambda: note.is_visible() and "OSC 52" in note.inner_text(), UI_TIMEOUT, "a note about OSC 52")
    assert clipboard() == "untouched"
    term.screenshot("20-osc52-refused")

    nb.run_and_wait(1)
    allowed = nb.terminal(1)
    allowed.wait_status("connected")
    wait_prompt(allowed)
    allowed.focus()
    pod_prints(allowed, b"\x1b]52;c;" + base64.b64encode("osc52-allowed \u00e9".encode()) + b"\x07")
    poll(lambda: clipboard() == "osc52-allowed \u00e9", UI_TIMEOUT, "OSC 52 with clipboardWrite",
         describe=clipboard)
    # A read request (OSC 52 ; c ; ?) is never answered: nothing comes back to the pod.
    query = base64.b64encode(b"\x1b]52;c;?\x07").decode()
    allowed.type(f"echo {query} | base64 -d; read -t 2 -r x; echo \"got[$x]\"\n")
    allowed.wait_for(r"^got\[\]$")
