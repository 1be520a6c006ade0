"""JupyterLab + Chromium harness for the browser benchmarks.

* :func:`lab_server` starts JupyterLab with isolated Jupyter dirs (the same layout as
  ``tests/browser/conftest.py``), ``KUBECONFIG`` pointing at a sandbox and the app
  exposed as ``window.jupyterapp`` (to open JupyterLab's own terminals).
* :data:`PROBE_JS` is an init script that records trusted ``keydown`` events and, for
  every xterm.js terminal it is given, what each render put on the screen.
* :func:`adopt_terminal` hands it a terminal's xterm core without touching the code
  under test: a conditional breakpoint (Chrome DevTools Protocol) on the xterm
  textarea's own ``keydown`` handler records ``this`` when a synthetic Shift key
  reaches it, then the breakpoint is removed.

How the screen is read: both terminals draw with xterm.js's WebGL renderer (a canvas),
so there is no DOM text to observe, and xterm's accessibility tree (screenReaderMode)
is refreshed at most once per second (``TimeBasedDebouncer``, 1000 ms), which would
add up to a second to every measurement. Instead the probe listens to the xterm core's
``onRender`` event, which xterm fires synchronously right after its renderer has drawn
the changed rows, inside the ``requestAnimationFrame`` callback of that frame; the
listener reads the rows just drawn from the xterm buffer (``buffer.lines`` from
``ydisp``, the viewport) and stamps ``performance.now()``. The pixels reach the screen
at the compositor's next frame (at most one frame later, the same for both terminals).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.browser.lab import CHROMIUM, CHROMIUM_ARGS, LabServer, poll, run_lab  # noqa: E402

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "PROBE_JS", "LabServer", "adopt_terminal", "lab_server", "poll"]



def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def lab_env(home: Path, kubeconfig: str) -> dict[str, str]:
    """Environment and config files of an isolated JupyterLab (see tests/browser/conftest.py)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY_"))}
    env.update(
        KUBECONFIG=kubeconfig,
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTER_PLATFORM_DIRS="1",
        IPYTHONDIR=str(home / "ipython"),
        # The local shell of JupyterLab's terminal (bash --norc) shows this prompt, so
        # the pod's "bash-5.2#" cannot be mistaken for it.
        PS1="local$ ",
    )
    config = home / "config"
    _write_json(config / "jupyter_server_config.json", {
        "LabApp": {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
                   "expose_app_in_browser": True},
        "LanguageServerManager": {"autodetect": False},
        "ServerApp": {"terminado_settings": {"shell_command": ["/bin/bash", "--norc", "-i"]}},
    })
    _write_json(config / "labconfig" / "page_config.json", {
        "disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True},
    })
    settings = config / "lab" / "user-settings" / "@jupyterlab"
    # Every cell stays rendered (no virtual scrolling that could hide a terminal).
    _write_json(settings / "notebook-extension" / "tracker.jupyterlab-settings", {"windowingMode": "none"})
    # JupyterLab's terminal with its defaults, spelled out: no screen reader mode (its
    # accessibility tree is debounced by 1 s and costs time per character), no blink.
    _write_json(settings / "terminal-extension" / "plugin.jupyterlab-settings",
                {"screenReaderMode": False, "cursorBlink": False, "shutdownOnClose": True})
    return env


@contextmanager
def lab_server(home: Path, kubeconfig: str) -> Iterator[LabServer]:
    """Run a JupyterLab server on a free loopback port with a random token."""
    env = lab_env(home, kubeconfig)
    root = home / "notebooks"
    root.mkdir(parents=True, exist_ok=True)
    try:
        with run_lab(env, root, home / "jupyterlab.log") as server:
            yield server
    finally:
        kill_leftovers(home)


def shutdown_everything(server: LabServer) -> None:
    """Delete every session (kernel) and every terminal of the server."""
    server.shutdown_kernels()
    for terminal in server.api("GET", "/api/terminals"):
        server.api("DELETE", f"/api/terminals/{terminal['name']}")


