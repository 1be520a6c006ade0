"""Our terminal widget against JupyterLab's own terminal, in headless Chromium.

Usage::

    .venv/bin/python benchmarks/browser_terminal.py [--quick] [--json PATH]

One run starts the sandbox (its own process), a JupyterLab server whose ``KUBECONFIG``
is the sandbox's (isolated Jupyter dirs and settings, loopback only) and Chromium, then
measures, side by side:

* **ours**: a notebook cell ``%k8sexec demo`` (a login shell in the pod);
* **reference**: JupyterLab's terminal (``terminal:create-new``) running
  ``kubectl exec -it demo -- bash --norc`` against the same sandbox.

Metrics (each scenario in a fresh page with a fresh terminal/kernel; ours and the
reference alternate, scenario by scenario):

1. echo: a printable key, from the trusted ``keydown`` (capture-phase listener on
   ``window``, ``performance.now()``) to the first xterm render that shows it;
2. 5 MB: ``head -c 3750000 /dev/urandom | base64; echo END-$((1+1))`` (5.07 MB of
   output), from the Enter keydown to the render that shows ``END-2``;
3. Ctrl-C: ``yes`` floods for 2 s, Ctrl-C, then ``echo ok-$((2+3))`` + Enter typed at
   once, from the Ctrl-C keydown to the render that shows ``ok-5`` (capped);
4. start: ours, Shift+Enter on a ``%k8sexec demo`` cell (kernel warm: an earlier cell
   ran ``%k8sexec`` already) to the first render with a prompt; the reference, Enter
   on the ``kubectl exec -it`` line to the render with the pod's bash prompt.

"Render" is xterm.js's own ``onRender`` event, observed through the terminal's xterm
core (see ``lab_harness.py`` for how it is reached and why neither the DOM nor the
accessibility tree is used): the moment the renderer has drawn the rows, inside
the animation frame; the compositor shows them at most a frame later.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab_harness import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    PROBE_JS,
    LabServer,
    NewTerminalHook,
    adopt_terminal,
    lab_server,
    open_lab_terminal,
    poll,
    shutdown_everything,
    wait_screen,
)
from sandbox_process import sandbox_process  # noqa: E402

from tests.browser.lab import Notebook, write_notebook  # noqa: E402

VIEWPORT = {"width": 1280, "height": 900}
LOAD = "%load_ext jupyter_k8stty"
WARM = "%k8sexec demo --rows 3"
MAGIC = "%k8sexec demo"
KUBECTL = "kubectl exec -it demo -- bash --norc"
#: Any shell prompt at the end of the last non-blank row.
PROMPT = r"[#$]$"
#: The pod's ``bash --norc`` prompt (the reference's local shell shows ``local$``).
POD_PROMPT = r"^bash-[\d.]+[#$]$"
LOCAL_PROMPT = r"^local\$$"
ECHO_CHARS = "qwertyuiopasdfghjklzxcvbnm1234567890"
FLOOD_RAW_BYTES = 3_750_000  # base64: 5,000,000 characters + 65,790 newlines
FLOOD_CMD = f"head -c {FLOOD_RAW_BYTES} /dev/urandom | base64; echo END-$((1+1))"
CTRLC_CMD = "echo ok-$((2+3))"
SETUP_TIMEOUT = 60.0

OURS_SCOPE = '[data-bench="measured"]'
REF_SCOPE = '[data-bench="ref"]'


class Scenario:
    """One fresh page with one terminal at a prompt, ours or the reference."""

    def __init__(self, browser, server: LabServer, side: str, name: str):
        self.server = server
        self.side = side
        self.context = browser.new_context(viewport=VIEWPORT)
        self.context.set_default_timeout(SETUP_TIMEOUT * 1000)
        self.context.add_init_script(PROBE_JS)
        self.page = self.context.new_page()
        self.scope = OURS_SCOPE if side == "ours" else REF_SCOPE
        self.start_ms: float | None = None
        self.breakdowns: list[dict] = []
        self.name = name

    # -- in-page helpers ----------------------------------------------------------------

    def key_index(self) -> int:
        return self.page.evaluate("() => window.__bench.keys.length")

    def watch(self, test: dict, timeout_s: float, new_only: bool = False) -> int:
        return self.page.evaluate("([s, t, ms, n]) => window.__bench.watch(s, t, ms, n)",
                                  [self.scope, test, timeout_s * 1000, new_only])

    def result(self, watch_id: int) -> dict:
        return self.page.evaluate("id => window.__bench.result(id)", watch_id)

    def key_time(self, index: int, key: str) -> float | None:
        return self.page.evaluate("([i, k]) => window.__bench.keyTime(i, k)", [index, key])

    def timed(self, test: dict, timeout_s: float, key: str, action: Callable[[], None],
              new_only: bool = False, breakdown: dict | None = None) -> float | None:
        """Milliseconds from the keydown of ``key`` (pressed by ``action``) to a render passing ``test``.

        With ``breakdown`` (a dict), WebSocket traffic is logged meanwhile and the dict
        gets: ``to_send`` (keydown to the first frame sent), ``round_trip`` (that to the
        last frame received before the render), ``to_render`` (that to the render).
        """
        index = self.key_index()
        watch_id = self.watch(test, timeout_s, new_only)
        if breakdown is not None:
            self.page.evaluate("() => { window.__bench.wsLog = []; }")
        action()
        got = self.result(watch_id)
        log = self.page.evaluate("() => { const l = window.__bench.wsLog; window.__bench.wsLog = null; "
                                 "return l; }")
        if got.get("timeout"):
            return None
        if got.get("how") == "already":
            raise RuntimeError(f"{test} was on the screen before the key was pressed")
        start = self.key_time(index, key)
        if start is None:
            raise RuntimeError(f"no trusted keydown of {key!r} recorded")
        if breakdown is not None and log:
            sent = next((e["t"] for e in log if e["dir"] == "out" and e["t"] >= start), None)
            received = [e for e in log if e["dir"] == "in" and e["t"] <= got["t"]]
            if sent is not None and received:
                breakdown.update(to_send=sent - start, round_trip=received[-1]["t"] - sent,
                                 to_render=got["t"] - received[-1]["t"],
                                 frames_in=len(received), frames_out=sum(e["dir"] == "out" for e in log),
                                 bytes_in=sum(e["n"] for e in received if e["t"] >= start),
                                 last_in_before_render=got["t"] - received[-1]["t"])
        return got["t"] - start

    def lines(self) -> list[str]:
        return self.page.evaluate("s => window.__bench.screen(s)", self.scope) or []

    def info(self) -> dict:
        return self.page.evaluate("s => window.__bench.info(s)", self.scope)

    def focus(self) -> None:
        target = (f"{self.scope} .k8stty-screen" if self.side == "ours" else f"{self.scope} .xterm-screen")
        self.page.locator(target).first.scroll_into_view_if_needed()
        self.page.locator(target).first.click()
        poll(lambda: self.page.evaluate(
            "s => { const el = document.querySelector(s); "
            "return !!el && el.contains(document.activeElement); }",
            self.scope), 10, "keyboard focus in the terminal")

    def wait_prompt(self, pattern: str = PROMPT, timeout: float = 30) -> None:
        wait_screen(self.page, self.scope, pattern, timeout)

    # -- opening a terminal -------------------------------------------------------------

    def open(self) -> None:
        (self.open_ours if self.side == "ours" else self.open_reference)()

    def open_ours(self) -> None:
        """Notebook [load, warm-up terminal, measured terminal]; measures the start."""
        page, server = self.page, self.server
        path = f"{self.name}.ipynb"
        write_notebook(server.root_dir / path, [LOAD, WARM, MAGIC, ""])
        page.goto(f"{server.url}/lab/tree/{path}?reset&token={server.token}")
        nb = Notebook(page)
        poll(lambda: nb.cell_count() == 4, SETUP_TIMEOUT, "4 cells shown")
        nb.wait_kernel_idle(server, path)
        nb.cell(1).evaluate("el => el.setAttribute('data-bench', 'warm')")
        nb.cell(2).evaluate("el => el.setAttribute('data-bench', 'measured')")
        nb.run_and_wait(0)
        nb.run_and_wait(1)
        page.wait_for_selector('[data-bench="warm"] .xterm-helper-textarea', state="attached")
        adopt_terminal(page, '[data-bench="warm"] .xterm-helper-textarea')
        wait_screen(page, '[data-bench="warm"]', PROMPT, SETUP_TIMEOUT)
        hook = NewTerminalHook(page)

        cell = nb.cell(2)
        cell.scroll_into_view_if_needed()
        cell.locator(".jp-InputArea-editor .cm-content").click()
        poll(lambda: "jp-mod-active" in (cell.get_attribute("class") or ""), 10, "cell 2 active")
        try:
            self.start_ms = self.timed({"mode": "last", "re": PROMPT}, 30, "Enter",
                                       lambda: page.keyboard.press("Shift+Enter"), new_only=True)
        finally:
            hook.close()
        nb.wait_cell_done(2)
        self.focus()

    def open_reference(self) -> None:
        """JupyterLab terminal, local bash, then ``kubectl exec -it``; measures the exec's start."""
        page, server = self.page, self.server
        open_lab_terminal(page, server)
        self.wait_prompt(LOCAL_PROMPT, SETUP_TIMEOUT)
        self.focus()
        page.keyboard.type(KUBECTL)
        wait_screen(page, self.scope, KUBECTL.replace("$", r"\$") + "$", 10)
        self.start_ms = self.timed({"mode": "last", "re": POD_PROMPT}, 30, "Enter",
                                   lambda: page.keyboard.press("Enter"))

    def close(self) -> None:
        try:
            self.context.close()
        finally:
            shutdown_everything(self.server)


