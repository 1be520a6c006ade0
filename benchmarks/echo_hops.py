"""Where a keystroke's echo spends its time, hop by hop, ours next to JupyterLab's terminal.

Usage::

    .venv/bin/python benchmarks/echo_hops.py [--keys 30] [--gap 300] [--json PATH]

The same setup as ``browser_terminal.py`` (sandbox in its own process, JupyterLab,
headless Chromium; *ours* is ``%k8sexec demo`` in a notebook, the *reference* is
JupyterLab's terminal running ``kubectl exec -it``), plus timestamps at every hop
(:mod:`hop_tracer`): the Jupyter server (from its config file), the kernel (a cell run
before the terminal is made), and the page (an init script: each websocket frame, sorted
by kind, and xterm.js's parse and render). All on the wall clock, in milliseconds.

The tracing costs a few microseconds per event; the echo latency without it is
``browser_terminal.py``'s. Printed: the median of each hop over the keystrokes, the
ratio of the medians of the totals (ours / reference), and how many websocket frames
each keystroke caused in each direction.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from browser_terminal import (  # noqa: E402
    ECHO_CHARS,
    KUBECTL,
    LOAD,
    LOCAL_PROMPT,
    POD_PROMPT,
    PROMPT,
    REF_SCOPE,
    SETUP_TIMEOUT,
    VIEWPORT,
)
from lab_harness import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    PROBE_JS,
    adopt_terminal,
    kill_leftovers,
    lab_env,
    open_lab_terminal,
    poll,
    shutdown_everything,
    wait_screen,
)
from sandbox_process import sandbox_process  # noqa: E402

from tests.browser.lab import Notebook, run_lab, write_notebook  # noqa: E402

HERE = Path(__file__).resolve().parent
OURS_SCOPE = '[data-bench="hops"]'

#: Init script: every websocket frame (wall time, direction, kind) and xterm's parse times.
HOPS_JS = r"""
(() => {
  const B = window.__bench;
  const wall = () => performance.timeOrigin + performance.now();
  B.hops = null;  // an array while recording
  const text = new TextDecoder();
  // Kernel websocket, protocol v1.kernel.websocket.jupyter.org: offsets, then channel,
  // header, parent header, metadata, content, buffers.
  const kind = (data) => {
    if (typeof data === 'string') {
      const m = /^\["(\w+)"/.exec(data);
      return m ? 'term:' + m[1] : 'text:' + data.slice(0, 60);
    }
    try {
      const view = new DataView(data);
      const n = Number(view.getBigUint64(0, true));
      const off = [];
      for (let i = 1; i <= n; i++) off.push(Number(view.getBigUint64(8 * i, true)));
      const part = (i) => text.decode(new Uint8Array(data, off[i], off[i + 1] - off[i]));
      const header = JSON.parse(part(1));
      const content = part(4);
      if (header.msg_type === 'status') return 'status:' + JSON.parse(content).execution_state;
      if (header.msg_type === 'comm_msg') {
        const m = /"type":\s*"([\w-]+)"/.exec(content);
        return 'comm:' + (m ? m[1] : '?');
      }
      return header.msg_type;
    } catch (e) {
      return 'binary';
    }
  };
  const nativeSend = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (B.hops) B.hops.push({ t: wall(), ev: 'ws_out', kind: kind(data) });
    return nativeSend.call(this, data);
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => {
        if (B.hops) B.hops.push({ t: wall(), ev: 'ws_in', kind: kind(e.data) });
      });
    }
  };
  window.addEventListener('keydown', (e) => {
    if (B.hops && e.isTrusted) B.hops.push({ t: wall(), ev: 'keydown', kind: e.key });
  }, true);
  const adopt = B.adopt;
  B.adopt = (core) => {
    adopt(core);
    if (core.onWriteParsed && !core.__hops) {
      core.__hops = true;
      core.onWriteParsed(() => { if (B.hops) B.hops.push({ t: wall(), ev: 'parsed', kind: '' }); });
      core.onRender(() => { if (B.hops) B.hops.push({ t: wall(), ev: 'render', kind: '' }); });
    }
  };
})();
"""

KERNEL_TRACE = ("import sys; sys.path.insert(0, {here!r}); import hop_tracer; "
                "hop_tracer.install_kernel({path!r})")
MAGIC = "%k8sexec demo"

# Hops: (label, from event, to event). Events are matched in order within a keystroke.
OURS_HOPS = [
    ("browser: keydown to websocket send", "keydown", "ws_out:comm:input"),
    ("browser to server", "ws_out:comm:input", "s_in"),
    ("server: websocket to ZMQ", "s_in", "s_in_done"),
    ("server to kernel shell channel thread", "s_in_done", "k_route"),
    ("kernel: shell channel thread to subshell", "k_route", "k_dispatch"),
    ("ipykernel dispatch (busy status, deserialize)", "k_dispatch", "k_handler:input"),
    ("ours: handler to the input pump thread", "k_handler:input", "k_write"),
    ("ours: input pump writes to the exec websocket", "k_write", "k_write_done"),
    ("pod: sandbox, PTY, shell echo", "k_write_done", "k_feed"),
    ("ours: reader thread and bridge to comm send", "k_feed", "k_send:output"),
    ("comm send to the IOPub socket", "k_send:output", "k_iopub:comm:output"),
    ("kernel to server", "k_iopub:comm:output", "s_out:iopub:comm:output"),
    ("server to browser (ZMQ to websocket, network)", "s_out:iopub:comm:output", "ws_in:comm:output"),
    ("browser: message to parsed (JupyterLab, widget, xterm)", "ws_in:comm:output", "parsed"),
    ("browser: parsed to drawn (next frame)", "parsed", "render"),
]
REF_HOPS = [
    ("browser: keydown to websocket send", "keydown", "ws_out:term:stdin"),
    ("browser to server", "ws_out:term:stdin", "t_in"),
    ("server: PTY, kubectl, API server, pod and back", "t_in", "t_out"),
    ("server to browser (PTY output to websocket, network)", "t_out", "ws_in:term:stdout"),
    ("browser: message to parsed (xterm)", "ws_in:term:stdout", "parsed"),
    ("browser: parsed to drawn (next frame)", "parsed", "render"),
]


def read_trace(text: str) -> list[dict]:
    events = []
    for line in text.splitlines():
        t, _, rest = line.partition(" ")
        name, _, detail = rest.partition(" ")
        events.append({"t": float(t), "ev": name, "kind": detail})
    return events


def label(event: dict) -> str:
    return f"{event['ev']}:{event['kind']}" if event["kind"] else event["ev"]


def hops_of(events: list[dict], hops: list[tuple[str, str, str]]) -> dict[str, float]:
    """Durations of ``hops`` in one keystroke's events (sorted by time)."""
    found: dict[str, float] = {}
    cursor = 0.0
    times: dict[str, float] = {}
    for _, start, end in hops:
        for name in (start, end):
            if name in times:
                continue
            for event in events:
                if event["t"] >= cursor and (label(event) == name or event["ev"] == name):
                    times[name] = event["t"]
                    cursor = event["t"]
                    break
    for text, start, end in hops:
        if start in times and end in times:
            found[text] = times[end] - times[start]
    if "keydown" in times and "render" in times:
        found["total: keydown to drawn"] = times["render"] - times["keydown"]
    return found


