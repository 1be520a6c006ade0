"""Find the pod (and container) a target names, the way ``kubectl exec`` does.

A workload resolves through its selector to its pods; one pod is then picked with
kubectl's ``GetFirstPod`` order (``sort.Reverse(podutils.ActivePods)``): scheduled
before unscheduled, Running before Unknown before Pending, ready before not ready,
ready for longer, fewer restarts, older. Ties keep the server's list order (by
name), as Go's insertion sort does for small lists.

The container is the target's when given (checked against the pod's containers
before any exec request), else the ``kubectl.kubernetes.io/default-container``
annotation, else the first container, with a note naming the alternatives.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ApiError, K8sTTYError, TargetError
from . import kinds
from .api import (
    DEFAULT_CONNECT_TIMEOUT,
    JSON,
    READ_TIMEOUT,
    api_request,
    refusal,
    release_connections,
)
from .client import ClusterConfig
from .target import ExecTarget

__all__ = [
    "DEFAULT_CONTAINER_ANNOTATION",
    "PodRef",
    "choose_container",
    "most_active",
    "resolve_pods",
]

DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
#: Longest pause between two polls of a pod that is not running yet.
MAX_POLL_INTERVAL = 1.0

WaitCallback = Callable[[str, str, str], None]


@dataclass(frozen=True)
class PodRef:
    """One pod a target resolved to.

    Attributes:
        name: the pod's name.
        namespace: the pod's namespace.
        container: the resolved container (explicit, else the default-container
            annotation, else the first one).
        note: a one-line note when the container was chosen implicitly among several,
            e.g. ``Defaulted container "main" out of: main, sidecar``; else ``None``.
        obj: the pod object (JSON) as last read, for attach and debug containers.
    """

    name: str
    namespace: str
    container: str | None
    note: str | None = None
    obj: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


class _Lookup:
    """The GETs of one resolution: one target, one configuration, one deadline."""

    def __init__(self, target: ExecTarget, cluster: ClusterConfig, connect_timeout: float,
                 deadline: float | None):
        self.target = target
        self.cluster = cluster
        self.connect_timeout = connect_timeout
        self.deadline = deadline

    def _timeouts(self) -> tuple[float, float]:
        if self.deadline is None:
            return self.connect_timeout, READ_TIMEOUT
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ApiError(f"timed out looking up {self.target.parsed}", status=None)
        return min(self.connect_timeout, left), min(READ_TIMEOUT, left)

    def fetch(self, path: str, query: list[tuple[str, str]] | None = None) -> tuple[int, Any]:
        return self.send("GET", path, query)

    def send(self, method: str, path: str, query: list[tuple[str, str]] | None = None, *,
             body: Any = None, content_type: str = JSON) -> tuple[int, Any]:
        connect, read = self._timeouts()
        return api_request(self.cluster, method, path, query, body=body, content_type=content_type,
                           headers=self.target.headers, connect_timeout=connect, read_timeout=read)

    def refused(self, status: int, body: Any, action: str) -> ApiError:
        return refusal(status, body, server=self.cluster.server, context=self.cluster.context,
                       action=action)

    def get(self, kind: kinds.Kind, namespace: str, name: str) -> dict[str, Any]:
        status, body = self.fetch(kind.path(namespace, name))
        if status == 200 and isinstance(body, dict):
            return body
        if status == 404:
            message = body.get("message") if isinstance(body, dict) else None
            raise self.not_found(kind, namespace, name, message)
        where = f" in namespace {namespace}" if kind.namespaced else ""
        raise self.refused(status, body, f"get {kind.resource}{where}")

    def list(self, kind: kinds.Kind, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
        query = [("labelSelector", selector)] if selector else []
        status, body = self.fetch(kind.path(namespace), query)
        if status == 200 and isinstance(body, dict):
            return list(body.get("items") or [])
        if status == 400 and selector is not None:
            message = body.get("message") if isinstance(body, dict) else None
            raise TargetError(f"invalid label selector {selector!r}: {message or 'rejected by the server'}")
        where = f" in namespace {namespace}" if kind.namespaced else ""
        raise self.refused(status, body, f"list {kind.resource}{where}")

    def not_found(self, kind: kinds.Kind, namespace: str, name: str, message: str | None) -> ApiError:
        # The server's own words (kubectl shows the same), plus close matches.
        text = message or f'{kind.resource} "{name}" not found'
        try:
            names = [item["metadata"]["name"] for item in self.list(kind, namespace)]
        except (K8sTTYError, KeyError, TypeError):
            names = []
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        if close:
            text += "; did you mean " + " or ".join(close) + "?"
        return ApiError(text, status=404, reason="NotFound")


# ---- pod order -------------------------------------------------------------------------


def _phase(pod: dict[str, Any]) -> str:
    return (pod.get("status") or {}).get("phase") or "Unknown"


def _ready_time(pod: dict[str, Any]) -> str | None:
    """Return the Ready condition's last transition time when the pod is ready, else ``None``."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return (cond.get("lastTransitionTime") or "") if cond.get("status") == "True" else None
    return None


