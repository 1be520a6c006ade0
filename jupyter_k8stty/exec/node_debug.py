"""Node shells: a debug pod on the node, as ``kubectl debug node/NAME`` makes it, then deleted.

``node/NAME`` targets get a pod of their own (:func:`create_node_debug_pod`): the node
is read first (so a typo ends with close matches, as for pods), then the pod from
:func:`~jupyter_k8stty.exec.profiles.node_debug_pod` is created in the target's
namespace. Unlike kubectl, which leaves the pod for ``kubectl delete pod``, the session
deletes it when it ends, and whatever is still alive when the interpreter exits (a
kernel shutdown) is deleted by an ``atexit`` hook, registered anew with each pod so that
it runs before the ``kubernetes`` client removes its temporary certificate files. A
kernel that is killed outright cannot clean up: such pods carry
``app.kubernetes.io/managed-by=kubectl-debug``.
"""

from __future__ import annotations

import atexit
import logging
import threading
from typing import Any

from ..errors import DebugError, K8sTTYError, one_line
from . import kinds
from .api import Headers, api_request, refusal, release_connections
from .client import ClusterConfig
from .listing import list_node_names  # re-exported: completion after node/ uses it
from .profiles import DebugSpec, node_debug_pod, node_debug_pod_name
from .resolve import _Lookup

log = logging.getLogger("jupyter_k8stty")

__all__ = ["DELETE_TIMEOUT", "NodeDebugPod", "create_node_debug_pod", "list_node_names",
           "live_node_debug_pods"]

#: Seconds one deletion may take (connect and answer), at close and at exit.
DELETE_TIMEOUT: float = 5.0
#: Attempts at a free name: the suffix is random, kubectl does not retry at all.
_NAME_ATTEMPTS = 3


class NodeDebugPod:
    """A node debug pod this process created; deleted once, by :meth:`delete` or at exit.

    Attributes:
        namespace: the pod's namespace.
        name: ``node-debugger-NODE-xxxxx``.
        node: the node it runs on.
    """

    def __init__(self, cluster: ClusterConfig, namespace: str, name: str, node: str,
                 headers: Headers):
        self.namespace = namespace
        self.name = name
        self.node = node
        self._cluster = cluster
        self._headers = tuple(headers)
        self._deleted = False
        self._problem: str | None = None
        self._lock = threading.Lock()
        with _live_lock:
            _live[id(self)] = self
        # Last registered runs first: before the kubernetes client's clean-up removes the
        # CA and key files it wrote for this configuration (which would fail the DELETE).
        atexit.unregister(_delete_leftovers)
        atexit.register(_delete_leftovers)

    def __repr__(self) -> str:
        return f"<NodeDebugPod {self.namespace}/{self.name} on {self.node}>"

    def delete(self, timeout: float = DELETE_TIMEOUT) -> str | None:
        """Delete the pod (once); return ``None``, or one line saying why it failed.

        A pod that is already gone counts as deleted. A second caller waits for the first
        one's request, so whoever returns knows the deletion was asked for.
        """
        with self._lock:
            if not self._deleted:
                self._deleted = True
                with _live_lock:
                    _live.pop(id(self), None)
                self._problem = self._delete(timeout)
            return self._problem

    def _delete(self, timeout: float) -> str | None:
        path = kinds.POD.path(self.namespace, self.name)
        try:
            status, body = api_request(
                self._cluster, "DELETE", path, headers=self._headers,
                body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
                connect_timeout=timeout, read_timeout=timeout)
        except K8sTTYError as exc:
            return f"could not delete node debug pod {self.namespace}/{self.name}: {one_line(exc)}"
        finally:
            release_connections(self._cluster)
        if status in (200, 202, 404):
            return None
        error = refusal(status, body, server=self._cluster.server, context=self._cluster.context,
                        action=f"delete pods in namespace {self.namespace}")
        return f"could not delete node debug pod {self.namespace}/{self.name}: {error}"


_live: dict[int, NodeDebugPod] = {}
_live_lock = threading.Lock()


def live_node_debug_pods() -> list[NodeDebugPod]:
    """Return the node debug pods created by this process and not deleted yet."""
    with _live_lock:
        return list(_live.values())


def _delete_leftovers() -> None:
    """Delete the node debug pods still alive when the interpreter exits (kernel shutdown)."""
    for pod in live_node_debug_pods():
        problem = pod.delete()
        if problem:
            log.warning("%s", problem)


def create_node_debug_pod(lookup: _Lookup, namespace: str, node: str, spec: DebugSpec) -> NodeDebugPod:
    """Create the debug pod for ``node`` in ``namespace``; return it (registered for deletion).

    Raises:
        ApiError: the node does not exist (404, with close matches) or may not be read.
        DebugError: the pod was refused: Pod Security (host namespaces need a privileged
            namespace), RBAC (``create pods``), or another refusal in the server's words.
    """
    lookup.get(kinds.NODE, namespace, node)
    for _ in range(_NAME_ATTEMPTS):
        name = node_debug_pod_name(node)
        status, answer = lookup.send("POST", kinds.POD.path(namespace),
                                     body=node_debug_pod(spec, node, name))
        if status in (200, 201, 202):
            return NodeDebugPod(lookup.cluster, namespace, name, node, lookup.target.headers)
        if status != 409:
            break
    raise create_refusal(status, answer, server=lookup.cluster.server,
                         context=lookup.cluster.context, namespace=namespace, profile=spec.profile)


def create_refusal(status: int, body: Any, *, server: str, context: str | None, namespace: str,
                   profile: str) -> DebugError:
    """Return the one-line error for a refused node debug pod."""
    message = body.get("message") if isinstance(body, dict) else None
    if status == 403 and message and "PodSecurity" in message:
        hint = ("run it in a namespace whose Pod Security level is privileged (namespace=...), or "
                "use --profile restricted for a pod without the host's namespaces and files"
                if profile != "restricted" else "run it in a namespace that allows it (namespace=...)")
        return DebugError(f"the Pod Security level of namespace {namespace} rejects the node debug "
                          f"pod ({message}): {hint}", status=403, reason="Forbidden")
    error = refusal(status, body, server=server, context=context,
                    action=f"create pods in namespace {namespace}")
    text = str(error)
    if status == 403:
        text += "; a node shell needs a Role that allows 'create', 'get' and 'delete' on 'pods'"
    return DebugError(text, status=error.status, reason=error.reason)
