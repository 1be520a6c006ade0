"""jupyter-k8stty: an interactive terminal into a Kubernetes pod, inside a Jupyter notebook.

Plain Python needs only the exec core::

    from jupyter_k8stty import run, ExecSession
    run("web-0", ["nvidia-smi"]).stdout

In a notebook, ``%load_ext jupyter_k8stty`` and ``%k8sexec POD`` open a terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    ApiError,
    ArgumentError,
    ConfigError,
    DebugError,
    ExecError,
    ExecTimeout,
    K8sTTYError,
    StreamError,
    TargetError,
)
from .exec import (
    DEFAULT_SHELL,
    DebugSpec,
    ExecResult,
    ExecSession,
    ExecTarget,
    FanoutResults,
    PodResult,
    run,
    run_many,
)
from .exec.persist import PersistentSession, sessions
from .transfer import CopyError, copy_from, copy_to

if TYPE_CHECKING:
    from .widget import Player, Terminal

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_SHELL",
    "ApiError",
    "ArgumentError",
    "ConfigError",
    "CopyError",
    "DebugError",
    "DebugSpec",
    "ExecError",
    "ExecResult",
    "ExecSession",
    "ExecTarget",
    "ExecTimeout",
    "FanoutResults",
    "K8sTTYError",
    "PersistentSession",
    "Player",
    "PodResult",
    "StreamError",
    "TargetError",
    "Terminal",
    "copy_from",
    "copy_to",
    "load_ipython_extension",
    "run",
    "run_many",
    "sessions",
]


def __getattr__(name: str) -> Any:
    # The widget pulls in ipywidgets/anywidget; plain-Python users of the exec core
    # should not pay for that import.
    if name == "Terminal":
        from .widget import Terminal

        return Terminal
    if name == "Player":
        from .widget import Player

        return Player
    raise AttributeError(f"module 'jupyter_k8stty' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """Register the ``%k8sexec`` magics (``%load_ext jupyter_k8stty``)."""
    from .magics import register

    register(ipython)
