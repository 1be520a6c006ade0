"""Search, zoom, full screen and the header's buttons, in real JupyterLab and Chromium.

Each test opens ``t = Terminal('demo', options={'screenReaderMode': True})`` in a
notebook; the accessibility tree mirrors the screen for reading. Screenshots land in
``test-artifacts/``.
"""

from __future__ import annotations

import re

import pytest

from .features import action, font_size, open_terminal
from .lab import ARTIFACTS, TERMINAL_TIMEOUT, UI_TIMEOUT, TerminalView, poll
from .test_terminal_in_browser import stty_size, wait_prompt

pytestmark = pytest.mark.browser

#: Lines with the needle (the command line that prints them does not contain it); the
#: command also echoes NEEDLE-upper, so a search that ignores case finds two more.
NEEDLES = 17
#: The actions every terminal shows (issue 12 item 8; `debug` only where it applies).
ACTIONS = ["search", "zoom-out", "zoom-reset", "zoom-in", "fullscreen", "upload", "download",
           "reconnect"]


def rows_are(view: TerminalView, rows: int) -> None:
    """Wait until the screen shows ``rows`` rows (the fit that follows a layout change is debounced)."""
    poll(lambda: len(view.lines()) == rows, UI_TIMEOUT, f"{rows} rows on the screen",
         describe=lambda: f"{len(view.lines())} rows")


def search_count(term) -> str:
    return term.root.locator(".k8stty-search-count").inner_text().strip()


def kernel_options(nb, index: int = 1) -> str:
    nb.run_and_wait(index)
    return nb.output_text(index)


def test_search_highlights_counts_and_steps_through_matches(open_notebook):
    nb, term = open_terminal(open_notebook, "", "print(t.options)")
    page = nb.page
    term.focus()
    term.type(f"seq 1 {NEEDLES} | sed 's/^/nee''dle-/'; echo NEEDLE-upper\n")
    term.wait_for(rf"^needle-{NEEDLES}$")
    wait_prompt(term)
    cells = nb.cell_count()

    page.keyboard.press("Control+Shift+F")
    box = term.root.locator(".k8stty-search")
    search = box.locator("input")
    poll(lambda: search.evaluate("el => el === document.activeElement"), UI_TIMEOUT,
         "the search box focused")
    # Typed in the search box: no notebook shortcut fires (a, b, d d would add/delete cells).
    page.keyboard.type("abdd")
    page.keyboard.press("Control+a")
    page.keyboard.type("needle")
    poll(lambda: re.fullmatch(rf"\d+/{NEEDLES + 2}", search_count(term)), UI_TIMEOUT,
         "a count of the matches", describe=lambda: search_count(term))
    first = search_count(term)
    highlighted = term.root.evaluate(
        "root => root.k8stty.term._core._decorationService ? "
        "[...root.k8stty.term._core._decorationService.decorations].length : -1")
    assert highlighted >= NEEDLES + 2, highlighted
    term.screenshot("12-search-highlights")
    page.keyboard.press("Enter")
    poll(lambda: search_count(term) != first, UI_TIMEOUT, "Enter goes to another match")
    second = search_count(term)
    page.keyboard.press("Shift+Enter")
    poll(lambda: search_count(term) == first, UI_TIMEOUT, "Shift+Enter goes back",
         describe=lambda: f"{first} -> {second} -> {search_count(term)}")
    assert term.root.evaluate("root => root.k8stty.term.getSelection()").lower() == "needle"

    # Case-sensitive: "needle" is not "NEEDLE"; a regex finds exactly needle-10 to needle-17.
    box.locator("[data-k8stty-search='case']").click()
    poll(lambda: re.fullmatch(rf"\d+/{NEEDLES}", search_count(term)), UI_TIMEOUT,
         "only the lower-case matches", describe=lambda: search_count(term))
    box.locator("[data-k8stty-search='case']").click()
    box.locator("[data-k8stty-search='regex']").click()
    assert box.locator("[data-k8stty-search='regex']").get_attribute("aria-pressed") == "true"
    page.keyboard.press("Control+a")
    page.keyboard.type("needle-1[0-7]$")
    poll(lambda: re.fullmatch(r"\d+/8", search_count(term)), UI_TIMEOUT, "eight regex matches",
         describe=lambda: search_count(term))
    page.keyboard.press("Control+a")
    page.keyboard.type("needle-(")
    poll(lambda: search_count(term) == "bad regex", UI_TIMEOUT, "a bad regex said so")
    term.screenshot("13-search-regex")

    page.keyboard.press("Escape")
    poll(lambda: box.is_hidden(), UI_TIMEOUT, "the search box closed")
    poll(term.has_focus, UI_TIMEOUT, "the keyboard back in the terminal")
    term.type("echo after-search\n")
    term.wait_for(r"^after-search$")
    assert nb.cell_count() == cells
    # The header button opens it too.
    action(term, "search").click()
    poll(lambda: box.is_visible(), UI_TIMEOUT, "the search box opened by its button")
    box.locator("[data-k8stty-search='close']").click()
    poll(lambda: box.is_hidden() and term.has_focus(), UI_TIMEOUT, "closed by its button")


