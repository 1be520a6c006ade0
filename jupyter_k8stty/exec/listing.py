"""Listings for pickers and completion: pods, namespaces and nodes, as the context's user sees them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import kinds
from .api import DEFAULT_CONNECT_TIMEOUT, release_connections
from .client import ClusterConfig
from .resolve import _Lookup
from .target import ExecTarget

__all__ = ["list_namespaces", "list_node_names", "list_pod_names", "list_pods"]


@contextmanager
def _looking_up(namespace: str | None, where: dict[str, Any],
                connect_timeout: float) -> Iterator[tuple[_Lookup, ClusterConfig]]:
    """Yield the lookup of a listing and its configuration; release the connections after.

    A listing has no pod of its own: any valid name stands in for the target.
    """
    target = ExecTarget.of("listing", namespace=namespace, **where)
    cluster = target.cluster()
    try:
        yield _Lookup(target, cluster, connect_timeout, None), cluster
    finally:
        release_connections(cluster)


def list_pods(namespace: str | None = None, *, selector: str | None = None,
              connect_timeout: float = DEFAULT_CONNECT_TIMEOUT, **where: Any) -> list[dict[str, Any]]:
    """Return the pod objects (JSON) of ``namespace`` (default: the context's), by name.

    ``where`` takes ``context``, ``kubeconfig`` and the impersonation arguments of
    :class:`~jupyter_k8stty.exec.target.TargetArgs`.

    Raises:
        ConfigError, ApiError: as :func:`~jupyter_k8stty.exec.resolve.resolve_pods`.
    """
    with _looking_up(namespace, where, connect_timeout) as (lookup, cluster):
        return lookup.list(kinds.POD, namespace or cluster.namespace, selector)


def list_pod_names(namespace: str | None = None, *,
                   connect_timeout: float = DEFAULT_CONNECT_TIMEOUT, **where: Any) -> list[str]:
    """Return the names of the pods in ``namespace`` (default: the context's), sorted.

    Raises:
        ConfigError, ApiError: as :func:`~jupyter_k8stty.exec.resolve.resolve_pods`.
    """
    pods = list_pods(namespace, connect_timeout=connect_timeout, **where)
    return sorted(p["metadata"]["name"] for p in pods)


def list_namespaces(*, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT, **where: Any) -> list[str]:
    """Return the namespaces the user may list; ``[context namespace]`` when forbidden."""
    with _looking_up(None, where, connect_timeout) as (lookup, cluster):
        status, body = lookup.fetch("/api/v1/namespaces")
    if status == 200 and isinstance(body, dict):
        names = sorted(i["metadata"]["name"] for i in body.get("items") or [])
        return names or [cluster.namespace]
    if status == 401:
        raise lookup.refused(status, body, "list namespaces")
    return [cluster.namespace]


def list_node_names(*, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT, **where: Any) -> list[str]:
    """Return the names of the cluster's nodes, sorted (for completion after ``node/``).

    Raises:
        ConfigError, ApiError: no configuration, refused (``list nodes``), unreachable.
    """
    with _looking_up(None, where, connect_timeout) as (lookup, cluster):
        return sorted(n["metadata"]["name"] for n in lookup.list(kinds.NODE, cluster.namespace))