# -- the measurements ----------------------------------------------------------------------


def measure_echo(s: Scenario, count: int, gap_ms: int) -> list[float | None]:
    """``count`` keystrokes at a quiet prompt, ``gap_ms`` apart once echoed.

    Every other keystroke also logs the WebSocket traffic (``s.breakdowns``), to split
    the latency into browser-out, server round trip and browser-in-to-render.
    """
    s.wait_prompt()
    out: list[float | None] = []
    s.breakdowns = []
    typed = ""
    for i, ch in enumerate(ECHO_CHARS[:count]):
        typed += ch
        parts: dict | None = {} if i % 2 else None
        out.append(s.timed({"mode": "last", "re": typed + "$"}, 5, ch,
                           lambda ch=ch: s.page.keyboard.press(ch), breakdown=parts))
        if parts:
            s.breakdowns.append(parts)
        s.page.wait_for_timeout(gap_ms)
    s.page.keyboard.press("Control+u")
    s.wait_prompt()
    return out


def measure_flood(s: Scenario, cap_s: float) -> float | None:
    s.wait_prompt()
    s.page.keyboard.type(FLOOD_CMD)
    wait_screen(s.page, s.scope, r"END-\$\(\(1\+1\)\)$", 10)
    ms = s.timed({"mode": "any", "re": "^END-2$"}, cap_s, "Enter", lambda: s.page.keyboard.press("Enter"))
    return ms


