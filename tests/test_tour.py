"""The tour (``notebooks/demo.ipynb``) runs cell by cell in a real kernel against the demo's cluster.

Every code cell has an entry in :data:`CHECKS`, keyed by its cell id: what its outputs
must show, and optionally a probe run in the same kernel right after it (not saved in
the notebook) that reads the state of what the cell made: a terminal that reached
``connected``, the picker's lists, the ``--out`` variable. A code cell added to the tour
without a check fails :func:`test_every_code_cell_of_the_tour_is_checked`.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from jupyter_k8stty.demo import demo_notebook
from jupyter_k8stty.sandbox.control import ControlServer
from jupyter_k8stty.sandbox.tour_pods import (
    CANARY_IMAGE,
    CHECKPOINT_BYTES,
    CHECKPOINT_STEPS,
    FINETUNE_NODE,
    MODEL_VERSION,
    PERSIST_NAME,
    end_persistent_shell,
    loss_at,
    seed,
    tour_sandbox,
)

#: Seconds a tour cell may take (the evaluation fan-out takes about two).
CELL_TIMEOUT = 60
#: Seconds a probe waits for a terminal to reach the status it expects.
STATUS_TIMEOUT = 15
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: ``debugger-xxxxx``, as kubectl names debug containers.
DEBUGGER_NAME = r"debugger-[bcdfghjklmnpqrstvwxz2456789]{5}"

#: Probe: wait until the terminal (or terminal-like object) in ``_`` reaches a status; print its state.
PROBE_TERMINAL = """
import json as _json, time as _time
_term = {expr}
_deadline = _time.monotonic() + {timeout}
while _term.status not in ({status!r}, "error", "exited", "closed") and _time.monotonic() < _deadline:
    _time.sleep(0.05)
{extra}
print("PROBE" + _json.dumps({{"class": type(_term).__name__, "status": _term.status,
                             "title": _term.title, "error": _term.error}}))
"""


def probe_terminal(expr: str = "_", status: str = "connected", extra: str = "") -> str:
    return PROBE_TERMINAL.format(expr=expr, timeout=STATUS_TIMEOUT, status=status, extra=extra)


# -- reading outputs ---------------------------------------------------------------------------


def stream(cell: Any, name: str) -> str:
    return "".join(o["text"] for o in cell["outputs"] if o["output_type"] == "stream" and o["name"] == name)


def results(cell: Any, mime: str = "text/plain") -> list[str]:
    return [o["data"][mime] for o in cell["outputs"]
            if o["output_type"] in ("execute_result", "display_data") and mime in o.get("data", {})]


def value(cell: Any) -> list[str]:
    """The cell's result (``text/plain`` of its ``execute_result``), as a one-item list."""
    return [o["data"]["text/plain"] for o in cell["outputs"] if o["output_type"] == "execute_result"]


def probed(cell: Any) -> dict[str, Any]:
    text = stream(cell, "stdout")
    line = next((line for line in text.splitlines() if line.startswith("PROBE")), None)
    assert line is not None, f"the probe printed nothing: {cell['outputs']}"
    return json.loads(line[len("PROBE"):])


