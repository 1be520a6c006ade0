"""Find the pod (and container) a target names, the way ``kubectl exec`` does.

A target is ``POD``, ``pod/POD``, ``KIND/NAME`` for a workload (``deploy``,
``sts``, ``ds``, ``rs``, ``job``, ``svc`` and their long forms) or a label
selector. A workload resolves through its selector to its pods; one pod is then
picked with kubectl's ``GetFirstPod`` order (``sort.Reverse(podutils.ActivePods)``):
scheduled before unscheduled, Running before Unknown before Pending, ready before
not ready, ready for longer, fewer restarts, older. Ties keep the server's list
order (by name), as Go's insertion sort does for small lists.

The container is ``container`` when given (checked against the pod's containers
before any exec request), else the ``kubectl.kubernetes.io/default-container``
annotation, else the first container, with a note naming the alternatives.

All requests are plain GETs through one cached ``ApiClient`` per cluster
configuration, with a connect timeout, so an unreachable cluster fails fast.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import urllib3
from kubernetes import client as k8s_client

from ..errors import ApiError, TargetError
from .client import ClusterConfig, load_cluster_config
from .connect import DEFAULT_CONNECT_TIMEOUT

__all__ = [
    "DEFAULT_CONTAINER_ANNOTATION",
    "DEFAULT_POD_RUNNING_TIMEOUT",
    "KINDS",
    "PodRef",
    "Target",
    "api_get",
    "choose_container",
    "list_namespaces",
    "list_pod_names",
    "list_pods",
    "parse_target",
    "resolve_pods",
]

DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
#: Seconds to wait for a Pending pod, as kubectl's ``--pod-running-timeout``.
DEFAULT_POD_RUNNING_TIMEOUT = 60.0
#: Seconds to wait for an answer once connected (GETs are small).
READ_TIMEOUT = 30.0
#: Longest pause between two polls of a pod that is not running yet.
MAX_POLL_INTERVAL = 1.0


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
    """

    name: str
    namespace: str
    container: str | None
    note: str | None = None


@dataclass(frozen=True)
class _Kind:
    plural: str  # resource name in the URL
    kind: str  # the object's kind, for messages
    group: str  # "" for the core group
    version: str


#: Every accepted target kind, keyed by each spelling kubectl accepts.
KINDS: dict[str, _Kind] = {}
for _spellings, _kind in [
    (("pod", "pods", "po"), _Kind("pods", "Pod", "", "v1")),
    (("deployment", "deployments", "deploy"), _Kind("deployments", "Deployment", "apps", "v1")),
    (("statefulset", "statefulsets", "sts"), _Kind("statefulsets", "StatefulSet", "apps", "v1")),
    (("daemonset", "daemonsets", "ds"), _Kind("daemonsets", "DaemonSet", "apps", "v1")),
    (("replicaset", "replicasets", "rs"), _Kind("replicasets", "ReplicaSet", "apps", "v1")),
    (("job", "jobs"), _Kind("jobs", "Job", "batch", "v1")),
    (("service", "services", "svc"), _Kind("services", "Service", "", "v1")),
]:
    for _spelling in _spellings:
        KINDS[_spelling] = _kind
        KINDS[f"{_spelling}.{_kind.group}" if _kind.group else _spelling] = _kind

_POD_KIND = KINDS["pod"]

_DNS1123_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_RE = re.compile(rf"^{_DNS1123_LABEL}(?:\.{_DNS1123_LABEL})*$")
_LABEL_RE = re.compile(rf"^{_DNS1123_LABEL}$")


@dataclass(frozen=True)
class Target:
    """A parsed target: a kind and a name, or a label selector."""

    kind: _Kind
    name: str | None = None
    selector: str | None = None

    def __str__(self) -> str:
        if self.selector is not None:
            return f"pods with labels {self.selector!r}"
        if self.kind is _POD_KIND:
            return f"pod {self.name}"
        return f"{self.kind.plural}/{self.name}"


def _check_subdomain(name: str, what: str) -> None:
    if not name or len(name) > 253 or not _SUBDOMAIN_RE.match(name):
        raise TargetError(
            f"invalid {what} {name!r}: a name must consist of lower case alphanumeric "
            "characters, '-' or '.', and must start and end with an alphanumeric character "
            "(at most 253 characters)"
        )