def test_zoom_keys_and_buttons_refit_the_tty_and_persist(open_notebook, lab_server):
    nb, term = open_terminal(open_notebook, "", "print(t.options)")
    page = nb.page
    term.focus()
    base = font_size(term)
    rows0, cols0 = stty_size(term, "z0")

    # The keys go neither to the pod nor to the notebook: cat -v would show ^_ for Ctrl+-.
    term.type("cat -v\n")
    for key in ("Control+Equal", "Control+Equal", "Control+Equal", "Control+Minus"):
        page.keyboard.press(key)
    poll(lambda: font_size(term) == base + 2, UI_TIMEOUT, "two steps larger",
         describe=lambda: f"font size {font_size(term)} (base {base})")
    page.keyboard.press("Enter")
    page.keyboard.press("Control+c")
    wait_prompt(term)
    assert "^_" not in term.text() and "^[" not in term.text(), term.text()
    rows1, cols1 = stty_size(term, "z1")
    assert cols1 < cols0, (cols0, cols1)  # bigger glyphs: fewer columns on the same width
    assert rows1 == len(term.lines()), term.text()
    assert f"'fontSize': {base + 2}" in kernel_options(nb)
    term.screenshot("14-zoomed-in")

    action(term, "zoom-in").click()
    poll(lambda: font_size(term) == base + 3, UI_TIMEOUT, "larger by the button")
    action(term, "zoom-out").click()
    action(term, "zoom-out").click()
    poll(lambda: font_size(term) == base + 1, UI_TIMEOUT, "smaller by the button")

    # Kept in the options trait: a reloaded page shows the same size.
    nb.save()
    page.reload()
    reloaded = type(nb)(page)
    poll(lambda: reloaded.cell_count() >= 2, TERMINAL_TIMEOUT, "the notebook again")
    term = reloaded.terminal(0)
    term.wait_status("connected")
    poll(lambda: font_size(term) == base + 1, TERMINAL_TIMEOUT, "the size after a reload",
         describe=lambda: f"font size {font_size(term)}")
    term.focus()
    page.keyboard.press("Control+0")
    poll(lambda: font_size(term) == base, UI_TIMEOUT, "the default size again")
    poll(lambda: "fontSize" not in kernel_options(reloaded), TERMINAL_TIMEOUT,
         "fontSize gone from the kernel's options")
    term.focus()
    rows2, cols2 = stty_size(term, "z2")
    assert (rows2, cols2) == (rows0, cols0)


def test_full_screen_fills_the_viewport_and_the_tty_follows(open_notebook):
    nb, term = open_terminal(open_notebook)
    page = nb.page
    # In full screen the root lives in an overlay on <body>, outside the cell.
    full = TerminalView(page, page.locator(".k8stty-fullscreen-overlay .k8stty"))
    placeholder = nb.panel.locator(".k8stty-fullscreen-placeholder")
    viewport = page.viewport_size

    def covers_viewport() -> bool:
        box = full.root.bounding_box() if full.root.count() else None
        return bool(box) and box["width"] >= viewport["width"] - 1 and box["height"] >= viewport["height"] - 1

    term.focus()
    rows0, cols0 = stty_size(term, "f0")
    action(term, "fullscreen").click()
    poll(covers_viewport, UI_TIMEOUT, "the terminal over the viewport",
         describe=lambda: f"{full.root.bounding_box() if full.root.count() else None} vs {viewport}")
    button = action(full, "fullscreen")
    assert button.get_attribute("aria-pressed") == "true"
    assert button.get_attribute("aria-label") == "Leave full screen"
    assert placeholder.count() == 1
    full.focus()
    poll(lambda: len(full.lines()) > rows0, UI_TIMEOUT, "more rows on the screen")
    rows1, cols1 = stty_size(full, "f1")
    assert rows1 > rows0 and cols1 > cols0, ((rows0, cols0), (rows1, cols1))
    page.screenshot(path=str(ARTIFACTS / "15-full-screen-page.png"))

    # Escape typed in the terminal belongs to the pod (vim): it stays full screen.
    full.type("cat -v\n")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    full.wait_for(r"^\^\[$")
    page.keyboard.press("Control+c")
    wait_prompt(full)
    assert covers_viewport()

    # Escape with the keyboard on the header's button leaves full screen.
    button.focus()
    page.keyboard.press("Escape")
    poll(lambda: placeholder.count() == 0, UI_TIMEOUT, "back in the notebook after Escape")
    term.focus()
    rows_are(term, rows0)
    assert stty_size(term, "f2") == (rows0, cols0)

    # The documented shortcut, both ways, from inside the terminal.
    page.keyboard.press("Control+Shift+Enter")
    poll(covers_viewport, UI_TIMEOUT, "full screen by key")
    poll(full.has_focus, UI_TIMEOUT, "the keyboard still in the terminal")
    rows_are(full, rows1)
    assert stty_size(full, "f3") == (rows1, cols1)
    page.keyboard.press("Control+Shift+Enter")
    poll(lambda: placeholder.count() == 0, UI_TIMEOUT, "back by key")
    poll(term.has_focus, UI_TIMEOUT, "the keyboard still in the terminal")
    rows_are(term, rows0)
    assert stty_size(term, "f4") == (rows0, cols0)
    # The button leaves it as well.
    action(term, "fullscreen").click()
    poll(covers_viewport, UI_TIMEOUT, "full screen by the button")
    action(full, "fullscreen").click()
    poll(lambda: placeholder.count() == 0, UI_TIMEOUT, "back by the button")