def measure_ctrl_c(s: Scenario, flood_s: float, cap_s: float) -> float | None:
    s.wait_prompt()
    s.page.keyboard.type("yes")
    s.page.keyboard.press("Enter")
    wait_screen(s.page, s.scope, r"^y$", 10, mode="any")
    s.page.wait_for_timeout(flood_s * 1000)

    def interrupt() -> None:
        s.page.keyboard.press("Control+c")
        s.page.keyboard.type(CTRLC_CMD)
        s.page.keyboard.press("Enter")

    parts: dict = {}
    ms = s.timed({"mode": "any", "re": "^ok-5$"}, cap_s, "c", interrupt, breakdown=parts)
    # Bytes that reached the page after Ctrl-C, before ok-5 was drawn: what was in flight.
    s.breakdowns = [parts]
    return ms


def run_scenario(browser, server: LabServer, side: str, name: str, body: Callable[[Scenario], Any],
                 log: Callable[[str], None]) -> dict:
    scenario = Scenario(browser, server, side, name)
    record: dict[str, Any] = {"side": side, "scenario": name}
    t0 = time.monotonic()
    try:
        scenario.open()
        record["start_ms"] = scenario.start_ms
        record["terminal"] = scenario.info()
        record["value"] = body(scenario)
        if scenario.breakdowns:
            record["breakdowns"] = scenario.breakdowns
    except Exception as exc:
        record["error"] = f"{type(exc).__name__}: {exc}"
        log(traceback.format_exc())
        try:
            record["screen"] = scenario.lines()[-8:]
        except Exception:
            pass
    finally:
        scenario.close()
    record["wall_s"] = round(time.monotonic() - t0, 1)
    log(f"  {side:9s} {name:6s} start={_fmt(record.get('start_ms'))} "
        f"value={_brief(record.get('value'))} {record.get('error', '')} ({record['wall_s']} s)")
    return record


# -- report --------------------------------------------------------------------------------


def _fmt(ms: float | None, cap: float | None = None) -> str:
    if ms is None:
        return f">{cap:g} s" if cap else "n/a"
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.1f} ms"


def _brief(value: Any) -> str:
    if isinstance(value, list):
        got = [v for v in value if v is not None]
        return f"median {_fmt(statistics.median(got)) if got else 'n/a'} of {len(got)}/{len(value)}"
    return _fmt(value)


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def summarize(records: list[dict], caps: dict[str, float]) -> dict:
    out: dict[str, dict] = {}
    for side in ("ours", "reference"):
        mine = [r for r in records if r["side"] == side]
        echo = [v for r in mine if r["scenario"] == "echo" for v in (r.get("value") or []) if v is not None]
        starts = [r["start_ms"] for r in mine if r.get("start_ms") is not None]
        one = {r["scenario"]: r for r in mine}
        out[side] = {
            "echo_median": _pct(echo, 0.5), "echo_p90": _pct(echo, 0.9), "echo_n": len(echo),
            "flood": one.get("flood", {}).get("value"),
            "flood_error": one.get("flood", {}).get("error"),
            "ctrlc": one.get("ctrlc", {}).get("value"),
            "ctrlc_error": one.get("ctrlc", {}).get("error"),
            "start_median": _pct(starts, 0.5), "start_max": max(starts) if starts else None,
            "start_all": starts,
        }
    return out