class Tour:
    """The outputs of the tour's cells and their probes, and the widgets' final state."""

    def __init__(self, client: NotebookClient, nb: Any, workdir: Path):
        self.client = client
        self.cells = {cell.id: cell for cell in nb.cells}
        self.probes: dict[str, Any] = {}
        #: The kernel's working directory (where the tour's files go).
        self.workdir = workdir

    def cell(self, cell_id: str) -> Any:
        return self.cells[cell_id]

    def widget(self, model_id: str) -> dict[str, Any]:
        return self.client.widget_state.get(model_id, {})

    def widgets(self, cell_id: str) -> list[dict[str, Any]]:
        """The state of each widget a cell shows."""
        return [self.widget(view["model_id"]) for view in results(self.cell(cell_id), WIDGET_VIEW)]

    def progress_bars(self, cell_id: str) -> list[dict[str, Any]]:
        """The tqdm bars shown by a cell: label, value, max, style and right-hand text."""
        bars = []
        for output in self.cell(cell_id)["outputs"]:
            view = output.get("data", {}).get(WIDGET_VIEW)
            if not view:
                continue
            box = self.widget(view["model_id"])
            children = [self.widget(ref.removeprefix("IPY_MODEL_")) for ref in box.get("children", [])]
            if len(children) == 3 and children[1].get("_model_name") in ("IntProgressModel",
                                                                          "FloatProgressModel"):
                left, bar, right = children
                # tqdm.notebook writes figure spaces (U+2007) for spaces.
                bars.append({"label": left.get("value", "").replace("\u2007", " "),
                             "value": bar.get("value"), "max": bar.get("max"),
                             "style": bar.get("bar_style"),
                             "text": right.get("value", "").replace("\u2007", " ")})
        return bars


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tour]:
    """Run the whole tour once, as Run All would, with each cell's probe after it."""
    workdir = tmp_path_factory.mktemp("tour")
    nb = nbformat.read(demo_notebook(), as_version=4)
    with tour_sandbox(kubeconfig_path=workdir / "tour.kubeconfig") as sandbox, \
            ControlServer(sandbox), pytest.MonkeyPatch.context() as mp:  # as the demo serves it
        seed(sandbox.kubeconfig_path)  # also ends a persistent shell left by an earlier run
        mp.setenv("KUBECONFIG", str(sandbox.kubeconfig_path))
        client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                resources={"metadata": {"path": str(workdir)}})
        result = Tour(client, nb, workdir)
        try:
            with client.setup_kernel():
                for index, cell in enumerate(nb.cells):
                    if cell.cell_type != "code":
                        continue
                    client.execute_cell(cell, index)
                    probe = CHECKS.get(cell.id, (None, None))[0]
                    if probe:
                        probe_cell = nbformat.v4.new_code_cell(probe)
                        client.execute_cell(probe_cell, index, store_history=False)
                        result.probes[cell.id] = probe_cell
                yield result
        finally:
            # tmux is this machine's: the tour's persistent shell would outlive the sandbox.
            end_persistent_shell(sandbox.kubeconfig_path)


# -- what each cell must show ---------------------------------------------------------------------

Check = Callable[[Tour], None]


def _load(tour: Tour) -> None:
    assert tour.cell("load")["outputs"] == []


def _terminal(tour: Tour) -> None:
    assert results(tour.cell("terminal"), WIDGET_VIEW)
    state = probed(tour.probes["terminal"])
    assert state == {"class": "Terminal", "status": "connected", "title": "default/trainer-0 [trainer]",
                     "error": ""}
    assert "hello from trainer-0" in stream(tour.probes["terminal"], "stdout")


def _picker(tour: Tour) -> None:
    assert results(tour.cell("picker"), WIDGET_VIEW)
    state = probed(tour.probes["picker"])
    assert state["class"] == "Terminal" and state["status"] == "connected"
    assert state["title"] == "default/trainer-2 [trainer]"
    lists = json.loads(stream(tour.probes["picker"], "stdout").split("LISTS", 1)[1].splitlines()[0])
    assert {"default", "monitoring"} <= set(lists["namespaces"])
    assert {"notebook", "trainer-0", "trainer-3"} <= set(lists["pods"])
    assert any(pod.startswith("serving-") for pod in lists["pods"])


def _workload(tour: Tour) -> None:
    state = probed(tour.probes["workload"])
    assert state["status"] == "connected"
    assert re.fullmatch(r"default/serving-\w+-\w+ \(deploy/serving\) \[model-server\]", state["title"])


def _workload_run(tour: Tour) -> None:
    out = stream(tour.cell("workload-run"), "stdout")
    served = re.escape(MODEL_VERSION)
    assert re.fullmatch(rf"default/serving-\w+-\w+ serves {served} \(exit code 0\)\n", out), out


def _script(tour: Tour) -> None:
    cell = tour.cell("script")
    assert stream(cell, "stdout") == ""  # --out: kept in the variable, not shown
    assert stream(tour.probes["script"], "stdout") == repr(
        "".join(f"step={s} loss={loss_at(s, 0):.4f} lr=3.0e-04\n" for s in (1000, 1100, 1200))) + "\n"