def check_namespace(namespace: str) -> None:
    """Raise ``ValueError`` unless ``namespace`` is a valid namespace name (DNS-1123 label)."""
    if not namespace or len(namespace) > 63 or not _LABEL_RE.match(namespace):
        raise TargetError(
            f"invalid namespace {namespace!r}: it must be a DNS-1123 label (lower case "
            "alphanumeric characters or '-', starting and ending with an alphanumeric "
            "character, at most 63 characters)"
        )


def parse_target(target: str | None, selector: str | None = None) -> Target:
    """Parse ``POD``, ``KIND/NAME`` or a selector into a :class:`Target`.

    Raises:
        ValueError: the kind is unknown, the name is not a valid object name, both or
            neither of ``target`` and ``selector`` were given.
    """
    if selector is not None and target:
        raise TargetError("give either a target (POD or KIND/NAME) or a label selector, not both")
    if selector is not None:
        if not selector.strip():
            raise TargetError("the label selector is empty")
        return Target(_POD_KIND, selector=selector.strip())
    if not target or not target.strip():
        raise TargetError("no pod given: pass POD, KIND/NAME (e.g. deploy/web) or a label selector")
    text = target.strip()
    if "/" in text:
        kind_text, _, name = text.partition("/")
        kind = KINDS.get(kind_text.lower())
        if kind is None:
            raise TargetError(
                f"unknown kind {kind_text!r} in {text!r}: use pod/, deploy/, sts/, ds/, rs/, "
                "job/ or svc/ (or their long forms)"
            )
        what = "pod name" if kind is _POD_KIND else f"{kind.kind} name"
        if "/" in name:
            raise TargetError(f"invalid target {text!r}: expected KIND/NAME")
    else:
        kind, name, what = _POD_KIND, text, "pod name"
    _check_subdomain(name, what)
    return Target(kind, name)


# ---- HTTP ------------------------------------------------------------------------------

_clients: dict[int, tuple[ClusterConfig, k8s_client.ApiClient]] = {}
_clients_lock = threading.Lock()


def _api_client(cluster: ClusterConfig) -> k8s_client.ApiClient:
    """One ``ApiClient`` per loaded configuration: its connection pool is reused."""
    key = id(cluster)
    with _clients_lock:
        entry = _clients.get(key)
        if entry is not None and entry[0] is cluster:
            return entry[1]
        configuration = copy.copy(cluster.configuration)
        # Fail fast on an unreachable server: no silent connect retries.
        configuration.retries = urllib3.Retry(total=2, connect=0, read=0, redirect=2, status=0)
        api = k8s_client.ApiClient(configuration)
        _clients[key] = (cluster, api)
        return api


def release_connections(cluster: ClusterConfig) -> None:
    """Close the idle keep-alive connections to the cluster.

    A resolution reuses one connection for its few GETs, then lets it go, so no socket
    outlives the work (a closed terminal leaves nothing open). Connections in use by
    another thread are closed when that request finishes.
    """
    with _clients_lock:
        entry = _clients.get(id(cluster))
    if entry is not None and entry[0] is cluster:
        try:
            entry[1].rest_client.pool_manager.clear()
        except Exception:  # closing is best effort
            pass