def measure(page, scope: str, count: int, gap_ms: int, trace_files: list[Path]) -> list[dict]:
    """Type ``count`` keys; return each one's events (page and trace files), sorted."""
    wait_screen(page, scope, PROMPT, 30)
    out = []
    typed = ""
    for ch in ECHO_CHARS[:count]:
        typed += ch
        marks = [path.stat().st_size if path.exists() else 0 for path in trace_files]
        page.evaluate("() => { window.__bench.hops = []; }")
        watch = page.evaluate("([s, t, ms]) => window.__bench.watch(s, t, ms)",
                              [scope, {"mode": "last", "re": typed + "$"}, 5000])
        page.keyboard.press(ch)
        got = page.evaluate("id => window.__bench.result(id)", watch)
        page.wait_for_timeout(gap_ms)  # the status messages after the echo arrive meanwhile
        browser = page.evaluate("() => { const h = window.__bench.hops; window.__bench.hops = null; "
                                "return h; }")
        if got.get("timeout"):
            continue
        events = list(browser)
        for path, mark in zip(trace_files, marks, strict=True):
            with open(path, "rb") as f:
                f.seek(mark)
                events += read_trace(f.read().decode())
        events.sort(key=lambda e: e["t"])
        out.append(events)
    page.keyboard.press("Control+u")
    return out


def open_ours(page, server, kernel_trace: Path, magic: str) -> None:
    path = "hops.ipynb"
    trace = KERNEL_TRACE.format(here=str(HERE), path=str(kernel_trace))
    write_notebook(server.root_dir / path, [LOAD, trace, magic])
    page.goto(f"{server.url}/lab/tree/{path}?reset&token={server.token}")
    nb = Notebook(page)
    poll(lambda: nb.cell_count() == 3, SETUP_TIMEOUT, "3 cells shown")
    nb.wait_kernel_idle(server, path)
    nb.cell(2).evaluate("el => el.setAttribute('data-bench', 'hops')")
    for i in range(3):
        nb.run_and_wait(i)
    page.wait_for_selector(f"{OURS_SCOPE} .xterm-helper-textarea", state="attached")
    adopt_terminal(page, f"{OURS_SCOPE} .xterm-helper-textarea")
    wait_screen(page, OURS_SCOPE, PROMPT, SETUP_TIMEOUT)
    page.locator(f"{OURS_SCOPE} .k8stty-screen").first.click()