#: Init script: ``window.__bench``.
PROBE_JS = r"""
(() => {
  if (window.__bench) return;
  const B = window.__bench = { keys: [], terms: [], watches: new Map(), nextId: 1, wsLog: null };

  // Optional breakdown: when B.wsLog is an array, every WebSocket frame sent or
  // received is logged with its time (a listener added first, at construction).
  const NativeWebSocket = window.WebSocket;
  const nativeSend = NativeWebSocket.prototype.send;
  const size = (d) => (typeof d === 'string' ? d.length : (d.byteLength ?? d.size ?? 0));
  NativeWebSocket.prototype.send = function (data) {
    if (B.wsLog) B.wsLog.push({ dir: 'out', t: performance.now(), n: size(data) });
    return nativeSend.call(this, data);
  };
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => {
        if (B.wsLog) B.wsLog.push({ dir: 'in', t: performance.now(), n: size(e.data) });
      });
    }
  };

  // Trusted keydowns, capture phase on window: runs before any handler of the page.
  window.addEventListener('keydown', (e) => {
    if (!e.isTrusted) return;
    B.keys.push({ key: e.key, ctrl: e.ctrlKey, shift: e.shiftKey, t: performance.now() });
  }, true);

  // The viewport rows of an xterm core, trailing blanks cut.
  B.rows = (core) => {
    const buffer = core.buffer, out = [];
    for (let y = 0; y < core.rows; y++) {
      const line = buffer.lines.get(buffer.ydisp + y);
      out.push(line ? line.translateToString(true).replace(/\s+$/, '') : '');
    }
    return out;
  };

  const matches = (lines, test) => {
    const re = new RegExp(test.re, 'm');
    if (test.mode === 'last') {
      for (let i = lines.length - 1; i >= 0; i--) if (lines[i]) return re.test(lines[i]);
      return false;
    }
    return lines.some((line) => re.test(line));
  };

  const inScope = (entry, w) => {
    const el = entry.core.element;
    if (!el || !el.isConnected) return false;
    if (w.newOnly && entry.adoptedAt < w.since) return false;
    const scope = document.querySelector(w.scope);
    return !!scope && scope.contains(el);
  };

  const check = (entry, how) => {
    entry.renders++;
    if (!B.watches.size) return;
    let lines = null;
    for (const [id, w] of B.watches) {
      if (!inScope(entry, w)) continue;
      w.renders++;
      lines = lines || B.rows(entry.core);
      if (matches(lines, w.test)) {
        B.watches.delete(id);
        clearTimeout(w.timer);
        w.resolve({ t: performance.now(), how, renders: w.renders, lines });
      }
    }
  };

  // Start following a core: every render is checked against the pending watches.
  B.adopt = (core) => {
    if (!core || B.terms.some((e) => e.core === core)) return;
    const entry = { core, adoptedAt: performance.now(), renders: 0 };
    B.terms.push(entry);
    core.onRender(() => check(entry, 'render'));
  };

  B.lastCore = (scope) => {
    const el = document.querySelector(scope);
    const found = B.terms.filter((e) => el && e.core.element && el.contains(e.core.element));
    return found.length ? found[found.length - 1].core : null;
  };

  B.screen = (scope) => {
    const core = B.lastCore(scope);
    return core ? B.rows(core) : null;
  };

  B.info = (scope) => {
    const core = B.lastCore(scope);
    if (!core) return null;
    const r = core._renderService && core._renderService._renderer && core._renderService._renderer.value;
    const renderer = !r ? 'none' : r._gl ? 'webgl' : r._rowContainer ? 'dom' : 'canvas';
    return { rows: core.rows, cols: core.cols, scrollback: core.options.scrollback, renderer,
             screenReaderMode: !!core.options.screenReaderMode, cursorBlink: !!core.options.cursorBlink };
  };

  // Resolve (with {t}) at the first render after now whose screen passes `test`;
  // {timeout: true} after `timeoutMs`. `scope`: CSS selector of an element holding the
  // terminal; `newOnly`: only terminals adopted after this call.
  B.watch = (scope, test, timeoutMs, newOnly = false) => {
    const id = B.nextId++;
    const w = { scope, test, newOnly, since: performance.now(), renders: 0 };
    w.promise = new Promise((resolve) => {
      w.resolve = resolve;
      w.timer = setTimeout(() => { B.watches.delete(id); resolve({ timeout: true, renders: w.renders }); },
                           timeoutMs);
    });
    // Already true before anything was rendered: report it, the caller decides.
    for (const entry of B.terms) {
      if (inScope(entry, w) && matches(B.rows(entry.core), test)) {
        clearTimeout(w.timer);
        B[`w${id}`] = Promise.resolve({ t: performance.now(), how: 'already', renders: 0 });
        return id;
      }
    }
    B.watches.set(id, w);
    B[`w${id}`] = w.promise;
    return id;
  };
  B.result = (id) => B[`w${id}`];

  // Time of the first trusted keydown of `key` at index >= `from` of B.keys.
  B.keyTime = (from, key) => {
    for (let i = from; i < B.keys.length; i++) if (B.keys[i].key === key) return B.keys[i].t;
    return null;
  };
})();
"""


