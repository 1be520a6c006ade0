"""Listings for pickers and completion: pods and namespaces of a context, as its user sees them."""

from __future__ import annotations

from typing import Any

from ..errors import TargetError
from . import kinds
from .api import DEFAULT_CONNECT_TIMEOUT, release_connections
from .resolve import _Lookup
from .target import ExecTarget

__all__ = ["get_pod", "list_namespaces", "list_pod_names", "list_pods"]


def list_pods(namespace: str | None = None, *, selector: str | None = None,
              connect_timeout: float = DEFAULT_CONNECT_TIMEOUT, **where: Any) -> list[dict[str, Any]]:
    """Return the pod objects (JSON) of ``namespace`` (default: the context's), by name.

    ``where`` takes ``context``, ``kubeconfig`` and the impersonation arguments of
    :class:`~jupyter_k8stty.exec.target.TargetArgs`.

    Raises:
        ConfigError, ApiError: as :func:`resolve_pods`.
    """
    target = _listing_target(namespace, where)
    cluster = target.cluster()
    lookup = _Lookup(target, cluster, connect_timeout, None)
    try:
        return lookup.list(kinds.POD, target.namespace_in(cluster), selector)
    finally:
        release_connections(cluster)


def list_pod_names(namespace: str | None = None, *,
                   connect_timeout: float = DEFAULT_CONNECT_TIMEOUT, **where: Any) -> list[str]:
    """Names of the pods in ``namespace`` (default: the context's), sorted.

    Raises:
        ConfigError, ApiError: as :func:`resolve_pods`.
    """
    pods = list_pods(namespace, connect_timeout=connect_timeout, **where)
    return sorted(p["metadata"]["name"] for p in pods)


def list_namespaces(*, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT, **where: Any) -> list[str]:
    """Names of the namespaces the user may list; ``[context namespace]`` when forbidden."""
    target = _listing_target(None, where)
    cluster = target.cluster()
    lookup = _Lookup(target, cluster, connect_timeout, None)
    try:
        status, body = lookup.fetch("/api/v1/namespaces")
    finally:
        release_connections(cluster)
    if status == 200 and isinstance(body, dict):
        names = sorted(i["metadata"]["name"] for i in body.get("items") or [])
        return names or [cluster.namespace]
    if status == 401:
        raise lookup.refused(status, body, "list namespaces")
    return [cluster.namespace]


def get_pod(name: str, namespace: str | None = None, **where: Any) -> dict[str, Any]:
    """Return the pod object (JSON) ``namespace/name``.

    Raises:
        ApiError: not found (with close matches), forbidden, unreachable.
    """
    target = ExecTarget.of(name, namespace=namespace, **where)
    if not target.parsed.is_pod:
        raise TargetError(f"{name!r} is not a pod name")
    cluster = target.cluster()
    lookup = _Lookup(target, cluster, DEFAULT_CONNECT_TIMEOUT, None)
    try:
        return lookup.get(kinds.POD, target.namespace_in(cluster), name)
    finally:
        release_connections(cluster)


def _listing_target(namespace: str | None, where: dict[str, Any]) -> ExecTarget:
    # A listing has no pod of its own: any valid name stands in for the target.
    return ExecTarget.of("listing", namespace=namespace, **where)

