"""Many terminals on one page: 24 of them render and take input; WebGL contexts run out gracefully.

Chromium keeps about 16 WebGL contexts per page and drops the oldest when more are
made. The widget draws at most ``MAX_WEBGL`` terminals with WebGL (``js/src/terminal.js``)
and falls back to the DOM renderer by itself when a context is lost. Terminals
scrolled out of view do no rendering work (xterm.js pauses its renderer when its
element does not intersect the viewport): counted with xterm's ``onRender`` event.
"""

from __future__ import annotations

import pytest

from .features import renderer
from .lab import CELL_TIMEOUT, TERMINAL_TIMEOUT, UI_TIMEOUT, Notebook, TerminalView, poll

pytestmark = pytest.mark.browser

COUNT = 24
#: js/src/terminal.js MAX_WEBGL.
MAX_WEBGL = 12
MANY = f"""
from jupyter_k8stty import Terminal
terminals = [Terminal("demo", rows=5, options={{"screenReaderMode": True}}) for _ in range({COUNT})]
for t in terminals:
    display(t)
"""
TICKS = "terminals[-1].send('for i in $(seq 1 40); do echo tick-$i; sleep 0.05; done\\r')"
COUNT_RENDERS = """root => {
    root.__renders = 0;
    root.k8stty.term.onRender(() => { root.__renders += 1; });
}"""
#: Another part of the page takes WebGL contexts: Chromium drops the oldest ones.
HOG_WEBGL = """n => {
    window.__hogs = [];
    for (let i = 0; i < n; i++) {
        const canvas = document.createElement('canvas');
        window.__hogs.push(canvas.getContext('webgl2'));
    }
    return window.__hogs.filter(Boolean).length;
}"""
LOSE_CONTEXT = """root => {
    for (const canvas of root.querySelectorAll('.xterm-screen canvas')) {
        const gl = canvas.getContext('webgl2');
        if (gl) { gl.getExtension('WEBGL_lose_context').loseContext(); return true; }
    }
    return false;
}"""


def buffer_text(term: TerminalView) -> str:
    """The terminal's whole buffer (rendered or not)."""
    return term.root.evaluate("""root => {
        const buffer = root.k8stty.term.buffer.active;
        const lines = [];
        for (let y = 0; y < buffer.length; y++) lines.push(buffer.getLine(y).translateToString(true));
        return lines.join('\\n');
    }""")


def echo_in(term: TerminalView, word: str) -> None:
    term.focus()
    term.type(f"echo {word}-$((1+1))\n")
    term.wait_for(rf"^{word}-2$")


def open_many(open_notebook, *above: str) -> tuple[Notebook, list[TerminalView]]:
    """A notebook with ``above`` cells, then the terminals' cell (run)."""
    nb = open_notebook([*above, MANY])
    index = len(above)
    nb.run_and_wait(index, timeout=CELL_TIMEOUT * 2)
    terms = [nb.terminal(index, i) for i in range(COUNT)]
    poll(lambda: nb.cell(index).locator(".k8stty").count() == COUNT, TERMINAL_TIMEOUT,
         f"{COUNT} terminals")
    for term in terms:
        term.wait_status("connected", timeout=TERMINAL_TIMEOUT * 2)
    return nb, terms


def test_24_terminals_render_take_input_and_survive_lost_webgl(open_notebook):
    nb, terms = open_many(open_notebook)
    page = nb.page
    for n, term in enumerate(terms):
        echo_in(term, f"term{n}")
    renderers = [renderer(term) for term in terms]
    assert renderers.count("webgl") == MAX_WEBGL and renderers.count("dom") == COUNT - MAX_WEBGL, renderers
    assert page.locator(".k8stty-error:visible").count() == 0
    terms[0].screenshot("26-first-of-24")

    # One context lost (WEBGL_lose_context): that terminal switches to the DOM renderer.
    first = terms[renderers.index("webgl")]
    first.root.scroll_into_view_if_needed()
    assert first.root.evaluate(LOSE_CONTEXT)
    poll(lambda: renderer(first) == "dom", UI_TIMEOUT, "the DOM renderer after a lost context")
    echo_in(first, "after-loss")
    rows = first.root.locator(".xterm-rows")
    poll(lambda: "after-loss-2" in rows.inner_text(), UI_TIMEOUT, "the DOM renderer drawing the text")
    first.screenshot("27-after-context-loss")

    # Something else on the page takes 16 contexts: every WebGL terminal loses its own.
    assert page.evaluate(HOG_WEBGL, 16) == 16
    poll(lambda: all(renderer(term) == "dom" for term in terms), UI_TIMEOUT, "all on the DOM renderer",
         describe=lambda: str([renderer(term) for term in terms]))
    for n in (1, 7, COUNT - 1):
        echo_in(terms[n], f"still{n}")
        assert f"still{n}-2" in terms[n].root.locator(".xterm-rows").inner_text()
    assert page.locator(".k8stty-error:visible").count() == 0
    terms[COUNT - 1].screenshot("28-last-of-24-dom")


def test_terminals_out_of_view_do_no_rendering_work(open_notebook):
    # The cell that makes the last terminal print is above the terminals: running it
    # does not scroll the notebook down to them.
    nb, terms = open_many(open_notebook, TICKS)
    page = nb.page
    for term in terms:
        term.root.evaluate(COUNT_RENDERS)
    first, last = terms[0], terms[-1]
    first.root.scroll_into_view_if_needed()
    assert not last.root.evaluate(
        "root => { const r = root.getBoundingClientRect(); return r.top < innerHeight && r.bottom > 0; }")
    page.wait_for_timeout(300)  # let pending frames of the terminals' start pass
    for term in terms:
        term.root.evaluate("root => { root.__renders = 0; }")

    nb.run_and_wait(0)  # the last terminal prints 40 lines, out of view
    poll(lambda: "tick-40" in buffer_text(last), TERMINAL_TIMEOUT, "the ticks in the last terminal's buffer")
    assert last.root.evaluate("root => root.__renders") == 0, "an invisible terminal rendered"
    echo_in(first, "visible")
    assert first.root.evaluate("root => root.__renders") > 0

    last.root.scroll_into_view_if_needed()
    poll(lambda: last.root.evaluate("root => root.__renders") > 0, UI_TIMEOUT, "rendering once in view")
    poll(lambda: "tick-40" in last.text(), UI_TIMEOUT, "the ticks shown once in view", describe=last.text)
