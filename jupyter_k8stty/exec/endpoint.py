"""Where a session connects: exec in a container, attach to one, or a debug container first.

:func:`find_endpoint` turns what an :class:`~jupyter_k8stty.exec.session.ExecSession`
was asked for into an :class:`Endpoint`, the one thing ``start()`` opens:

* **exec** (the default): the pod and container the target resolves to, the command;
* **attach** (``attach=True``): the container's main process through ``pods/NAME/attach``,
  as ``kubectl attach``: its TTY as the container has one, stdin only when its spec has
  ``stdin: true`` (else a read-only session and a note saying so);
* **debug** (``debug=``): an ephemeral container added to the resolved pod
  (:mod:`.debug`), then attached to, or the command run in it;
* **node** (``node/NAME``): a debug pod created on the node (:mod:`.node_debug`), then
  attached to, or the command run in it; the endpoint carries the pod to delete.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..errors import ArgumentError, K8sTTYError
from .api import release_connections
from .client import ClusterConfig
from .debug import add_debug_container, wait_for_container
from .kinds import NODE
from .node_debug import NodeDebugPod, create_node_debug_pod
from .platform import DEFAULT_SHELL, OS_LABEL, WINDOWS_SHELL, PodOS, pod_os
from .profiles import NODE_DEBUG_CONTAINER, DebugSpec
from .resolve import _Lookup, resolve_pods
from .target import ExecTarget

__all__ = ["Endpoint", "attach_settings", "find_endpoint", "forget_node_labels"]

WaitCallback = Callable[[str, str, str], None]

#: Nodes whose OS label was read, at most this many remembered (:func:`_node_labels`).
NODE_CACHE_SIZE = 4096

_node_labels_seen: dict[tuple[str, str], dict[str, str]] = {}
_node_labels_lock = threading.Lock()

#: Said when attaching to a running shell, which prints no prompt until a key arrives (kubectl's words).
PRESS_ENTER = "If you don't see a command prompt, try pressing enter."


@dataclass
class Endpoint:
    """What a session opens.

    Attributes:
        namespace: the pod's namespace.
        pod: the pod's name.
        container: the container (``None``: the server's choice).
        command: the argv to exec; ``None`` attaches to the main process.
        tty: whether the stream has a TTY.
        stdin: whether the stream takes input.
        note: a one-line note for the user (defaulted container, read-only attach).
        debug_container: the ephemeral container added for this session, if any.
        node_pod: the node debug pod created for this session, to delete when it ends.
        os: the pod's operating system, when the pod was looked up.
    """

    namespace: str
    pod: str
    container: str | None
    command: list[str] | None
    tty: bool
    stdin: bool
    note: str | None = None
    debug_container: str | None = None
    node_pod: NodeDebugPod | None = None
    os: PodOS | None = None


def attach_settings(pod: dict[str, Any], container: str | None,
                    stdin: bool) -> tuple[bool, bool, str | None]:
    """Return ``(tty, stdin, note)`` for attaching to ``container`` of ``pod``, as kubectl does.

    The TTY is the container's own (``kubectl attach`` forces it either way); stdin is
    asked only when the spec has ``stdin: true``, and the note says when it has not.
    """
    spec = pod.get("spec") or {}
    found: dict[str, Any] = next((c for key in ("containers", "initContainers", "ephemeralContainers")
                  for c in spec.get(key) or [] if c.get("name") == container), {})
    has_stdin, has_tty = bool(found.get("stdin")), bool(found.get("tty"))
    notes = []
    if stdin and not has_stdin:
        notes.append(f"container {container} was not started with stdin (stdin: true), so "
                     "this terminal is read-only")
    if not has_tty:
        notes.append(f"container {container} did not allocate a TTY")
    return has_tty, stdin and has_stdin, "; ".join(notes) or None


def find_endpoint(
    target: ExecTarget,
    cluster: ClusterConfig,
    *,
    command: list[str] | None,
    debug: DebugSpec | None,
    tty: bool,
    stdin: bool,
    resolve: bool,
    on_wait: WaitCallback | None,
    connect_timeout: float,
    deadline: float | None,
) -> Endpoint:
    """Resolve ``target`` to the :class:`Endpoint` a session opens.

    Args:
        target: where, as given.
        cluster: its loaded configuration.
        command: the argv to exec; ``None`` attaches (to the debug container when there
            is one).
        debug: add this ephemeral container first (a node target always gets a debug pod,
            with these settings when given).
        tty: a TTY for an exec (an attach takes the container's).
        stdin: stdin wanted.
        resolve: ``False`` skips the lookups for a plain exec into a named pod.
        on_wait: called as ``on_wait(namespace, pod, note)`` while waiting.
        connect_timeout: seconds for TCP and TLS.
        deadline: a ``time.monotonic()`` time by which all must be done.

    Raises:
        ArgumentError: conflicting arguments (a container for a node, two targets).
        DebugError: the debug container or pod could not be added or did not start.
        ApiError, ConfigError: as :func:`~jupyter_k8stty.exec.resolve.resolve_pods`.
    """
    try:
        return _find(target, cluster, command, debug, tty, stdin, resolve, on_wait,
                     connect_timeout, deadline)
    finally:
        release_connections(cluster)


def _find(target: ExecTarget, cluster: ClusterConfig, command: list[str] | None,
          debug: DebugSpec | None, tty: bool, stdin: bool, resolve: bool,
          on_wait: WaitCallback | None, connect_timeout: float, deadline: float | None) -> Endpoint:
    namespace = target.namespace_in(cluster)
    if target.parsed.is_node:
        return _node_endpoint(target, cluster, namespace, command, debug or DebugSpec(), tty, stdin,
                              on_wait, connect_timeout, deadline)
    if debug is not None and target.container and debug.target_container \
            and target.container != debug.target_container:
        raise ArgumentError(f"two containers to debug: container={target.container!r} and "
                            f"debug target {debug.target_container!r}")
    if command is not None and debug is None and not resolve:
        return Endpoint(namespace, str(target.pod), target.container, command, tty, stdin)
    ref = resolve_pods(target, on_wait=on_wait, connect_timeout=connect_timeout, deadline=deadline,
                       cluster=cluster)[0]
    if debug is None:
        if command is not None:
            os = _os_of(target, cluster, ref.obj, connect_timeout, deadline)
            if command == DEFAULT_SHELL and os == "windows":
                command = list(WINDOWS_SHELL)
            return Endpoint(ref.namespace, ref.name, ref.container, command, tty, stdin, ref.note, os=os)
        has_tty, has_stdin, note = attach_settings(ref.obj, ref.container, stdin)
        prompt = PRESS_ENTER if has_tty and has_stdin else None
        note = "; ".join(n for n in (ref.note, note) if n) or None
        note = ". ".join(n for n in (note, prompt) if n) or None
        return Endpoint(ref.namespace, ref.name, ref.container, None, has_tty, has_stdin, note)
    # With debug=, container= names the container to debug (--target), not the new one.
    if target.container and not debug.target_container:
        debug = replace(debug, target_container=target.container)
    lookup = _Lookup(target, cluster, connect_timeout, deadline)
    name = add_debug_container(lookup, ref.obj, debug)
    what = f"debug container {name}"
    wait_for_container(lookup, ref.namespace, ref.name, name, what=what, image=str(debug.image),
                       timeout=target.pod_running_timeout, on_wait=on_wait)
    note = (f"debug container {name} ({debug.image}) added to pod {ref.name}; ephemeral "
            "containers stay in the pod until it is deleted")
    if command is None:
        return Endpoint(ref.namespace, ref.name, name, None, True, True, f"{note}. {PRESS_ENTER}",
                        debug_container=name)
    return Endpoint(ref.namespace, ref.name, name, command, tty, stdin, note, debug_container=name)


def _os_of(target: ExecTarget, cluster: ClusterConfig, pod: dict[str, Any], connect_timeout: float,
           deadline: float | None) -> PodOS:
    """Return the pod's OS from its spec, else from its node's labels (nodes may be forbidden)."""
    os = pod_os(pod)
    node = (pod.get("spec") or {}).get("nodeName")
    if os == "windows" or not node or (pod.get("spec") or {}).get("os"):
        return os
    return pod_os(pod, _node_labels(target, cluster, str(node), connect_timeout, deadline))


def forget_node_labels() -> None:
    """Forget the nodes' OS labels read so far (a node replaced by one of another OS)."""
    with _node_labels_lock:
        _node_labels_seen.clear()


def _node_labels(target: ExecTarget, cluster: ClusterConfig, node: str, connect_timeout: float,
                 deadline: float | None) -> dict[str, str] | None:
    """Return the node's OS label (``{}`` without one), read once per API server and node.

    What was read is remembered, so a fan-out over many pods or repeated ``run()`` calls
    do not GET the same node again. A refusal (reading nodes is often not allowed, and
    may be allowed to another impersonated user) or a failed request is not.
    """
    key = (cluster.server, node)
    with _node_labels_lock:
        if key in _node_labels_seen:
            return _node_labels_seen[key]
    try:
        status, body = _Lookup(target, cluster, connect_timeout, deadline).fetch(NODE.path(None, node))
    except K8sTTYError:
        return None
    labels = ((body or {}).get("metadata") or {}).get("labels") if status == 200 else None
    if not isinstance(labels, dict):
        return None
    found = {OS_LABEL: labels[OS_LABEL]} if OS_LABEL in labels else {}  # all that is used
    with _node_labels_lock:
        if len(_node_labels_seen) >= NODE_CACHE_SIZE:
            _node_labels_seen.clear()
        _node_labels_seen[key] = found
    return found


def _node_endpoint(target: ExecTarget, cluster: ClusterConfig, namespace: str,
                   command: list[str] | None, debug: DebugSpec, tty: bool, stdin: bool,
                   on_wait: WaitCallback | None, connect_timeout: float,
                   deadline: float | None) -> Endpoint:
    if target.container:
        raise ArgumentError(f"a node has no containers: container={target.container!r} does not "
                            f"apply to {target.name}")
    node = str(target.parsed.name)
    lookup = _Lookup(target, cluster, connect_timeout, deadline)
    pod = create_node_debug_pod(lookup, namespace, node, debug)
    try:
        wait_for_container(lookup, namespace, pod.name, NODE_DEBUG_CONTAINER,
                           what=f"debug pod {pod.name}", image=str(debug.image),
                           timeout=target.pod_running_timeout, on_wait=on_wait,
                           note=f"starting debug pod {pod.name} on node {node} ({debug.image})")
    except BaseException:
        pod.delete()
        raise
    host = "; the host's / is at /host" if debug.settings.host_root else ""
    note = f"debug pod {pod.name} on node {node} ({debug.image}){host}; deleted when this ends"
    if command is None:
        return Endpoint(namespace, pod.name, NODE_DEBUG_CONTAINER, None, True, True, f"{note}. {PRESS_ENTER}",
                        node_pod=pod)
    return Endpoint(namespace, pod.name, NODE_DEBUG_CONTAINER, command, tty, stdin, note, node_pod=pod)
