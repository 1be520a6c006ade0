"""Saved notebooks stay small: the bundle travels over a custom message, never in the widget state.

nbclient executes a notebook in a real kernel and stores the widget state the way
JupyterLab does (``comm_open`` state plus every ``update``), so the saved file holds
exactly what a notebook with terminals costs on disk.
"""

from __future__ import annotations

import json
import textwrap

import nbformat
from nbclient import NotebookClient

#: Terminals in the notebook of the size test.
TERMINALS = 10
#: Largest saved notebook with ten terminals (issue 16: under 100 KB plus other outputs).
MAX_NOTEBOOK_BYTES = 100_000
#: Largest saved widget state of one terminal, its layout model included.
MAX_TERMINAL_STATE_BYTES = 5_000
#: Seconds a cell may take (a terminal connects in the background).
CELL_TIMEOUT = 60

TERMINAL_MODEL = "AnyModel"


def _execute(cells: list[str], path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", store_widget_state=True).execute()
    nbformat.write(nb, path)
    return nbformat.read(path, as_version=4)


def _terminal_cells(kubeconfig: str) -> list[str]:
    setup = textwrap.dedent(f"""
        from jupyter_k8stty import Terminal
        KUBECONFIG = {kubeconfig!r}
    """)
    cell = textwrap.dedent("""
        t{i} = Terminal("demo", kubeconfig=KUBECONFIG)
        t{i}.expect(r"[#$] $")  # connected, prompt shown: the state holds the resolved title
        t{i}
    """)
    return [setup, *(cell.format(i=i) for i in range(TERMINALS))]


def test_a_notebook_with_ten_terminals_saves_small(kubeconfig, tmp_path):
    path = tmp_path / "ten.ipynb"
    nb = _execute(_terminal_cells(kubeconfig), path)
    size = path.stat().st_size
    states = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    terminals = {k: v for k, v in states.items() if v["model_name"] == TERMINAL_MODEL}
    assert len(terminals) == TERMINALS
    for model_id, model in terminals.items():
        layout_id = model["state"]["layout"].removeprefix("IPY_MODEL_")
        saved = len(json.dumps(model)) + len(json.dumps(states.get(layout_id, {})))
        assert saved < MAX_TERMINAL_STATE_BYTES, (model_id, saved, sorted(model["state"]))
        assert model["state"]["_css"] == ""
        assert "xterm" not in model["state"]["_esm"]  # the loader, not the bundle
    assert size < MAX_NOTEBOOK_BYTES, size
    print(f"saved notebook with {TERMINALS} terminals: {size} bytes")


def test_the_text_repr_says_where_and_not_connected(kubeconfig, tmp_path):
    nb = _execute(_terminal_cells(kubeconfig)[:2], tmp_path / "one.ipynb")
    data = nb.cells[1].outputs[-1]["data"]
    assert data["text/plain"] == "terminal into default/demo: not connected"
    assert "application/vnd.jupyter.widget-view+json" in data