def table(summary: dict, caps: dict[str, float]) -> str:
    ours, ref = summary["ours"], summary["reference"]

    def ratio(a, b):
        return f"{a / b:.2f}" if a is not None and b else "n/a"

    rows = [
        ("echo latency median", ours["echo_median"], ref["echo_median"], "ours <= ref",
         ours["echo_median"] is not None and ref["echo_median"] is not None
         and ours["echo_median"] <= ref["echo_median"], None),
        ("echo latency p90", ours["echo_p90"], ref["echo_p90"], "(context)", None, None),
        ("render 5 MB", ours["flood"], ref["flood"], "ours <= ref",
         ours["flood"] is not None and (ref["flood"] is None or ours["flood"] <= ref["flood"]),
         caps["flood"]),
        ("Ctrl-C during yes", ours["ctrlc"], ref["ctrlc"], "ours < 1 s",
         ours["ctrlc"] is not None and ours["ctrlc"] < 1000, caps["ctrlc"]),
        ("start (median)", ours["start_median"], ref["start_median"], "ours < 1 s",
         ours["start_median"] is not None and ours["start_median"] < 1000, None),
        ("start (max)", ours["start_max"], ref["start_max"], "(context)", None, None),
    ]
    header = f"{'metric':22s} {'ours':>10s} {'reference':>10s} {'ratio':>6s}  {'target':12s} result"
    lines = [header, "-" * len(header)]
    for name, a, b, target, met, cap in rows:
        verdict = "" if met is None else ("met" if met else "MISSED")
        lines.append(f"{name:22s} {_fmt(a, cap):>10s} {_fmt(b, cap):>10s} {ratio(a, b):>6s}  "
                     f"{target:12s} {verdict}")
    for side in ("ours", "reference"):
        for key in ("flood_error", "ctrlc_error"):
            if summary[side][key]:
                lines.append(f"  {side} {key}: {summary[side][key]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer keystrokes, shorter caps (< 3 min)")
    parser.add_argument("--json", metavar="PATH", help="write the raw numbers here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary Jupyter dir (logs)")
    parser.add_argument("--only", choices=["echo", "flood", "ctrlc"], action="append",
                        help="run only this scenario (repeatable)")
    args = parser.parse_args(argv)

    keystrokes = 10 if args.quick else 30
    gap_ms = 250 if args.quick else 300
    caps = {"flood": 60.0 if args.quick else 120.0, "ctrlc": 30.0 if args.quick else 60.0}
    t0 = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - t0:6.1f}s] {message}", file=sys.stderr, flush=True)

    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp(prefix="k8stty-browser-bench-"))
    records: list[dict] = []
    with sandbox_process() as kubeconfig, lab_server(home, kubeconfig) as server, sync_playwright() as p:
        log(f"sandbox {kubeconfig}, JupyterLab {server.url}, logs in {home}")
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            plan: list[tuple[str, Callable[[Scenario], Any]]] = [
                ("echo", lambda s: measure_echo(s, keystrokes, gap_ms)),
                ("flood", lambda s: measure_flood(s, caps["flood"])),
                ("ctrlc", lambda s: measure_ctrl_c(s, 2.0, caps["ctrlc"])),
            ]
            for name, body in plan:
                if args.only and name not in args.only:
                    continue
                for side in ("ours", "reference"):
                    records.append(run_scenario(browser, server, side, name, body, log))
        finally:
            browser.close()
    summary = summarize(records, caps)
    elapsed = time.monotonic() - t0
    print(f"\nbrowser_terminal ({'quick' if args.quick else 'full'}; Chromium headless, "
          f"{os.cpu_count()} cores; {elapsed:.0f} s)")
    for side in ("ours", "reference"):
        terms = {r["scenario"]: r.get("terminal") for r in records if r["side"] == side}
        first = next((t for t in terms.values() if t), None)
        if first:
            print(f"  {side}: {first['rows']}x{first['cols']} {first['renderer']} renderer, "
                  f"scrollback {first['scrollback']}, cursorBlink {first['cursorBlink']}")
    print()
    print(table(summary, caps))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "mode": "quick" if args.quick else "full", "elapsed_s": round(elapsed, 1),
            "keystrokes": keystrokes, "gap_ms": gap_ms, "caps_s": caps,
            "flood_command": FLOOD_CMD, "ctrlc_command": CTRLC_CMD,
            "summary": summary, "records": records,
        }, indent=2))
        print(f"\nraw numbers: {args.json}")
    if not args.keep:
        import shutil

        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