def open_reference(page, server) -> None:
    open_lab_terminal(page, server)
    wait_screen(page, REF_SCOPE, LOCAL_PROMPT, SETUP_TIMEOUT)
    page.locator(f"{REF_SCOPE} .xterm-screen").first.click()
    page.keyboard.type(KUBECTL)
    page.keyboard.press("Enter")
    wait_screen(page, REF_SCOPE, POD_PROMPT, SETUP_TIMEOUT)


def summarize(per_key: list[dict[str, float]], hops: list[tuple[str, str, str]]
              ) -> list[tuple[str, float, int]]:
    rows = []
    for text in [h[0] for h in hops] + ["total: keydown to drawn"]:
        values = [k[text] for k in per_key if text in k]
        if values:
            rows.append((text, statistics.median(values), len(values)))
    return rows


def frame_counts(all_events: list[list[dict]]) -> dict[str, float]:
    counts: dict[str, list[int]] = {}
    for events in all_events:
        seen: dict[str, int] = {}
        for e in events:
            if e["ev"] in ("ws_in", "ws_out", "k_iopub"):
                key = f"{e['ev']} {e['kind']}"
                seen[key] = seen.get(key, 0) + 1
        for key in set(counts) | set(seen):
            counts.setdefault(key, []).append(seen.get(key, 0))
    return {k: round(statistics.mean(v), 2) for k, v in sorted(counts.items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=30, help="keystrokes per side")
    parser.add_argument("--gap", type=int, default=300, help="milliseconds between keystrokes")
    parser.add_argument("--json", metavar="PATH", help="write every keystroke's events here")
    parser.add_argument("--magic", default=MAGIC,
                        help="the cell that opens ours (default %(default)r)")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    load_start = os.getloadavg()
    home = Path(tempfile.mkdtemp(prefix="k8stty-echo-hops-"))
    server_trace, kernel_trace = home / "server-trace.txt", home / "kernel-trace.txt"
    results: dict[str, dict] = {}
    with sandbox_process() as kubeconfig, sync_playwright() as p:
        env = lab_env(home, kubeconfig)
        (home / "config" / "jupyter_server_config.py").write_text(
            f"import sys; sys.path.insert(0, {str(HERE)!r})\n"
            f"import hop_tracer; hop_tracer.install_server({str(server_trace)!r})\n")
        root = home / "notebooks"
        root.mkdir(parents=True, exist_ok=True)
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            with run_lab(env, root, home / "jupyterlab.log") as server:
                for side in ("ours", "reference"):
                    context = browser.new_context(viewport=VIEWPORT)
                    context.set_default_timeout(SETUP_TIMEOUT * 1000)
                    context.add_init_script(PROBE_JS)
                    context.add_init_script(HOPS_JS)
                    page = context.new_page()
                    try:
                        if side == "ours":
                            open_ours(page, server, kernel_trace, args.magic)
                            events = measure(page, OURS_SCOPE, args.keys, args.gap,
                                             [server_trace, kernel_trace])
                            hops = OURS_HOPS
                        else:
                            open_reference(page, server)
                            events = measure(page, REF_SCOPE, args.keys, args.gap, [server_trace])
                            hops = REF_HOPS
                    finally:
                        context.close()
                        shutdown_everything(server)
                    per_key = [hops_of(e, hops) for e in events]
                    results[side] = {"hops": summarize(per_key, hops), "frames": frame_counts(events),
                                     "totals": [k["total: keydown to drawn"] for k in per_key
                                                if "total: keydown to drawn" in k],
                                     "events": events}
        finally:
            browser.close()
            kill_leftovers(home)
    print(f"\necho hops (median of {args.keys} keystrokes, {args.gap} ms apart; {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.2f})")
    for side in ("ours", "reference"):
        print(f"\n{side}:")
        for text, value, n in results[side]["hops"]:
            print(f"  {text:58s} {value:7.2f} ms  (n={n})")
        hops = [value for text, value, _ in results[side]["hops"] if not text.startswith("total")]
        totals = sorted(results[side]["totals"])
        if totals:
            p90 = totals[min(len(totals) - 1, int(0.9 * len(totals)))]
            print(f"  {'sum of the hop medians':58s} {sum(hops):7.2f} ms;  total p90 {p90:.2f} ms")
        print("  frames per keystroke:", ", ".join(f"{k} {v:g}" for k, v in results[side]["frames"].items()))
    ours, ref = (statistics.median(results[s]["totals"]) if results[s]["totals"] else None
                 for s in ("ours", "reference"))
    if ours and ref:
        print(f"\nkeydown to drawn, median: ours {ours:.2f} ms, reference {ref:.2f} ms: "
              f"{ours / ref:.2f}x (target at most 1.0x)")
    print(f"load average at the start {load_start[0]:.2f}, at the end {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
        print(f"\nevents: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
