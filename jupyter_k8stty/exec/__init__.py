"""The exec core: the Kubernetes exec protocol, the streaming session and ``run()``.

Nothing here imports Jupyter: it works from plain Python.
"""

from .fanout import FanoutResults, PodResult, run_many
from .run import ExecResult, run
from .session import DEFAULT_SHELL, ExecSession

__all__ = [
    "DEFAULT_SHELL",
    "ExecResult",
    "ExecSession",
    "FanoutResults",
    "PodResult",
    "run",
    "run_many",
]
