"""A notebook with 24 idle terminals: kernel CPU and the browser's main thread.

Usage::

    .venv/bin/python benchmarks/idle_terminals.py [--terminals 24] [--seconds 30]

The same JupyterLab and Chromium as ``browser_terminal.py``, on the sandbox. Two
notebooks, each measured for ``--seconds`` once everything has settled and no
terminal has the keyboard focus:

* *baseline*: ``%load_ext jupyter_k8stty`` and as many cells that make nothing (JupyterLab
  and its kernel on their own);
* *terminals*: the same with one ``%k8sexec demo`` per cell, every shell at its prompt.

Measured: the kernel's CPU time (``/proc``, through psutil) as a percentage of one core;
the page's main thread, from Chrome's own counters (``Performance.getMetrics``:
``TaskDuration`` is the time the main thread spent running tasks); and the timer and
animation-frame callbacks that fired, counted by an init script that wraps
``setTimeout``, ``setInterval`` and ``requestAnimationFrame`` and attributes each to our
bundle (loaded from a ``blob:`` URL, see ``js/src/loader.js``) or to the rest of the page.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab_harness import CHROMIUM, CHROMIUM_ARGS, lab_server, poll, shutdown_everything  # noqa: E402
from sandbox_process import sandbox_process  # noqa: E402

from tests.browser.lab import Notebook, write_notebook  # noqa: E402

VIEWPORT = {"width": 1280, "height": 900}
SETUP_TIMEOUT = 120.0

#: Init script: counts of timer and animation-frame callbacks that ran, ours and others'.
COUNT_JS = r"""
(() => {
  const C = window.__timers = { ours: {}, page: {} };
  const whose = () => ((new Error().stack || '').includes('blob:') ? C.ours : C.page);
  const wrap = (name) => {
    const native = window[name];
    window[name] = function (fn, ...rest) {
      if (typeof fn !== 'function') return native.call(this, fn, ...rest);
      const bucket = whose();
      return native.call(this, function (...args) {
        bucket[name] = (bucket[name] || 0) + 1;
        return fn.apply(this, args);
      }, ...rest);
    };
  };
  wrap('setTimeout');
  wrap('setInterval');
  wrap('requestAnimationFrame');
})();
"""

PID_CELL = "import os\nprint('KERNEL-PID', os.getpid())"


def kernel_cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def open_notebook(page, server, name: str, cells: list[str]) -> tuple[Notebook, int]:
    write_notebook(server.root_dir / f"{name}.ipynb", cells)
    page.goto(f"{server.url}/lab/tree/{name}.ipynb?reset&token={server.token}")
    nb = Notebook(page)
    poll(lambda: nb.cell_count() == len(cells), SETUP_TIMEOUT, f"{len(cells)} cells shown")
    nb.wait_kernel_idle(server, f"{name}.ipynb")
    nb.run_and_wait(0)
    nb.run_and_wait(1)
    pid = int(nb.output_text(1).split("KERNEL-PID")[1].split()[0])
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-below')")
    poll(lambda: all(nb.prompt(i) not in ("[*]:", "[ ]:") for i in range(len(cells))), SETUP_TIMEOUT,
         "every cell run")
    return nb, pid


def settle(page, terminals: int) -> None:
    if terminals:
        poll(lambda: page.locator('.k8stty-status[data-status="connected"]').count() == terminals,
             SETUP_TIMEOUT, f"{terminals} terminals connected")
    # Prompts drawn, fits done, acknowledgements sent, and V8's memory-reducing garbage
    # collection after opening them all done (a trace showed it in a window that began
    # 5 s after the terminals opened: the rest of the main thread's extra time).
    time.sleep(20)
    # No terminal keeps the keyboard focus (a focused cursor blinks).
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    time.sleep(1)


def measure(page, pid: int, seconds: float) -> dict:
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")

    def metrics() -> dict:
        return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}

    setup = page.evaluate("() => JSON.parse(JSON.stringify(window.__timers))")
    # Reset the counters in place: each wrapped callback holds its bucket.
    page.evaluate("() => { for (const b of [window.__timers.ours, window.__timers.page]) "
                  "for (const k of Object.keys(b)) delete b[k]; }")
    cpu0, m0, t0 = kernel_cpu(pid), metrics(), time.monotonic()
    time.sleep(seconds)
    cpu1, m1, t1 = kernel_cpu(pid), metrics(), time.monotonic()
    timers = page.evaluate("() => window.__timers")
    cdp.detach()
    wall = t1 - t0
    return {
        "kernel_cpu_pct": (cpu1 - cpu0) / wall * 100,
        "main_thread_pct": (m1["TaskDuration"] - m0["TaskDuration"]) / wall * 100,
        "script_ms": (m1["ScriptDuration"] - m0["ScriptDuration"]) * 1000,
        "layouts": m1["LayoutCount"] - m0["LayoutCount"],
        "style_recalcs": m1["RecalcStyleCount"] - m0["RecalcStyleCount"],
        "timers_ours_per_s": sum(timers["ours"].values()) / wall,
        "timers_page_per_s": sum(timers["page"].values()) / wall,
        "timers": timers,
        "timers_during_setup": setup,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--terminals", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp(prefix="k8stty-idle-"))
    results = {}
    with sandbox_process() as kubeconfig, lab_server(home, kubeconfig) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            plan = {"baseline": "x = 1", "terminals": "%k8sexec demo"}
            for name, cell in plan.items():
                context = browser.new_context(viewport=VIEWPORT)
                context.set_default_timeout(SETUP_TIMEOUT * 1000)
                context.add_init_script(COUNT_JS)
                page = context.new_page()
                try:
                    _, pid = open_notebook(page, server, name,
                                           ["%load_ext jupyter_k8stty", PID_CELL] + [cell] * args.terminals)
                    settle(page, args.terminals if name == "terminals" else 0)
                    results[name] = measure(page, pid, args.seconds)
                finally:
                    context.close()
                    shutdown_everything(server)
                print(f"  {name}: {results[name]}", file=sys.stderr)
        finally:
            browser.close()
    base, terms = results["baseline"], results["terminals"]
    print(f"\nidle terminals ({args.terminals} terminals, {args.seconds:g} s; {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.2f})")
    print(f"{'':34s} {'baseline':>10s} {'terminals':>10s}")
    rows = [("kernel CPU, % of a core", "kernel_cpu_pct", "{:.2f}"),
            ("main thread busy, %", "main_thread_pct", "{:.2f}"),
            ("script, ms", "script_ms", "{:.0f}"),
            ("layouts", "layouts", "{:.0f}"),
            ("style recalculations", "style_recalcs", "{:.0f}"),
            ("timer/frame callbacks/s, ours", "timers_ours_per_s", "{:.2f}"),
            ("timer/frame callbacks/s, page", "timers_page_per_s", "{:.2f}")]
    for text, key, fmt in rows:
        print(f"  {text:32s} {fmt.format(base[key]):>10s} {fmt.format(terms[key]):>10s}")
    print(f"  callbacks while measuring: ours {terms['timers']['ours']}, page {terms['timers']['page']}; "
          f"ours before (opening the terminals): {terms['timers_during_setup']['ours']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
