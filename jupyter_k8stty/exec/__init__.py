"""The exec core: where to exec, the Kubernetes exec protocol, the streaming session and ``run()``.

Nothing here imports Jupyter: it works from plain Python. A map of the modules:

* :mod:`.kinds` (pure): target kinds as data and the parsing of a target string;
* :mod:`.target`: :class:`ExecTarget`, the one value for where to exec;
* :mod:`.client`, :mod:`.api`: cluster configuration, the cached API client, GETs and
  error texts; :mod:`.resolve`: a target to a pod and container, as ``kubectl exec``;
* :mod:`.protocol` (pure): channel framing and status parsing; :mod:`.connect`: the
  websocket handshake; :mod:`.session`: :class:`ExecSession` and its reader thread;
  :mod:`.keepalive`: pings for dead peers;
* :mod:`.run`, :mod:`.fanout`: run to completion on one pod or many;
* :mod:`.profiles` (pure), :mod:`.debug`, :mod:`.node_debug`, :mod:`.endpoint`: debug
  containers (:class:`DebugSpec`), node shells and attach, as ``kubectl debug``/``attach``.
"""

from ..errors import DebugError
from .fanout import FanoutResults, PodResult, run_many
from .profiles import DebugSpec
from .run import ExecResult, run
from .session import DEFAULT_SHELL, ExecSession
from .status import SessionStatus
from .target import ExecTarget

__all__ = [
    "DEFAULT_SHELL",
    "DebugError",
    "DebugSpec",
    "ExecResult",
    "ExecSession",
    "ExecTarget",
    "FanoutResults",
    "PodResult",
    "SessionStatus",
    "run",
    "run_many",
]
