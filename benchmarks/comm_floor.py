"""The floor of any widget's keystroke echo: a comm that answers from its handler, no pod.

Usage::

    .venv/bin/python benchmarks/comm_floor.py [--keys 30] [--gap 300]

Same setup as ``browser_terminal.py`` (sandbox in its own process, real JupyterLab 4.6,
Debian's Chromium headless through Playwright), three sides in one run:

* **floor**: a notebook cell shows a minimal anywidget, a focusable box kept from the
  notebook's shortcuts as the terminal is; each trusted ``keydown`` in it sends the key
  as a comm message (``{"type": "input"}``, with the terminal's status treatment: no
  ``busy``, see ``jupyter_k8stty/widget/quiet_status.py``), and the widget's Python
  handler sends it straight back. Measured: keydown to the echo's arrival in the page,
  and to the animation frame after the page wrote it into the DOM (xterm.js draws in
  that same animation frame). Nothing of ours is on this path but the status
  treatment: no session, no input pump, no pod, no reader thread, no xterm.js;
* **ours**: ``%k8sexec demo``, keydown to xterm.js's render of the echo (as
  ``browser_terminal.py``);
* **reference**: JupyterLab's terminal running ``kubectl exec -it demo -- bash --norc``,
  the same.

If the floor's keydown-to-frame is above the reference's keydown-to-render, no widget
that talks to its kernel through comm messages can echo as fast as the reference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from browser_terminal import VIEWPORT, measure_echo, run_scenario  # noqa: E402
from lab_harness import CHROMIUM, CHROMIUM_ARGS, lab_server, poll, shutdown_everything  # noqa: E402
from sandbox_process import sandbox_process  # noqa: E402

from tests.browser.lab import Notebook, write_notebook  # noqa: E402

FLOOR_CELL = r'''
import anywidget
from jupyter_k8stty.widget.quiet_status import quiet_comm

class EchoFloor(anywidget.AnyWidget):
    _esm = """
    export default { render({ model, el }) {
      // A focusable box isolated from the notebook's shortcuts as the terminal is
      // (js/src/keyboard.js), so the page does no more per key than for the terminal.
      const box = document.createElement("div");
      box.tabIndex = 0;
      box.dataset.bench = "floor";
      box.setAttribute("data-lm-suppress-shortcuts", "true");
      box.style.cssText = "min-height: 2em; border: 1px solid #888; font-family: monospace";
      const shown = document.createElement("span");
      box.append(shown);
      el.append(box);
      for (const type of ["keydown", "keypress", "keyup"]) {
        box.addEventListener(type, (e) => e.stopPropagation());
      }
      const keys = (window.__floor = []);
      box.addEventListener("keydown", (e) => {
        if (!e.isTrusted || e.key.length !== 1) return;
        keys.push({ key: e.key, down: performance.now(), arrived: null, framed: null });
        model.send({ type: "input", key: e.key });
      }, true);
      model.on("msg:custom", (msg) => {
        const entry = keys.find((k) => k.key === msg.key && k.arrived === null);
        if (!entry) return;
        entry.arrived = performance.now();
        shown.textContent += msg.key;
        requestAnimationFrame(() => { entry.framed = performance.now(); });
      });
    } };
    """

    def __init__(self):
        super().__init__()
        self.on_msg(lambda widget, content, buffers: self.send({"key": content.get("key")}))

floor = EchoFloor()
assert quiet_comm(floor.comm), "this kernel cannot leave out the busy status"
floor
'''

KEYS = "qwertyuiopasdfghjklzxcvbnm1234567890"


def measure_floor(browser, server, count: int, gap_ms: int) -> dict:
    """Type ``count`` keys into the floor widget; return its medians and the raw entries."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        path = "floor.ipynb"
        write_notebook(server.root_dir / path, [FLOOR_CELL, ""])
        page.goto(f"{server.url}/lab/tree/{path}?reset&token={server.token}")
        nb = Notebook(page)
        poll(lambda: nb.cell_count() == 2, 60, "2 cells shown")
        nb.wait_kernel_idle(server, path)
        nb.run_and_wait(0)
        box = page.locator('div[data-bench="floor"]')
        box.wait_for(state="visible", timeout=60_000)
        box.click()
        for ch in KEYS[:count]:
            page.keyboard.press(ch)
            poll(lambda: page.evaluate("() => { const k = window.__floor.at(-1); "
                                       "return !!k && k.framed !== null; }"), 5, f"the echo of {ch!r}")
            page.wait_for_timeout(gap_ms)
        entries = page.evaluate("() => window.__floor")
    finally:
        context.close()
        shutdown_everything(server)
    arrived = [e["arrived"] - e["down"] for e in entries]
    framed = [e["framed"] - e["down"] for e in entries]
    return {"n": len(entries), "arrived_ms": statistics.median(arrived),
            "framed_ms": statistics.median(framed),
            "framed_p90_ms": sorted(framed)[int(0.9 * (len(framed) - 1))]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=30, help="keystrokes per side (default 30)")
    parser.add_argument("--gap", type=int, default=300, help="ms between an echo and the next key")
    args = parser.parse_args()
    t0 = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - t0:6.1f}s] {message}", file=sys.stderr, flush=True)

    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp(prefix="k8stty-comm-floor-"))
    with sandbox_process() as kubeconfig, lab_server(home, kubeconfig) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            floor = measure_floor(browser, server, args.keys, args.gap)
            log(f"  floor     echo   arrived {floor['arrived_ms']:.2f} ms, "
                f"framed {floor['framed_ms']:.2f} ms")
            sides = {side: run_scenario(browser, server, side, "echo",
                                        lambda s: measure_echo(s, args.keys, args.gap), log)
                     for side in ("ours", "reference")}
        finally:
            browser.close()
    medians = {}
    for side, record in sides.items():
        values = [v for v in record.get("value") or [] if v is not None]
        if not values:
            raise SystemExit(f"{side}: no echo measured ({record.get('error')})")
        medians[side] = statistics.median(values)
    reference = medians["reference"]
    load = os.getloadavg()[0]
    print(f"\ncomm floor ({args.keys} keystrokes per side, {args.gap} ms apart; {os.cpu_count()} cores; "
          f"load average {load:.2f})")
    print(f"  floor: keydown to the echo's arrival in the page      {floor['arrived_ms']:6.2f} ms")
    print(f"  floor: keydown to the frame after writing it          {floor['framed_ms']:6.2f} ms  "
          f"(p90 {floor['framed_p90_ms']:.2f}) = {floor['framed_ms'] / reference:.2f}x the reference")
    print(f"  ours: keydown to the echo drawn by xterm.js           {medians['ours']:6.2f} ms  "
          f"= {medians['ours'] / reference:.2f}x the reference")
    print(f"  reference: keydown to the echo drawn by xterm.js      {reference:6.2f} ms")
    print(f"  ours above the floor: {medians['ours'] - floor['framed_ms']:.2f} ms "
          "(session, pod, xterm.js)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