def _script_use(tour: Tour) -> None:
    assert value(tour.cell("script-use")) == [
        f"{{'step': '1200', 'loss': '{loss_at(1200, 0):.4f}', 'lr': '3.0e-04'}}"]


def _fanout(tour: Tour) -> None:
    cell = tour.cell("fanout")
    lines = sorted(stream(cell, "stdout").splitlines())
    assert lines == [f"[trainer-{i}] step=1200 loss={loss_at(1200, i):.4f} lr=3.0e-04" for i in range(3)] + [
        f"[trainer-3] step=200 loss={loss_at(200, 3):.4f} lr=3.0e-04"]
    html = results(cell, "text/html")
    assert len(html) == 1 and "4 pods: all exited 0" in html[0]
    assert tour.progress_bars("fanout") == []  # done within a second: no bar


def _fanout_eval(tour: Tour) -> None:
    cell = tour.cell("fanout-eval")
    assert stream(cell, "stdout") == ""
    assert stream(cell, "stderr") == ("[trainer-3] eval.py: no checkpoint in checkpoints/ yet\n"
                                      "[k8sexec] 4 pods: 3 exited 0, 1 failed: trainer-3 (exit 1)\n")
    html = results(cell, "text/html")
    assert len(html) == 1 and "4 pods: 3 exited 0, 1 failed" in html[0]
    # The evaluation takes over a second: a bar counted the pods and the failure.
    bars = tour.progress_bars("fanout-eval")
    assert len(bars) == 1, bars
    assert bars[0]["label"].startswith("pods") and (bars[0]["value"], bars[0]["max"]) == (4, 4)
    assert "1 failed" in bars[0]["text"], bars
    # ... and nothing of it went into the --out variable.
    evals = json.loads(stream(tour.probes["fanout-eval"], "stdout"))
    assert evals["trainer-3"] == [1, "", "eval.py: no checkpoint in checkpoints/ yet\n"]
    for i in range(3):
        code, out, err = evals[f"trainer-{i}"]
        assert code == 0 and err == ""
        assert re.fullmatch(r"checkpoint=step-1200\.pt step=1200 val_loss=[\d.]+ val_acc=[\d.]+\n", out)


def _table(tour: Tour) -> None:
    if importlib.util.find_spec("pandas") is not None:  # the test extra installs it
        html = results(tour.cell("table"), "text/html")
        assert len(html) == 1 and "<table" in html[0] and "val_loss" in html[0]  # a DataFrame
        for i in range(4):
            assert f"trainer-{i}" in html[0]
    else:
        assert value(tour.cell("table"))[0].startswith("[{'pod': 'trainer-0', 'exit_code': 0")
    # Without pandas the same cell shows the rows as a list.
    without = tour.probes["table"]
    assert stream(without, "stdout").startswith("PROBE list 4 ")
    assert "'pod': 'trainer-0', 'exit_code': 0, 'checkpoint': 'step-1200.pt', 'step': 1200.0" in \
        stream(without, "stdout")


def _copy_to(tour: Tour) -> None:
    size = len("lr: 1.5e-4\nbatch_size: 64\nwarmup_steps: 500\n")
    assert value(tour.cell("copy-to")) == [str(size)]
    bars = tour.progress_bars("copy-to")
    assert len(bars) == 1, bars
    assert bars[0]["label"].startswith("hparams.yaml → trainer-3")
    assert (bars[0]["value"], bars[0]["max"], bars[0]["style"]) == (size, size, "success")


def _copy_check(tour: Tour) -> None:
    assert stream(tour.cell("copy-check"), "stdout") == (
        "hparams.yaml\nlr: 1.5e-4\nbatch_size: 64\nwarmup_steps: 500\n")


def _copy_from(tour: Tour) -> None:
    assert value(tour.cell("copy-from")) == [repr(sorted(
        (f"step-{s}.pt", CHECKPOINT_BYTES) for s in CHECKPOINT_STEPS))]
    bars = tour.progress_bars("copy-from")
    assert len(bars) == 1, bars
    bar = bars[0]
    assert bar["label"].startswith("trainer-0:checkpoints")
    assert bar["style"] == "success" and bar["value"] == bar["max"] >= 3 * CHECKPOINT_BYTES
    assert "6.0" in bar["text"] and "/s" in bar["text"]  # 6.0 MiB, with a rate


