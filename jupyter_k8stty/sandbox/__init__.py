"""A local Kubernetes API server stand-in, so demos and tests need no cluster.

It serves discovery, pods, namespaces, nodes and websocket exec and attach over real
TLS with bearer-token auth, RBAC users and impersonation, and writes a kubeconfig that
``kubectl`` and the Python client accept. Exec runs the command on this machine, in a
per-container working directory, in a PTY (``tty=true``) or with pipes; a container's
main process (``PodSpec(commands=...)``) is what attach joins. Ephemeral debug
containers (``kubectl debug POD``), node debug pods (``kubectl debug node/NAME``), image
pull failures and Pod Security admission behave as on a cluster (see
:mod:`.kubelet`, :mod:`.podwrites`, :mod:`.podsecurity`).

The sandbox needs the ``demo`` extra (``pip install "jupyter-k8stty[demo]"``, for
``cryptography``). Its names are imported on first use, so importing this package (as
the pytest plugin :mod:`.pytest_fixtures` does) costs nothing and never fails.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_k8stty.sandbox.nodes import NodeSpec
    from jupyter_k8stty.sandbox.pods import PodSpec, default_pods
    from jupyter_k8stty.sandbox.server import Sandbox

__all__ = ["DEMO_EXTRA", "NodeSpec", "PodSpec", "Sandbox", "default_pods", "missing_extra"]

#: The command that installs what the sandbox and the demo need.
DEMO_EXTRA = 'pip install "jupyter-k8stty[demo]"'


def missing_extra(module: str, what: str | None = None, *, import_it: bool = True) -> str | None:
    """Return one line saying what to install when ``module`` cannot be imported, else ``None``.

    Args:
        module: the module to look for (``cryptography``, ``jupyterlab``).
        what: how the message names it (default: the module's name in quotes).
        import_it: import the module (catches broken installs too); ``False`` only
            looks for it, for heavy modules that another process will run.
    """
    try:
        if import_it:
            importlib.import_module(module)
            found = True
        else:
            found = importlib.util.find_spec(module) is not None
    except ImportError:
        found = False
    if found:
        return None
    return f"{what or repr(module)} is not installed: {DEMO_EXTRA}"


def __getattr__(name: str) -> Any:
    if name in ("PodSpec", "default_pods"):
        from jupyter_k8stty.sandbox import pods

        return getattr(pods, name)
    if name == "NodeSpec":
        from jupyter_k8stty.sandbox.nodes import NodeSpec

        return NodeSpec
    if name == "Sandbox":
        from jupyter_k8stty.sandbox.server import Sandbox

        return Sandbox
    raise AttributeError(f"module 'jupyter_k8stty.sandbox' has no attribute {name!r}")