def test_header_actions_are_labelled_buttons_reachable_with_tab(open_notebook):
    nb, term = open_terminal(open_notebook)
    page = nb.page
    buttons = term.root.locator(".k8stty-header [data-k8stty-action]")
    found = buttons.evaluate_all(
        "els => els.map(el => [el.tagName, el.dataset.k8sttyAction, el.getAttribute('aria-label') "
        "|| el.textContent.trim(), el.title, el.getClientRects().length > 0])")
    for tag, name, label, title, _ in found:
        assert tag == "BUTTON" and label and title, (name, label, title)
    names = [name for _, name, _, _, shown in found if shown]  # `debug` shows only without a shell
    assert [n for n in names if n in ACTIONS] == ACTIONS, names
    assert term.root.locator(".k8stty-header [role='toolbar']").count() == 1

    # Tab walks the header's buttons in order (from the first one).
    buttons.first.focus()
    seen = [buttons.first.get_attribute("data-k8stty-action")]
    for _ in range(len(names) - 1):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("() => document.activeElement.dataset.k8sttyAction || null"))
    assert seen == names, seen
    # A button works from the keyboard: Enter on zoom-in.
    base = font_size(term)
    action(term, "zoom-in").focus()
    page.keyboard.press("Enter")
    poll(lambda: font_size(term) == base + 1, UI_TIMEOUT, "zoom-in by Enter on its button")
    term.screenshot("16-header-actions")


def test_the_widget_shortcuts_reach_neither_the_pod_nor_jupyterlab(open_notebook):
    """Ctrl+Shift+F is JupyterLab's "toggle the file browser", Ctrl+= and Ctrl+- zoom the page."""
    nb, term = open_terminal(open_notebook, "", "x = 1")
    page = nb.page
    sidebar = "() => [...document.querySelectorAll('#jp-left-stack')].map(el => el.offsetWidth > 0)"
    left_before = page.evaluate(sidebar)
    cells = nb.cell_count()
    term.focus()
    term.type("cat -v\n")
    for key in ("Control+Shift+F", "Escape", "Control+Equal", "Control+Minus", "Control+0",
                "Control+Shift+Enter", "Control+Shift+Enter"):
        if key == "Escape":  # leave the search box the shortcut opened
            poll(lambda: term.root.locator(".k8stty-search input").is_visible(), UI_TIMEOUT, "the search box")
        page.keyboard.press(key)
        if key == "Escape":
            poll(term.has_focus, UI_TIMEOUT, "the terminal focused again")
    page.keyboard.press("Enter")
    page.keyboard.press("Control+c")

    def after_interrupt() -> list[str] | None:  # the prompt drawn after ^C, not the one before cat
        lines = [line for line in term.lines() if line.strip()]
        return lines if len(lines) >= 3 and lines[-2] == "^C" and "cat -v" not in lines[-1] else None

    lines = poll(after_interrupt, TERMINAL_TIMEOUT, "^C, then a prompt", describe=term.text)
    assert lines[-3].endswith("# cat -v"), term.text()  # nothing in between: no key reached cat
    assert page.evaluate(sidebar) == left_before
    assert nb.cell_count() == cells
    assert page.evaluate("() => window.visualViewport.scale") == 1
