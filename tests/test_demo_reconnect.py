"""The tour's reconnect cells (issue 15 item 5) in a real kernel: a sandbox restart, seen by a terminal.

The tour's cells ``reconnect`` (a terminal into ``trainer-2``) and ``reconnect-restart``
(``restart_sandbox(downtime=3)``, then a command in the same terminal) run as they are
in ``notebooks/demo.ipynb``, against the demo's sandbox in this process with the
:class:`~jupyter_k8stty.sandbox.control.ControlServer` that ``jupyter-k8stty demo``
starts. Probes in the same kernel watch the terminal's ``reconnect_attempt`` (what the
header shows as ``reconnecting (attempt N)…``) across the restart.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from jupyter_k8stty.demo import demo_notebook
from jupyter_k8stty.sandbox.control import control_path, serve_control
from jupyter_k8stty.sandbox.tour_pods import tour_sandbox

CELL_TIMEOUT = 60
DOWNTIME = 3.0
#: Where the watch probe, the tour's restart cell and the after probe are in the notebook run.
WATCH_AT, RESTART_AT, AFTER_AT = 3, 4, 5

#: Right after the terminal's cell, as Run All goes on (the terminal may still be starting):
#: every reconnect_attempt and status it goes through from now on is kept.
WATCH = """
import json as _json
_attempts, _statuses = [], []
blip.observe(lambda change: _attempts.append(change["new"]), names="reconnect_attempt")
blip.observe(lambda change: _statuses.append(change["new"]), names="status")
print("WATCH" + _json.dumps({"status": blip.status, "title": blip.title, "slow": slow.status}))
"""

#: After the restart cell: what the terminal went through, and a command in it now.
AFTER = """
blip.send("echo after-$((6 * 7)) pid=$$\\r")
_after = blip.expect(r"after-42 pid=(\\d+)")
print("AFTER" + _json.dumps({"status": blip.status, "attempts": _attempts, "statuses": _statuses,
                             "generation": blip._connection.generation, "error": blip.error,
                             "reconnect_attempt": blip.reconnect_attempt,
                             "slow": [slow.status, slow.error]}))
slow.close()
"""


def _cell(cell_id: str) -> Any:
    nb = nbformat.read(demo_notebook(), as_version=4)
    return next(cell for cell in nb.cells if cell.get("id") == cell_id)


def _printed(cell: Any, tag: str) -> dict[str, Any]:
    text = "".join(o.get("text", "") for o in cell["outputs"] if o["output_type"] == "stream")
    assert tag in text, cell["outputs"]
    return json.loads(text.split(tag, 1)[1].splitlines()[0])


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Run the tour's reconnect cells, with the watch and after probes, against the demo's sandbox."""
    workdir = tmp_path_factory.mktemp("demo-reconnect")
    with tour_sandbox(kubeconfig_path=workdir / "sandbox.kubeconfig") as sandbox, \
            pytest.MonkeyPatch.context() as mp:
        control = serve_control(sandbox, "test")  # what `jupyter-k8stty demo` does
        assert control is not None, "the demo could not serve the control socket"
        try:
            assert control.path == control_path(sandbox.kubeconfig_path)
            mp.setenv("KUBECONFIG", str(sandbox.kubeconfig_path))
            # A node shell just before, as in the tour: its debug pod is still starting when
            # Run All reaches the restart, which must wait for it (a broken first connection
            # is not retried).
            slow = 'from jupyter_k8stty import Terminal\nslow = Terminal("node/sandbox-gpu")'
            cells = [nbformat.v4.new_code_cell("%load_ext jupyter_k8stty"), nbformat.v4.new_code_cell(slow),
                     _cell("reconnect"), nbformat.v4.new_code_cell(WATCH), _cell("reconnect-restart"),
                     nbformat.v4.new_code_cell(AFTER)]
            nb = nbformat.v4.new_notebook(cells=cells)
            client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                    resources={"metadata": {"path": str(workdir)}})
            took: dict[str, float] = {}
            with client.setup_kernel():
                for index, cell in enumerate(nb.cells):
                    started = time.monotonic()
                    client.execute_cell(cell, index)
                    took[cell.get("id", str(index))] = time.monotonic() - started
            yield {"cells": nb.cells, "took": took}
        finally:
            control.stop()
    assert not Path(control.path).exists(), "the control socket outlived the demo"


def test_the_restart_cell_is_the_tours_own():
    source = _cell("reconnect-restart").source
    assert "restart_sandbox(downtime=3)" in source and "blip.send(" in source
    assert 'blip = Terminal("trainer-2")' in _cell("reconnect").source


def test_the_restart_cell_waits_for_a_terminal_still_starting(ran):
    # Run All runs the restart right after the terminal's cell: a first connection that a
    # restart broke would not be retried (only one that had been up is), so the cell waits.
    before = _printed(ran["cells"][WATCH_AT], "WATCH")
    assert before["status"] in ("connecting", "connected"), before
    went = _printed(ran["cells"][AFTER_AT], "AFTER")["statuses"]
    # Connected before the restart: already when watched, or on the way to it.
    assert before["status"] == "connected" or went[0] == "connected", (before, went)


def test_a_terminal_still_starting_at_the_restart_reconnects_too(ran):
    assert _printed(ran["cells"][AFTER_AT], "AFTER")["slow"] == ["connected", ""]


def test_the_terminal_counts_its_attempts_and_comes_back_by_itself(ran):
    restart = ran["cells"][RESTART_AT]
    assert not [o for o in restart["outputs"] if o["output_type"] == "error"], restart["outputs"]
    # The cell's own last line: a command typed into the reconnected terminal answered.
    results = [o["data"]["text/plain"] for o in restart["outputs"] if o["output_type"] == "execute_result"]
    assert results == ["'back on trainer-2'"]
    assert ran["took"]["reconnect-restart"] >= DOWNTIME  # the API server was down that long
    after = _printed(ran["cells"][AFTER_AT], "AFTER")
    # The header went through "reconnecting (attempt N)…" (status connecting, attempt > 0) ...
    assert max(after["attempts"]) >= 2, after  # 0.5 s + 1 s of attempts fit in 3 s of downtime
    assert "connecting" in after["statuses"] and "error" not in after["statuses"], after
    # ... and is back to connected, no attempt under way, no error, on a new session.
    assert after["status"] == "connected" and after["statuses"][-1] == "connected", after
    assert after["attempts"][-1] == 0 and after["reconnect_attempt"] == 0 and after["error"] == "", after
    assert after["generation"] >= 2, after