def _error_terminal(tour: Tour) -> None:
    state = probed(tour.probes["error-terminal"])
    assert state["status"] == "error"
    assert state["error"].startswith('pods "traner-0" not found; did you mean trainer-0')


def _error_python(tour: Tour) -> None:
    out = stream(tour.cell("error-python"), "stdout")
    assert out.startswith('ApiError 404 NotFound: pods "trainer-7" not found; did you mean trainer-'), out


def _drive(tour: Tour) -> None:
    assert probed(tour.probes["drive"])["status"] == "connected"


def _drive_expect(tour: Tour) -> None:
    assert value(tour.cell("drive-expect")) == [repr(str(len(range(100, 1201, 100))))]


def _no_shell(tour: Tour) -> None:
    assert results(tour.cell("no-shell"), WIDGET_VIEW)
    probe = tour.probes["no-shell"]
    state = probed(probe)
    assert state["status"] == "error", state
    # When the exec ends (no shell) before the terminal counted it as connected, the title
    # keeps the target as given (a race in widget/connection.py): either is accepted here.
    assert state["title"] in ("default/model-server-0 [server]", "model-server-0"), state
    assert state["error"].startswith("the container has no shell (a distroless image?): open a debug "
                                     "container next to it with --debug (debug=True); "), state
    found = json.loads(stream(probe, "stdout").split("NOSHELL", 1)[1].splitlines()[0])
    # The header offers Debug (no_shell), with the default image ...
    assert (found["no_shell"], found["image"]) == (True, "busybox"), found
    assert "There is no shell in container server of pod default/model-server-0" in found["output"]
    assert "Debug, in the header, adds an ephemeral debug container" in found["output"]
    # ... and what its confirmation sends reopens the same terminal in a debug container.
    assert found["after_debug"]["status"] == "connected", found
    assert re.fullmatch(rf"default/model-server-0 \[{DEBUGGER_NAME}\]", found["after_debug"]["title"])
    assert found["after_debug"]["no_shell"] is False and found["answer"] == "debug-shell-42"


def _debug(tour: Tour) -> None:
    assert results(tour.cell("debug"), WIDGET_VIEW)
    probe = tour.probes["debug"]
    state = probed(probe)
    assert state["status"] == "connected", state
    assert re.fullmatch(rf"default/model-server-0 \[{DEBUGGER_NAME}\]", state["title"]), state
    found = json.loads(stream(probe, "stdout").split("DEBUG", 1)[1].splitlines()[0])
    assert found["spec"] == ["busybox", "server", "general"], found
    assert found["title"].endswith(f"[{found['container']}]")
    assert f"debug container {found['container']} (busybox) added to pod model-server-0" in found["note"]
    # ps in the debug container finds the distroless server's process.
    assert re.search(r"^\s*\d+ \S*python3 -m http\.server 0 --bind 127\.0\.0\.1", found["ps"], re.M), found
    # The pod's spec now holds the ephemeral container, with the server as its target.
    assert {"name": found["container"], "image": "busybox", "targetContainerName": "server",
            "stdin": True, "tty": True}.items() <= found["ephemeral"].items(), found
    assert found["server_image"] == CANARY_IMAGE


def _attach(tour: Tour) -> None:
    assert results(tour.cell("attach"), WIDGET_VIEW)
    probe = tour.probes["attach"]
    state = probed(probe)
    assert state["status"] == "connected", state
    assert re.fullmatch(r"default/finetune-\w{5} \(job/finetune\) \[finetune\]", state["title"]), state
    found = json.loads(stream(probe, "stdout").split("ATTACH", 1)[1].splitlines()[0])
    assert found["attach"] is True and found["read_only"] is False and found["command"] == []
    assert found["note"] == "If you don't see a command prompt, try pressing enter."
    assert found["status"] == "step=1200 loss=0.4721 lr=3.0e-04"
    # A second terminal attached to the same process, then detached: the job kept running.
    assert found["second"] == "learning rate set to 1.0e-04"
    assert found["after_detach"] == "step=1200 loss=0.4721 lr=1.0e-04"
    assert found["restarts"] == 0


