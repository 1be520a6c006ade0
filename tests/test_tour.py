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
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from jupyter_k8stty.demo import demo_notebook
from jupyter_k8stty.sandbox.tour_pods import (
    CHECKPOINT_BYTES,
    CHECKPOINT_STEPS,
    MODEL_VERSION,
    loss_at,
    seed,
    tour_sandbox,
)

#: Seconds a tour cell may take (the evaluation fan-out takes about two).
CELL_TIMEOUT = 60
#: Seconds a probe waits for a terminal to reach the status it expects.
STATUS_TIMEOUT = 15
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

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

    def __init__(self, client: NotebookClient, nb: Any):
        self.client = client
        self.cells = {cell.id: cell for cell in nb.cells}
        self.probes: dict[str, Any] = {}

    def cell(self, cell_id: str) -> Any:
        return self.cells[cell_id]

    def widget(self, model_id: str) -> dict[str, Any]:
        return self.client.widget_state.get(model_id, {})

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
            pytest.MonkeyPatch.context() as mp:
        seed(sandbox.kubeconfig_path)
        mp.setenv("KUBECONFIG", str(sandbox.kubeconfig_path))
        client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                resources={"metadata": {"path": str(workdir)}})
        result = Tour(client, nb)
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


def test_the_tour_keeps_places_for_debug_containers_and_sessions():
    nb = nbformat.read(demo_notebook(), as_version=4)
    text = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    assert "TOUR PLACEHOLDER (issue 11)" in text and "TOUR PLACEHOLDER (issue 15)" in text


@pytest.mark.parametrize("cell_id", list(CHECKS))
def test_tour_cell(tour: Tour, cell_id: str):
    CHECKS[cell_id][1](tour)
