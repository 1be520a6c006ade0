"""The exec core: the Kubernetes exec protocol, the streaming session and ``run()``.

Nothing here imports Jupyter: it works from plain Python.
"""

from .run import ExecResult, run
from .session import DEFAULT_SHELL, ExecSession

__all__ = ["DEFAULT_SHELL", "ExecResult", "ExecSession", "run"]