def api_get(
    cluster: ClusterConfig,
    path: str,
    query: list[tuple[str, str]] | None = None,
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> tuple[int, Any]:
    """GET ``path`` on the cluster; return ``(status, parsed JSON or None)``.

    Raises:
        ApiError: the server could not be reached (``status`` ``None``).
    """
    api = _api_client(cluster)
    try:
        params = api.param_serialize(
            method="GET",
            resource_path=path,
            query_params=list(query or []),
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        response = api.call_api(*params, _request_timeout=(connect_timeout, READ_TIMEOUT))
        response.read()
    except Exception as exc:  # urllib3/ssl/socket errors, or ApiException(status=0)
        raise ApiError(
            f"cannot reach the Kubernetes API server at {cluster.server} "
            f"(context {cluster.context}): {_reason(exc)}",
            status=None,
        ) from None
    try:
        body = json.loads(response.data) if response.data else None
    except ValueError:
        body = None
    return response.status, body


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    text = str(reason if reason else exc).strip()
    if "timed out" in text.lower() or "timeout" in type(exc).__name__.lower():
        return "timed out"
    text = re.sub(r"<urllib3\.[^>]*>:?\s*", "", text)
    return (text.splitlines() or [type(exc).__name__])[0][:300]


def _path(kind: _Kind, namespace: str, name: str | None = None) -> str:
    base = f"/api/{kind.version}" if not kind.group else f"/apis/{kind.group}/{kind.version}"
    path = f"{base}/namespaces/{quote(namespace, safe='')}/{kind.plural}"
    return f"{path}/{quote(name, safe='')}" if name is not None else path


def _error(status: int, body: Any, cluster: ClusterConfig, *, verb: str, kind: _Kind,
           namespace: str, name: str | None) -> ApiError:
    message = body.get("message") if isinstance(body, dict) else None
    reason = body.get("reason") if isinstance(body, dict) else None
    if status == 401:
        return ApiError(
            f"the API server {cluster.server} rejected the credentials of context "
            f"{cluster.context} (401 Unauthorized): the token or certificate is invalid or "
            "expired",
            status=401, reason=reason or "Unauthorized",
        )
    if status == 403:
        resource = f"{kind.plural}.{kind.group}" if kind.group else kind.plural
        text = (f"forbidden: you cannot {verb} {resource} in namespace {namespace} "
                f"(context {cluster.context})")
        if message:
            text += f": {message}"
        return ApiError(text, status=403, reason=reason or "Forbidden")
    text = message or f"{verb} {kind.plural} in namespace {namespace} failed (HTTP {status})"
    return ApiError(text, status=status, reason=reason)


def _get(cluster: ClusterConfig, kind: _Kind, namespace: str, name: str,
         connect_timeout: float) -> dict[str, Any]:
    status, body = api_get(cluster, _path(kind, namespace, name), connect_timeout=connect_timeout)
    if status == 200 and isinstance(body, dict):
        return body
    if status == 404:
        message = body.get("message") if isinstance(body, dict) else None
        raise _not_found(cluster, kind, namespace, name, connect_timeout, message)
    raise _error(status, body, cluster, verb="get", kind=kind, namespace=namespace, name=name)


def _list(cluster: ClusterConfig, kind: _Kind, namespace: str, connect_timeout: float,
          selector: str | None = None) -> list[dict[str, Any]]:
    query = [("labelSelector", selector)] if selector else []
    status, body = api_get(cluster, _path(kind, namespace), query, connect_timeout=connect_timeout)
    if status == 200 and isinstance(body, dict):
        return list(body.get("items") or [])
    if status == 400 and selector is not None:
        message = body.get("message") if isinstance(body, dict) else None
        raise TargetError(f"invalid label selector {selector!r}: {message or 'rejected by the server'}")
    raise _error(status, body, cluster, verb="list", kind=kind, namespace=namespace, name=None)


def _not_found(cluster: ClusterConfig, kind: _Kind, namespace: str, name: str,
               connect_timeout: float, message: str | None = None) -> ApiError:
    resource = kind.plural if not kind.group else f"{kind.plural}.{kind.group}"
    # The server's own words (kubectl shows the same), plus close matches.
    text = message or f'{resource} "{name}" not found'
    try:
        names = [item["metadata"]["name"] for item in _list(cluster, kind, namespace, connect_timeout)]
    except (ApiError, ValueError, KeyError, TypeError):
        names = []
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    if close:
        text += "; did you mean " + " or ".join(close) + "?"
    return ApiError(text, status=404, reason="NotFound")


# ---- selectors and pod order -----------------------------------------------------------


def selector_string(selector: dict[str, Any] | None, *, plain_map: bool = False) -> str:
    """Turn a ``LabelSelector`` (or a service's plain label map) into a selector string.

    Raises:
        ValueError: an operator is unknown.
    """
    if not selector:
        return ""
    if plain_map:
        return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), list(expr.get("values") or [])
        if op == "In":
            terms.append(f"{key} in ({','.join(sorted(values))})")
        elif op == "NotIn":
            terms.append(f"{key} notin ({','.join(sorted(values))})")
        elif op == "Exists":
            terms.append(str(key))
        elif op == "DoesNotExist":
            terms.append(f"!{key}")
        else:
            raise TargetError(f"{op!r} is not a valid label selector operator")
    return ",".join(terms)


def _workload_selector(obj: dict[str, Any], kind: _Kind, name: str) -> str:
    spec = obj.get("spec") or {}
    if kind.plural == "services":
        text = selector_string(spec.get("selector"), plain_map=True)
        if not text:
            raise ApiError(f"service {name} has no selector, so no pods to exec into "
                           "(an ExternalName or manually managed service)", status=None)
        return text
    text = selector_string(spec.get("selector"))
    if not text:
        raise ApiError(f"{kind.plural}/{name} has no pod selector", status=None)
    return text


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

WaitCallback = Callable[[str, str, str], None]


def resolve_pods(
    target: str | None = None,
    *,
    selector: str | None = None,
    namespace: str | None = None,
    container: str | None = None,
    context: str | None = None,
    kubeconfig: str | None = None,
    all_pods: bool = False,
    pod_running_timeout: float = DEFAULT_POD_RUNNING_TIMEOUT,
    on_wait: WaitCallback | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    cluster: ClusterConfig | None = None,
) -> list[PodRef]:
    """Resolve a target to pod(s) and container(s), the way ``kubectl exec`` does.

    Args:
        target: ``POD``, ``pod/POD``, ``deploy/NAME``, ``sts/NAME``, ``ds/NAME``,
            ``rs/NAME``, ``job/NAME`` or ``svc/NAME`` (long forms accepted).
        selector: a label selector instead of ``target`` (e.g. ``app=web,tier!=db``).
        namespace: defaults to the context's namespace, else the in-cluster one, else
            ``default``.
        container: the container; default: the ``kubectl.kubernetes.io/default-container``
            annotation, else the first container (with a :attr:`PodRef.note`).
        context: kubeconfig context.
        kubeconfig: kubeconfig path(s), ``os.pathsep``-separated.
        all_pods: ``False``: exactly one pod, kubectl's pick. ``True``: every Running pod
            that matches (for fan-out), sorted by name.
        pod_running_timeout: seconds to wait for a Pending pod (kubectl's
            ``--pod-running-timeout``); ``0`` does not wait.
        on_wait: called as ``on_wait(namespace, pod, reason)`` while waiting for a pod.
        connect_timeout: seconds for TCP and TLS to the API server.
        cluster: an already loaded configuration (skips loading one).

    Returns:
        One :class:`PodRef` (``all_pods=False``) or one per Running pod.

    Raises:
        TargetError: (a ``ValueError``) an invalid name, kind, namespace, selector or
            container name, before any request.
        ConfigError: no usable cluster configuration.
        ApiError: refused (401, 403), not found (404, with close matches), unreachable,
            a completed pod, no Running pod within ``pod_running_timeout``, an unknown
            container (400, listing the valid ones).
    """
    parsed = parse_target(target, selector)
    if namespace is not None:
        check_namespace(namespace)
    if container is not None and not _LABEL_RE.match(container):
        raise TargetError(f"invalid container name {container!r}: it must be a DNS-1123 label")
    if cluster is None:
        cluster = load_cluster_config(context=context, kubeconfig=kubeconfig)
    try:
        return _resolve(parsed, cluster, namespace or cluster.namespace, container, all_pods,
                        pod_running_timeout, on_wait, connect_timeout)
    finally:
        release_connections(cluster)


def _resolve(parsed: Target, cluster: ClusterConfig, ns: str, container: str | None,
             all_pods: bool, pod_running_timeout: float, on_wait: WaitCallback | None,
             connect_timeout: float) -> list[PodRef]:
    deadline = time.monotonic() + max(0.0, pod_running_timeout)

    if parsed.kind is _POD_KIND and parsed.name is not None:
        pod = _get(cluster, _POD_KIND, ns, parsed.name, connect_timeout)
        chosen, note = choose_container(pod, container)
        pod = _wait_running(cluster, pod, chosen, deadline, pod_running_timeout, on_wait,
                            connect_timeout)
        return [PodRef(parsed.name, ns, chosen, note)]

    if parsed.selector is not None:
        label_selector, what = parsed.selector, f"label selector {parsed.selector!r}"
    else:
        assert parsed.name is not None
        obj = _get(cluster, parsed.kind, ns, parsed.name, connect_timeout)
        label_selector = _workload_selector(obj, parsed.kind, parsed.name)
        what = f"{parsed.kind.plural}/{parsed.name} (selector {label_selector})"

    delay = 0.1
    while True:
        pods = most_active(_list(cluster, _POD_KIND, ns, connect_timeout, label_selector))
        running = [p for p in pods if _phase(p) == "Running"]
        if all_pods and running:
            refs = []
            for pod in sorted(running, key=lambda p: p["metadata"]["name"]):
                chosen, note = choose_container(pod, container)
                refs.append(PodRef(pod["metadata"]["name"], ns, chosen, note))
            return refs
        if not all_pods and pods:
            pod = pods[0]
            chosen, note = choose_container(pod, container)
            pod = _wait_running(cluster, pod, chosen, deadline, pod_running_timeout, on_wait,
                                connect_timeout)
            return [PodRef(pod["metadata"]["name"], ns, chosen, note)]
        waiting = [p for p in pods if _phase(p) in ("Pending", "Unknown")]
        left = deadline - time.monotonic()
        if not waiting or left <= 0:
            if not pods:
                raise ApiError(f"no pods found for {what} in namespace {ns}", status=404,
                               reason="NotFound")
            states = ", ".join(f"{p['metadata']['name']} ({_phase(p)})" for p in pods[:5])
            if waiting:
                raise ApiError(f"no Running pod for {what} in namespace {ns} within "
                               f"{pod_running_timeout:g} s: {states}", status=None)
            raise ApiError(f"no Running pod for {what} in namespace {ns}: {states}", status=None)
        if on_wait is not None:
            first = waiting[0]
            on_wait(ns, first["metadata"]["name"], _phase(first))
        time.sleep(min(delay, left))
        delay = min(delay * 2, MAX_POLL_INTERVAL)


def _wait_running(cluster: ClusterConfig, pod: dict[str, Any], container: str | None,
                  deadline: float, timeout: float, on_wait: WaitCallback | None,
                  connect_timeout: float) -> dict[str, Any]:
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
        pod = _get(cluster, _POD_KIND, ns, name, connect_timeout)


def list_pods(namespace: str | None = None, *, context: str | None = None,
              kubeconfig: str | None = None, selector: str | None = None,
              connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> list[dict[str, Any]]:
    """Return the pod objects (JSON) of ``namespace`` (default: the context's), by name.

    Raises:
        ConfigError, ApiError: as :func:`resolve_pods`.
    """
    cluster = load_cluster_config(context=context, kubeconfig=kubeconfig)
    ns = namespace or cluster.namespace
    if namespace is not None:
        check_namespace(namespace)
    try:
        return _list(cluster, _POD_KIND, ns, connect_timeout, selector)
    finally:
        release_connections(cluster)


def list_pod_names(namespace: str | None = None, *, context: str | None = None,
                   kubeconfig: str | None = None,
                   connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> list[str]:
    """Names of the pods in ``namespace`` (default: the context's), sorted.

    Raises:
        ConfigError, ApiError: as :func:`resolve_pods`.
    """
    pods = list_pods(namespace, context=context, kubeconfig=kubeconfig,
                     connect_timeout=connect_timeout)
    return sorted(p["metadata"]["name"] for p in pods)


def list_namespaces(*, context: str | None = None, kubeconfig: str | None = None,
                    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> list[str]:
    """Names of the namespaces the user may list; ``[context namespace]`` when forbidden."""
    cluster = load_cluster_config(context=context, kubeconfig=kubeconfig)
    try:
        status, body = api_get(cluster, "/api/v1/namespaces", connect_timeout=connect_timeout)
    finally:
        release_connections(cluster)
    if status == 200 and isinstance(body, dict):
        names = sorted(i["metadata"]["name"] for i in body.get("items") or [])
        return names or [cluster.namespace]
    if status in (401,):
        raise _error(status, body, cluster, verb="list", kind=_Kind("namespaces", "Namespace",
                                                                       "", "v1"),
                     namespace="", name=None)
    return [cluster.namespace]


def get_pod(name: str, namespace: str | None = None, *, context: str | None = None,
            kubeconfig: str | None = None) -> dict[str, Any]:
    """Return the pod object (JSON) ``namespace/name``.

    Raises:
        ApiError: not found (with close matches), forbidden, unreachable.
    """
    parse_target(name)
    cluster = load_cluster_config(context=context, kubeconfig=kubeconfig)
    try:
        return _get(cluster, _POD_KIND, namespace or cluster.namespace, name,
                    DEFAULT_CONNECT_TIMEOUT)
    finally:
        release_connections(cluster)