def _node_shell(tour: Tour) -> None:
    assert results(tour.cell("node-shell"), WIDGET_VIEW)
    probe = tour.probes["node-shell"]
    state = probed(probe)
    assert state["status"] == "closed", state  # the probe closed it, after checking it connected
    found = json.loads(stream(probe, "stdout").split("NODE", 1)[1].splitlines()[0])
    assert found["connected"] is True, found
    pod = found["pod"]
    assert re.fullmatch(r"node-debugger-sandbox-gpu-[bcdfghjklmnpqrstvwxz2456789]{5}", pod), found
    assert found["title"] == f"default/{pod} (node/sandbox-gpu) [debugger]"
    assert found["spec"] == [FINETUNE_NODE, True, True, True]
    assert found["host"] == "node-root=42"  # the node's / is mounted at /host
    # Closing the terminal deleted the debug pod.
    assert found["cleanup_error"] is None and found["after_close"] in ("gone", "deleting"), found


def _reconnect(tour: Tour) -> None:
    assert results(tour.cell("reconnect"), WIDGET_VIEW)
    state = probed(tour.probes["reconnect"])
    assert state["status"] == "connected" and state["title"] == "default/trainer-2 [trainer]", state


def _reconnect_restart(tour: Tour) -> None:
    assert value(tour.cell("reconnect-restart")) == ["'back on trainer-2'"]
    found = json.loads(stream(tour.probes["reconnect-restart"], "stdout").split("RESTARTED", 1)[1])
    # The header counted attempts while the API server was down, then the terminal came
    # back by itself, with a new shell.
    assert found["status"] == "connected" and found["generation"] >= 2, found
    assert max(found["attempts"]) >= 1 and found["attempts"][-1] == 0, found
    assert found["second"] != found["first"], found


def _persist(tour: Tour) -> None:
    assert results(tour.cell("persist"), WIDGET_VIEW)
    probe = tour.probes["persist"]
    state = probed(probe)
    assert state["status"] == "connected" and state["title"] == "default/trainer-0 [trainer]", state
    found = json.loads(stream(probe, "stdout").split("PERSIST", 1)[1].splitlines()[0])
    assert found["persist"].startswith("k8stty-") and found["persist"].endswith(f"-{PERSIST_NAME}")
    assert found["pid"].isdigit() and found["tmux"] == "yes", found  # the shell runs inside tmux


def _persist_mark(tour: Tour) -> None:
    assert value(tour.cell("persist-mark")) == ["'draft=v2'"]


def _sessions(tour: Tour) -> None:
    # Other persistent shells of this user on this machine may be listed too.
    lines = stream(tour.cell("sessions"), "stdout").splitlines()
    assert f"{PERSIST_NAME}: tmux, 1 terminal(s) attached" in lines, lines
    found = json.loads(stream(tour.probes["sessions"], "stdout").split("SURVIVE", 1)[1].splitlines()[0])
    # A new terminal with the same name, as after a kernel restart, joins the same shell:
    # same pid, the variable set from the notebook still there.
    assert found["status"] == "connected", found
    assert found["answer"] == f"v2 pid={found['pid']}", found
    assert found["clients"] == 2, found


def _record(tour: Tour) -> None:
    assert results(tour.cell("record"), WIDGET_VIEW)
    state = probed(tour.probes["record"])
    assert state["status"] == "connected" and state["title"] == "default/trainer-0 [trainer]", state
    assert "RECORDING tour.cast" in stream(tour.probes["record"], "stdout")


