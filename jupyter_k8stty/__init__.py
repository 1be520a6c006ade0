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
    ExecError,
    ExecTimeout,
    K8sTTYError,
    StreamError,
    TargetError,
)
from .exec import (
    DEFAULT_SHELL,
    ExecResult,
    ExecSession,
    ExecTarget,
    FanoutResults,
    PodResult,
    run,
    run_many,
)
from .transfer import CopyError, copy_from, copy_to

if TYPE_CHECKING:
    from .widget import Terminal

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_SHELL",
    "ApiError",
    "ArgumentError",
    "ConfigError",
    "CopyError",
    "ExecError",
    "ExecResult",
    "ExecSession",
    "ExecTarget",
    "ExecTimeout",
    "FanoutResults",
    "K8sTTYError",
    "PodResult",
    "StreamError",
    "TargetError",
    "Terminal",
    "copy_from",
    "copy_to",
    "load_ipython_extension",
    "run",
    "run_many",
]


def __getattr__(name: str) -> Any:
    # The widget pulls in ipywidgets/anywidget; plain-Python users of the exec core
    # should not pay for that import.
    if name == "Terminal":
        from .widget import Terminal

        return Terminal
    raise AttributeError(f"module 'jupyter_k8stty' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """Register the ``%k8sexec`` magics (``%load_ext jupyter_k8stty``)."""
    from .magics import register

    register(ipython)
