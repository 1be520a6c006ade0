"""IPython magics, registered by ``%load_ext jupyter_k8stty``.

``%k8sexec POD`` (line) opens an interactive terminal (:mod:`.terminal`);
``%%k8sexec TARGET`` (cell) runs the cell as a script in the pod (:mod:`.script`: one
pod in :mod:`.script_one`, many in :mod:`.script_many`, output sinks in :mod:`.streams`).
Both declare kubectl's flags through :mod:`.flags`; :mod:`.completion` completes them.
"""

from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class

from .completion import register_completer
from .script import run_cell
from .terminal import open_terminal


@magics_class
class K8sExecMagics(Magics):
    """The ``%k8sexec`` / ``%%k8sexec`` magics."""

    @line_cell_magic
    def k8sexec(self, line: str, cell: str | None = None) -> Any:
        """Open a terminal into a pod (line magic) or run the cell as a script in it (cell magic).

        ``%k8sexec POD [-n NS] [-c CONTAINER] [--as USER] [-- COMMAND ...]`` and
        ``%%k8sexec TARGET [-n NS] [-c CONTAINER] [--shell PROGRAM] [--out VAR] [--timeout S] ...``;
        add ``-h`` for every option.
        """
        if cell is None:
            return open_terminal(line)
        return run_cell(self.shell, line, cell)


def register(ipython: Any) -> None:
    """Register the magics with an IPython shell."""
    ipython.register_magics(K8sExecMagics)
    register_completer(ipython)