def _record_run(tour: Tour) -> None:
    assert value(tour.cell("record-run")) == ["'tour.cast'"]
    header, *events = [json.loads(line) for line in
                       (tour.workdir / "tour.cast").read_text(encoding="utf-8").splitlines()]
    assert header["version"] == 2 and (header["width"], header["height"]) == (80, 24), header
    # Recording from the start, before the pod is resolved: the title is the target as given.
    assert header["title"] == "trainer-0" and isinstance(header["timestamp"], int)
    assert events and all(isinstance(e[0], (int, float)) and e[1] in ("o", "r") for e in events), events
    assert [e[0] for e in events] == sorted(e[0] for e in events)
    output = "".join(e[2] for e in events if e[1] == "o")
    assert "tail -n 3 train.log && sleep 1 && ls checkpoints" in output  # typed, echoed: output
    for step in (1000, 1100, 1200):
        assert f"step={step} loss={loss_at(step, 0):.4f} lr=3.0e-04\r\n" in output, output
    assert re.search(r"step-1200\.pt\s+step-400\.pt\s+step-800\.pt", output), output
    # Each event has its time: the listing came a second after the log (the sleep).
    logged = next(e[0] for e in events if "step=1200" in e[2])
    listed = next(e[0] for e in events if "step-800.pt" in e[2] and "ls checkpoints" not in e[2])
    assert 0.9 <= listed - logged < 10, events
    assert stream(tour.probes["record-run"], "stdout") == "PROBE None\n"  # stopped


def _player(tour: Tour) -> None:
    (player,) = tour.widgets("player")
    assert player["_view"] == "player", player.keys()
    assert (player["cols"], player["rows"]) == (80, 24)
    assert player["title"] == "trainer-0" and player["duration"] >= 0.9  # the sleep included
    assert "tour.cast" in player["_where"]


PICKER_PROBE = """
import json as _json
_picker = _
print("LISTS" + _json.dumps({"namespaces": list(_picker.namespace.options),
                             "pods": list(_picker.pod.options)}))
_picker.pod.value = "trainer-2"
_picker.open_selected()
""" + probe_terminal("_picker.terminal")

TABLE_PROBE = """
import sys as _sys
_saved = _sys.modules.get("pandas")
_sys.modules["pandas"] = None  # import pandas now raises ImportError
try:
    exec(_TABLE_SOURCE, globals())
finally:
    _sys.modules["pandas"] = _saved
print("PROBE", type(table).__name__, len(table), table[0])
"""

NO_SHELL_PROBE = probe_terminal(status="error") + """
_found = {"no_shell": _term.no_shell, "image": _term._debug_image, "output": _term.output}
_term._handle_message(_term, {"type": "debug"}, [])  # what the confirmed Debug action sends
_deadline = _time.monotonic() + 20
while _term.status != "connected" and _time.monotonic() < _deadline:
    _time.sleep(0.05)
_found["after_debug"] = {"status": _term.status, "title": _term.title, "no_shell": _term.no_shell}
if _term.status == "connected":
    _term.send("echo debug-shell-$((6 * 7))\\r")
    _found["answer"] = _term.expect(r"debug-shell-\\d+").group(0)
print("NOSHELL" + _json.dumps(_found))
"""

DEBUG_PROBE = probe_terminal() + """
from jupyter_k8stty.exec.api import api_get as _api_get
from jupyter_k8stty.exec.client import load_cluster_config as _load_cluster_config
_session = _term.session
_term.send("ps -eo pid,args | grep '[h]ttp.server'\\r")
_ps = _term.expect(r"\\d+ \\S*python3 -m http.server[^\\r\\n]*").group(0)
_code, _pod = _api_get(_load_cluster_config(), "/api/v1/namespaces/default/pods/model-server-0")
_name = _session.container
print("DEBUG" + _json.dumps({
    "container": _name, "title": _term.title, "note": _term.note or "", "ps": _ps,
    "spec": [_session.debug.image, _session.debug.target_container, _session.debug.profile],
    "ephemeral": next(c for c in _pod["spec"]["ephemeralContainers"] if c["name"] == _name),
    "server_image": _pod["spec"]["containers"][0]["image"]}))
"""