def _activeness_key(pod: dict[str, Any]) -> tuple:
    """Sort key: most active first, as ``sort.Reverse(podutils.ActivePods)``.

    Timestamps are RFC 3339 UTC strings of one fixed format, so they compare as text;
    an empty timestamp counts as newest (``afterOrZero``).
    """
    ready = _ready_time(pod)
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    restarts = max((int(s.get("restartCount") or 0) for s in statuses), default=0)
    created = (pod.get("metadata") or {}).get("creationTimestamp") or ""
    return (
        0 if (pod.get("spec") or {}).get("nodeName") else 1,
        {"Running": 0, "Unknown": 1, "Pending": 2}.get(_phase(pod), 3),
        0 if ready is not None else 1,
        (0, ready) if ready else (1, ""),
        restarts,
        (0, created) if created else (1, ""),
    )


def most_active(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return ``pods`` ordered the way kubectl picks among them (stable on ties)."""
    return sorted(pods, key=_activeness_key)


# ---- containers ------------------------------------------------------------------------


def _container_names(pod: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    spec = pod.get("spec") or {}
    return (
        [c["name"] for c in spec.get("containers") or [] if c.get("name")],
        [c["name"] for c in spec.get("initContainers") or [] if c.get("name")],
        [c["name"] for c in spec.get("ephemeralContainers") or [] if c.get("name")],
    )


def choose_container(pod: dict[str, Any], container: str | None) -> tuple[str | None, str | None]:
    """Return ``(container, note)`` for ``pod`` the way kubectl defaults it.

    Raises:
        ApiError: ``container`` is not one of the pod's containers (status 400).
    """
    name = (pod.get("metadata") or {}).get("name", "?")
    namespace = (pod.get("metadata") or {}).get("namespace", "?")
    regular, init, ephemeral = _container_names(pod)
    if container:
        if container in regular or container in init or container in ephemeral:
            return container, None
        valid = ", ".join(regular + [f"{c} (init)" for c in init]
                          + [f"{c} (ephemeral)" for c in ephemeral]) or "none"
        # The API server's wording, plus the valid names (checked before the exec request).
        raise ApiError(
            f"container {container} is not valid for pod {name} (namespace {namespace}); "
            f"valid containers: {valid}",
            status=400, reason="BadRequest",
        )
    if not regular:
        return None, None
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    note_prefix = ""
    wanted = annotations.get(DEFAULT_CONTAINER_ANNOTATION)
    if wanted:
        if wanted in regular:
            return wanted, None
        note_prefix = f'default container "{wanted}" (annotation) not found in pod {name}; '
    if len(regular) == 1 and not note_prefix:
        return regular[0], None
    alternatives = ", ".join(regular + [f"{c} (init)" for c in init]
                             + [f"{c} (ephem)" for c in ephemeral])
    return regular[0], f'{note_prefix}Defaulted container "{regular[0]}" out of: {alternatives}'


def _container_state(pod: dict[str, Any], container: str | None) -> dict[str, Any] | None:
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for cs in status.get(key) or []:
            if cs.get("name") == container:
                return cs.get("state") or {}
    return None


def _not_running_reason(pod: dict[str, Any], container: str | None) -> str | None:
    """``None`` when ``container`` can take an exec; else why not (for waiting or error)."""
    phase = _phase(pod)
    if phase != "Running":
        return phase
    state = _container_state(pod, container)
    if state is None or "running" in state:
        return None
    if "waiting" in state:
        return f"container {container} waiting: {state['waiting'].get('reason') or 'not started'}"
    if "terminated" in state:
        return f"container {container} terminated: {state['terminated'].get('reason') or 'exited'}"
    return None


# ---- resolution ------------------------------------------------------------------------


def resolve_pods(
    target: ExecTarget | str | None = None,
    *,
    all_pods: bool = False,
    on_wait: WaitCallback | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    deadline: float | None = None,
    cluster: ClusterConfig | None = None,
    **where: Any,
) -> list[PodRef]:
    """Resolve a target to pod(s) and container(s), the way ``kubectl exec`` does.

    Args:
        target: an :class:`ExecTarget`, or ``POD``, ``pod/POD``, ``deploy/NAME``,
            ``sts/NAME``, ``ds/NAME``, ``rs/NAME``, ``job/NAME`` or ``svc/NAME`` (long
            forms accepted) with the other :class:`~jupyter_k8stty.exec.target.TargetArgs`
            in ``where`` (``namespace=``, ``selector=``, ``kubeconfig=`` ...).
        all_pods: ``False``: exactly one pod, kubectl's pick. ``True``: every Running pod
            that matches (for fan-out), sorted by name.
        on_wait: called as ``on_wait(namespace, pod, reason)`` while waiting for a pod.
        connect_timeout: seconds for TCP and TLS to the API server.
        deadline: a ``time.monotonic()`` time by which resolution must be done.
        cluster: an already loaded configuration (skips loading one); its idle connections
            are then the caller's to release (:func:`~jupyter_k8stty.exec.api.release_connections`),
            so that the caller's next requests reuse them.
        **where: :class:`~jupyter_k8stty.exec.target.TargetArgs`.

    Returns:
        One :class:`PodRef` (``all_pods=False``) or one per Running pod.

    Raises:
        TargetError: (a ``ValueError``) an invalid name, kind, namespace, selector or
            container name, before any request.
        ConfigError: no usable cluster configuration.
        ApiError: refused (401, 403), not found (404, with close matches), unreachable,
            a completed pod, no Running pod within the pod-running timeout, an unknown
            container (400, listing the valid ones), or the deadline passed.
    """
    target = ExecTarget.of(target, **where)
    owned = cluster is None  # a caller that passes its cluster lets go of its connections itself
    if cluster is None:
        cluster = target.cluster()
    lookup = _Lookup(target, cluster, connect_timeout, deadline)
    try:
        return _resolve(lookup, target.namespace_in(cluster), all_pods, on_wait)
    finally:
        if owned:
            release_connections(cluster)


def _resolve(lookup: _Lookup, ns: str, all_pods: bool, on_wait: WaitCallback | None) -> list[PodRef]:
    target = lookup.target
    parsed, container, timeout = target.parsed, target.container, target.pod_running_timeout
    deadline = time.monotonic() + max(0.0, timeout)
    if lookup.deadline is not None:
        deadline = min(deadline, lookup.deadline)

    if parsed.is_node:
        # A node yields a debug pod that the session creates (see .node_debug), not pods.
        raise TargetError(f"{parsed.kind.prefix}{parsed.name} is a node, not a pod: open a shell "
                          "on it with ExecSession or Terminal (a debug pod is created there)")
    if parsed.is_pod:
        assert parsed.name is not None
        pod = lookup.get(kinds.POD, ns, parsed.name)
        chosen, note = choose_container(pod, container)
        pod = _wait_running(lookup, pod, chosen, deadline, timeout, on_wait)
        return [PodRef(parsed.name, ns, chosen, note, pod)]

    if parsed.selector is not None:
        label_selector, what = parsed.selector, f"label selector {parsed.selector!r}"
    else:
        assert parsed.name is not None
        obj = lookup.get(parsed.kind, ns, parsed.name)
        label_selector = kinds.pod_selector(parsed.kind, obj)
        if not label_selector:
            if parsed.kind.pods_by == "labels":
                raise ApiError(f"service {parsed.name} has no selector, so no pods to exec into "
                               "(an ExternalName or manually managed service)", status=None)
            raise ApiError(f"{parsed.kind.plural}/{parsed.name} has no pod selector", status=None)
        what = f"{parsed.kind.plural}/{parsed.name} (selector {label_selector})"

    delay = 0.1
    while True:
        pods = most_active(lookup.list(kinds.POD, ns, label_selector))
        running = [p for p in pods if _phase(p) == "Running"]
        if all_pods and running:
            refs = []
            for pod in sorted(running, key=lambda p: p["metadata"]["name"]):
                chosen, note = choose_container(pod, container)
                refs.append(PodRef(pod["metadata"]["name"], ns, chosen, note, pod))
            return refs
        if not all_pods and pods:
            pod = pods[0]
            chosen, note = choose_container(pod, container)
            pod = _wait_running(lookup, pod, chosen, deadline, timeout, on_wait)
            return [PodRef(pod["metadata"]["name"], ns, chosen, note, pod)]
        waiting = [p for p in pods if _phase(p) in ("Pending", "Unknown")]
        left = deadline - time.monotonic()
        if not waiting or left <= 0:
            if not pods:
                raise ApiError(f"no pods found for {what} in namespace {ns}", status=404,
                               reason="NotFound")
            states = ", ".join(f"{p['metadata']['name']} ({_phase(p)})" for p in pods[:5])
            if waiting:
                raise ApiError(f"no Running pod for {what} in namespace {ns} within "
                               f"{timeout:g} s: {states}", status=None)
            raise ApiError(f"no Running pod for {what} in namespace {ns}: {states}", status=None)
        if on_wait is not None:
            first = waiting[0]
            on_wait(ns, first["metadata"]["name"], _phase(first))
        time.sleep(min(delay, left))
        delay = min(delay * 2, MAX_POLL_INTERVAL)


def _wait_running(lookup: _Lookup, pod: dict[str, Any], container: str | None, deadline: float,
                  timeout: float, on_wait: WaitCallback | None) -> dict[str, Any]:
    """Poll ``pod`` (backoff up to 1 s) until ``container`` can take an exec."""
    name, ns = pod["metadata"]["name"], pod["metadata"]["namespace"]
    delay = 0.1
    while True:
        phase = _phase(pod)
        if phase in ("Succeeded", "Failed"):
            raise ApiError(
                f"cannot exec into a container in a completed pod; current phase is {phase} "
                f"(pod {ns}/{name})",
                status=400, reason="BadRequest",
            )
        reason = _not_running_reason(pod, container)
        if reason is None:
            return pod
        if "terminated" in reason:
            raise ApiError(f"cannot exec into pod {ns}/{name}: {reason}", status=None)
        left = deadline - time.monotonic()
        if left <= 0:
            detail = reason if phase == "Running" else f"phase {phase}"
            state = _container_state(pod, container) or {}
            why = (state.get("waiting") or {}).get("reason")
            if phase != "Running" and why:
                detail += f", container {container} waiting: {why}"
            raise ApiError(
                f"pod {ns}/{name} is not running after {timeout:g} s ({detail}); "
                "raise pod_running_timeout to wait longer",
                status=None,
            )
        if on_wait is not None:
            on_wait(ns, name, reason if phase == "Running" else phase)
        time.sleep(min(delay, left))
        delay = min(delay * 2, MAX_POLL_INTERVAL)
        pod = lookup.get(kinds.POD, ns, name)