def adopt_terminal(page, textarea_selector: str) -> None:
    """Give ``window.__bench`` the xterm core behind the xterm textarea ``textarea_selector``.

    xterm registers ``e => this._keyDown(e)`` on its textarea; a conditional breakpoint
    on that very function records ``this`` (the core) and never pauses. A synthetic
    Shift keydown (which types nothing) triggers it once.
    """
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("Debugger.enable")
        expression = f"document.querySelector({json.dumps(textarea_selector)})"
        found = cdp.send("Runtime.evaluate", {"expression": expression, "objectGroup": "bench"})["result"]
        if "objectId" not in found:
            raise RuntimeError(f"no xterm textarea at {textarea_selector}")
        listeners = cdp.send("DOMDebugger.getEventListeners", {"objectId": found["objectId"]})["listeners"]
        handlers = [entry["handler"] for entry in listeners
                    if entry["type"] == "keydown"
                    and re.search(r"_keyDown", entry["handler"].get("description", ""))]
        if not handlers:
            raise RuntimeError("xterm's keydown handler not found on its textarea")
        condition = "(window.__benchCaught = this), false"
        bp = cdp.send("Debugger.setBreakpointOnFunctionCall", {"objectId": handlers[0]["objectId"],
                                                                "condition": condition})
        try:
            page.evaluate("""sel => document.querySelector(sel).dispatchEvent(
                new KeyboardEvent('keydown',
                                  {key: 'Shift', code: 'ShiftLeft', keyCode: 16, shiftKey: true}))""",
                          textarea_selector)
        finally:
            cdp.send("Debugger.removeBreakpoint", {"breakpointId": bp["breakpointId"]})
        cdp.send("Runtime.releaseObjectGroup", {"objectGroup": "bench"})
        cdp.send("Debugger.disable")
    finally:
        cdp.detach()
    ok = page.evaluate("""() => {
        const core = window.__benchCaught; delete window.__benchCaught;
        if (!core || !core.buffer || !core.onRender) return false;
        window.__bench.adopt(core);
        return true; }""")
    if not ok:
        raise RuntimeError("could not reach the xterm core of " + textarea_selector)


class NewTerminalHook:
    """Adopt every xterm core that the same bundle source opens from now on, until :meth:`close`.

    anywidget loads the widget's ES module afresh for every widget (a new blob URL), so
    each terminal has its own copy of the xterm classes and patching one prototype would
    not reach the next. Instead, a conditional breakpoint (never pausing) is set by
    *script hash* at the start of ``CoreBrowserTerminal.open`` of an adopted core: it
    then also applies to every later copy of the same source and calls
    ``__bench.adopt(this)`` before the new terminal has rendered anything. The
    Debugger domain is only enabled while this hook is armed.
    """

    def __init__(self, page, core_expr: str = "window.__bench.terms[0].core"):
        self.cdp = page.context.new_cdp_session(page)
        scripts: dict[str, dict] = {}
        self.cdp.on("Debugger.scriptParsed", lambda event: scripts.__setitem__(event["scriptId"], event))
        self.cdp.send("Debugger.enable")
        fn = self.cdp.send("Runtime.evaluate", {"expression": f"Object.getPrototypeOf({core_expr}).open",
                                                "objectGroup": "bench"})["result"]
        props = self.cdp.send("Runtime.getProperties", {"objectId": fn["objectId"], "ownProperties": True})
        where = next(p["value"]["value"] for p in props.get("internalProperties", [])
                     if p["name"] == "[[FunctionLocation]]")
        poll(lambda: where["scriptId"] in scripts, 5, "the scriptParsed event of the xterm bundle")
        self.cdp.send("Runtime.releaseObjectGroup", {"objectGroup": "bench"})
        self.cdp.send("Debugger.setBreakpointByUrl", {
            "scriptHash": scripts[where["scriptId"]]["hash"],
            "lineNumber": where["lineNumber"], "columnNumber": where["columnNumber"],
            "condition": "(this && this.onRender && window.__bench.adopt(this)), false",
        })

    def close(self) -> None:
        try:
            self.cdp.send("Debugger.disable")  # drops the breakpoint
        finally:
            self.cdp.detach()


def kill_leftovers(home: Path) -> list[int]:
    """SIGKILL processes still running with this run's JUPYTER_CONFIG_DIR; return their pids.

    A ``kubectl exec`` of a deleted JupyterLab terminal can outlive it, stopped.
    """
    marker = f"JUPYTER_CONFIG_DIR={home / 'config'}".encode()
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(int(entry.name), 9)
                killed.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return killed


def wait_screen(page, scope: str, pattern: str, timeout: float, mode: str = "last") -> list[str]:
    """Poll the terminal in ``scope`` until ``pattern`` matches (its last line, or any line)."""
    regex = re.compile(pattern)

    def ok() -> list[str] | None:
        lines = page.evaluate("s => window.__bench.screen(s)", scope) or []
        if mode == "last":
            tail = [line for line in lines if line]
            return lines if tail and regex.search(tail[-1]) else None
        return lines if any(regex.search(line) for line in lines) else None

    def describe() -> str:
        return "\n".join(page.evaluate("s => window.__bench.screen(s)", scope) or ["<no terminal>"])

    return poll(ok, timeout, f"{pattern!r} in {scope}", describe=describe)


def now_ms() -> float:
    return time.monotonic() * 1000


def open_lab_terminal(page, server, mark: str = "ref") -> None:
    """Open JupyterLab's own terminal, mark its node ``data-bench=MARK``, adopt its xterm."""
    page.goto(f"{server.url}/lab?reset&token={server.token}")
    page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-LabShell')"
                           " && window.jupyterapp.commands.hasCommand('terminal:create-new')")
    page.evaluate("""async (mark) => {
        const widget = await window.jupyterapp.commands.execute('terminal:create-new');
        widget.node.setAttribute('data-bench', mark);
    }""", mark)
    scope = f'[data-bench="{mark}"]'
    page.wait_for_selector(f"{scope} .xterm-helper-textarea", state="attached")
    adopt_terminal(page, f"{scope} .xterm-helper-textarea")