ATTACH_PROBE = probe_terminal() + """
from jupyter_k8stty import Terminal as _Terminal
from jupyter_k8stty.exec.api import api_get as _api_get
from jupyter_k8stty.exec.client import load_cluster_config as _load_cluster_config
_found = {"attach": _term.session.attach, "read_only": _term.read_only,
          "command": _term.session.command, "note": _term.note or ""}
_term.send("\\r")  # as the note says: a prompt
_term.expect(r"finetune> ")
_term.send("status\\r")
_found["status"] = _term.expect(r"step=\\d+ loss=\\S+ lr=\\S+").group(0)
_second = _Terminal("job/finetune", attach=True)
_deadline = _time.monotonic() + 15
while _second.status != "connected" and _time.monotonic() < _deadline:
    _time.sleep(0.05)
_second.send("lr 1e-4\\r")
_found["second"] = _second.expect(r"learning rate set to \\S+").group(0)
_second.close()
_time.sleep(0.5)
_term.send("status\\r")
_found["after_detach"] = _term.expect(r"step=\\d+ loss=\\S+ lr=\\S+").group(0)
_pod = _term.session.pod
_code, _body = _api_get(_load_cluster_config(), f"/api/v1/namespaces/default/pods/{_pod}")
_found["restarts"] = _body["status"]["containerStatuses"][0]["restartCount"]
print("ATTACH" + _json.dumps(_found))
"""

NODE_PROBE = """
import json as _json, time as _time
from jupyter_k8stty.exec.api import api_get as _api_get
from jupyter_k8stty.exec.client import load_cluster_config as _load_cluster_config
_term = _
_deadline = _time.monotonic() + 20
while _term.status not in ("connected", "error", "exited", "closed") and _time.monotonic() < _deadline:
    _time.sleep(0.05)
_session = _term.session
_found = {"connected": _term.status == "connected", "title": _term.title, "pod": _session.debug_pod}
_cluster = _load_cluster_config()
_code, _pod = _api_get(_cluster, f"/api/v1/namespaces/default/pods/{_session.debug_pod}")
_found["spec"] = [_pod["spec"]["nodeName"], _pod["spec"]["hostPID"], _pod["spec"]["hostNetwork"],
                  _pod["spec"]["hostIPC"]]
_term.send("test -d host/etc && echo node-root=$((40 + 2))\\r")
_found["host"] = _term.expect(r"node-root=\\d+").group(0)
_term.close()
_found["cleanup_error"] = _session.cleanup_error
_code, _pod = _api_get(_cluster, f"/api/v1/namespaces/default/pods/{_session.debug_pod}")
_found["after_close"] = ("gone" if _code == 404 else
                         "deleting" if _pod["metadata"].get("deletionTimestamp") else "still there")
print("NODE" + _json.dumps(_found))
print("PROBE" + _json.dumps({"class": type(_term).__name__, "status": _term.status,
                             "title": _term.title, "error": _term.error}))
"""

#: Watches the terminal's reconnect_attempt before the restart cell runs.
RECONNECT_PROBE = probe_terminal("blip") + """
_blip_attempts = []
blip.observe(lambda change: _blip_attempts.append(change["new"]), names="reconnect_attempt")
blip.send("echo first-shell=$$\\r")
_blip_pid = blip.expect(r"first-shell=(\\d+)").group(1)
"""

RESTARTED_PROBE = """
import json as _json
blip.send("echo second-shell=$$\\r")
print("RESTARTED" + _json.dumps({"status": blip.status, "attempts": _blip_attempts, "first": _blip_pid,
                                 "second": blip.expect(r"second-shell=(\\d+)").group(1),
                                 "generation": blip._connection.generation}))
"""

PERSIST_PROBE = probe_terminal() + """
_term.send("echo persist-pid=$$ tmux=${TMUX:+yes}\\r")
_m = _term.expect(r"persist-pid=(\\d+) tmux=(\\w*)")
_persist_pid = _m.group(1)
print("PERSIST" + _json.dumps({"persist": _term.persist, "pid": _persist_pid, "tmux": _m.group(2)}))
"""

#: A second terminal with the same --persist name, as after a kernel restart: the same shell.
SURVIVE_PROBE = """
import json as _json, time as _time
from jupyter_k8stty import Terminal as _Terminal, sessions as _sessions
_again = _Terminal("trainer-0", persist="tour")
_deadline = _time.monotonic() + 15
while _again.status != "connected" and _time.monotonic() < _deadline:
    _time.sleep(0.05)
_again.send("echo $DRAFT pid=$$\\r")
_found = {"status": _again.status, "pid": _persist_pid,
          "answer": _again.expect(r"v2 pid=\\d+").group(0)}
_found["clients"] = next(s.clients for s in _sessions("trainer-0") if s.label == "tour")
_again.close()
print("SURVIVE" + _json.dumps(_found))
"""

#: Cell id -> (probe code or ``None``, check). Probes run right after their cell.
CHECKS: dict[str, tuple[str | None, Check]] = {
    "load": (None, _load),
    "terminal": (probe_terminal(extra='_term.send("echo hello from $HOSTNAME\\r"); '
                                      'print(_term.expect(r"hello from trainer-\\d").group(0))'),
                 _terminal),
    "picker": (PICKER_PROBE, _picker),
    "workload": (probe_terminal(), _workload),
    "workload-run": (None, _workload_run),
    "script": ("print(repr(log))", _script),
    "script-use": (None, _script_use),
    "fanout": (None, _fanout),
    "fanout-eval": ("import json as _json\nprint(_json.dumps({p: [r.exit_code, r.stdout.decode(), "
                    "r.stderr.decode()] for p, r in evals.items()}))", _fanout_eval),
    "table": (None, _table),  # its probe needs the cell's source: set in test_tour_table_without_pandas
    "copy-to": (None, _copy_to),
    "copy-check": (None, _copy_check),
    "copy-from": (None, _copy_from),
    "error-terminal": (probe_terminal(status="error"), _error_terminal),
    "error-python": (None, _error_python),
    "drive": (probe_terminal("t"), _drive),
    "drive-expect": (None, _drive_expect),
    "no-shell": (NO_SHELL_PROBE, _no_shell),
    "debug": (DEBUG_PROBE, _debug),
    "attach": (ATTACH_PROBE, _attach),
    "node-shell": (NODE_PROBE, _node_shell),
    "reconnect": (RECONNECT_PROBE, _reconnect),
    "reconnect-restart": (RESTARTED_PROBE, _reconnect_restart),
    "persist": (PERSIST_PROBE, _persist),
    "persist-mark": (None, _persist_mark),
    "sessions": (SURVIVE_PROBE, _sessions),
    "record": (probe_terminal(extra='print("RECORDING", _term.recording)'), _record),
    "record-run": ("print('PROBE', rec.recording)", _record_run),
    "player": (None, _player),
}


def _table_probe() -> str:
    nb = nbformat.read(demo_notebook(), as_version=4)
    source = next(c.source for c in nb.cells if c.get("id") == "table")
    return TABLE_PROBE.replace("_TABLE_SOURCE", repr(source))


CHECKS["table"] = (_table_probe(), _table)


def test_every_code_cell_of_the_tour_is_checked():
    nb = nbformat.read(demo_notebook(), as_version=4)
    nbformat.validate(nb)
    ids = [cell.id for cell in nb.cells]
    assert len(ids) == len(set(ids)), "cell ids must be unique"
    code = [cell.id for cell in nb.cells if cell.cell_type == "code"]
    assert sorted(code) == sorted(CHECKS), "every code cell needs a check in CHECKS, and only those"
    # The tour is shipped clean: no outputs or execution counts saved in it.
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.id


def test_the_tour_shows_debug_containers_and_sessions_that_survive():
    nb = nbformat.read(demo_notebook(), as_version=4)
    text = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    assert "TOUR PLACEHOLDER" not in text and "still to be written" not in text
    assert "## 11. Pods without a shell" in text and "## 12. Sessions that survive" in text
    # What no code cell can show in nbclient is explained: the Debug button and its
    # confirmation, reconnecting by itself, and the header's Snapshot button.
    assert "**Debug**" in text and "cannot be removed from a pod" in text
    assert "reconnecting (attempt 3)…" in text and "**Snapshot**" in text
    code = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    assert ".snapshot(" not in code, "snapshot() needs a browser view: nbclient has none"


@pytest.mark.parametrize("cell_id", list(CHECKS))
def test_tour_cell(tour: Tour, cell_id: str):
    CHECKS[cell_id][1](tour)
