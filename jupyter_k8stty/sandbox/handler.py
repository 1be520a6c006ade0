"""HTTP routing of the sandbox API server: auth, discovery, pods, nodes, namespaces and streams.

Reads are served here; pod writes (create, delete, the ``ephemeralcontainers`` patch) are
in :mod:`.podwrites`, watches in :mod:`.watch`, exec and attach in :mod:`.streams`.
"""

from __future__ import annotations

import datetime
import re
import ssl
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from jupyter_k8stty.exec.kinds import Kind
from jupyter_k8stty.sandbox import apistatus, discovery, nodes, podwrites, watch
from jupyter_k8stty.sandbox.apistatus import HTTPError
from jupyter_k8stty.sandbox.bodies import MAX_BODY, RequestBodies
from jupyter_k8stty.sandbox.kubelet import Kubelet
from jupyter_k8stty.sandbox.pods import Pod, PodStore, human_duration, pod_list, pod_table
from jupyter_k8stty.sandbox.process import log
from jupyter_k8stty.sandbox.rbac import Attributes
from jupyter_k8stty.sandbox.resources import WORKLOAD_KINDS, group_of, served_kind
from jupyter_k8stty.sandbox.selectors import (
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from jupyter_k8stty.sandbox.streams import StreamRoutes, bad_request

if TYPE_CHECKING:
    from jupyter_k8stty.sandbox.server import Sandbox
    from jupyter_k8stty.sandbox.workloads import WorkloadStore

_POD_FIELDS = ("metadata.name", "metadata.namespace", "status.phase", "spec.nodeName",
               "spec.restartPolicy")
_NAME = r"[a-z0-9][-a-z0-9.]*"
_NS = rf"namespaces/(?P<namespace>{_NAME})"
_POD = rf"^/api/v1/{_NS}/pods/(?P<name>{_NAME})"
# Workload routes capture group, version and plural; the handler looks the kind up in
# the registry (resources.served_kind), so a new kind needs no new route.
_CORE = r"^/api/(?P<version>v1)"
_GROUP = r"^/apis/(?P<group>[a-z0-9][-a-z0-9.]*)/(?P<version>v[0-9a-z]+)"
_ROUTES = [(re.compile(pattern), name) for pattern, name in (
    (r"^/version/?$", "version"),
    (r"^/api/?$", "api"),
    (r"^/apis/?$", "apis"),
    (r"^/api/v1/?$", "core_v1"),
    (r"^/api/v1/pods$", "pods"),
    (r"^/api/v1/namespaces$", "namespaces"),
    (rf"^/api/v1/namespaces/(?P<name>{_NAME})$", "namespace"),
    (r"^/api/v1/nodes$", "nodes"),
    (rf"^/api/v1/nodes/(?P<name>{_NAME})$", "node"),
    (rf"^/api/v1/{_NS}/pods$", "pods"),
    (rf"{_POD}$", "pod"),
    (rf"{_POD}/status$", "pod_status"),
    (rf"{_POD}/log$", "log"),
    (rf"{_POD}/exec$", "exec"),
    (rf"{_POD}/attach$", "attach"),
    (rf"{_POD}/ephemeralcontainers$", "ephemeralcontainers"),
    (rf"{_CORE}/(?P<plural>[a-z]+)$", "workloads"),
    (rf"{_CORE}/{_NS}/(?P<plural>[a-z]+)$", "workloads"),
    (rf"{_CORE}/{_NS}/(?P<plural>[a-z]+)/(?P<name>{_NAME})$", "workload"),
    (r"^/apis/(?P<group>[a-z0-9][-a-z0-9.]*)/?$", "api_group"),
    (rf"{_GROUP}/?$", "group_resources"),
    (rf"{_GROUP}/(?P<plural>[a-z]+)$", "workloads"),
    (rf"{_GROUP}/{_NS}/(?P<plural>[a-z]+)$", "workloads"),
    (rf"{_GROUP}/{_NS}/(?P<plural>[a-z]+)/(?P<name>{_NAME})$", "workload"),
)]

#: Discovery needs no permission, like the system:discovery role.
_PUBLIC_ROUTES = {"version", "api", "apis", "core_v1", "api_group", "group_resources"}

_bad_request = bad_request
#: The RBAC verb of each HTTP method on a named object.
_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
#: The (route, method) pairs that write, and the handler method serving each.
_WRITES = {("pods", "POST"): "_create_pod", ("pod", "DELETE"): "_delete_pod",
           ("ephemeralcontainers", "PATCH"): "_patch_ephemeral",
           ("ephemeralcontainers", "PUT"): "_put_ephemeral"}


_NOT_FOUND = apistatus.status_body(404, "the server could not find the requested resource",
                                   "NotFound", {})


def _found(document: dict[str, Any] | None) -> dict[str, Any]:
    """Return ``document``, or raise the API server's plain 404 when it is ``None``."""
    if document is None:
        raise HTTPError(404, _NOT_FOUND)
    return document


class SandboxHandler(StreamRoutes, RequestBodies, BaseHTTPRequestHandler):
    """Serves one connection; keep-alive like a real API server, since kubectl reuses them."""

    protocol_version = "HTTP/1.1"
    server_version = "k8stty-sandbox"
    sys_version = ""
    @property
    def sandbox(self) -> Sandbox:
        """The :class:`Sandbox` this connection belongs to."""
        return self.server.sandbox  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (base signature)
        """Keep the access log quiet: only problems are logged."""

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 (base signature)
        """Log a malformed request in one line."""
        log(f"{self.client_address[0]}: " + (format % args))

    def handle(self) -> None:
        """Serve requests until the connection ends, never letting an error escape."""
        try:
            super().handle()
        except (ConnectionError, TimeoutError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            pass  # the client went away: nothing to report
        except OSError as exc:
            if not self.sandbox.stopping:
                log(f"connection from {self.client_address[0]} failed: {exc}")
        except Exception as exc:
            log(f"internal error serving {self.client_address[0]}: {exc!r}")

    # ---- plumbing -------------------------------------------------------

    def _attributes(self, route: str, params: dict[str, str], method: str,
                    query: dict[str, list[str]]) -> Attributes:
        """Return what the request asks, as RBAC sees it."""
        namespace, name = params.get("namespace"), params.get("name")
        watching = query.get("watch", [""])[0] in ("1", "true")
        collection_verb = ("watch" if watching else "list") if method == "GET" else (
            "create" if method == "POST" else "deletecollection" if method == "DELETE"
            else _VERBS.get(method, method.lower()))
        if route in ("pods", "namespaces", "nodes"):
            return Attributes(collection_verb, route, namespace=namespace)
        if route in ("namespace", "node"):
            return Attributes(_VERBS.get(method, "get"), route + "s", name=name)
        if route in ("pod", "pod_status", "log", "ephemeralcontainers"):
            sub = {"pod": "", "pod_status": "status"}.get(route, route)
            return Attributes(_VERBS.get(method, method.lower()), "pods", sub,
                              namespace=namespace, name=name)
        if route in ("exec", "attach"):
            return Attributes("create", "pods", route, namespace=namespace, name=name)
        plural = params["plural"]  # workloads, workload
        return Attributes(collection_verb if route == "workloads" else _VERBS.get(method, "get"),
                          plural, group=params.get("group", group_of(plural)),
                          namespace=namespace, name=name)

    def _wants_table(self) -> bool:
        accept = self.headers.get("Accept", "")
        # "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
        return any(param.strip().lower() == "as=table"
                   for part in accept.split(",") for param in part.split(";"))

    # ---- verbs ----------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        """Serve a GET request."""
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        """Serve a POST request (only SPDY exec, which is refused)."""
        self._dispatch("POST")

    def _other_method(self) -> None:
        """Serve PUT, PATCH and DELETE: authenticated, then refused (the sandbox is read-only)."""
        self._dispatch(self.command)

    do_PUT = do_PATCH = do_DELETE = _other_method  # noqa: N815

    def _method_not_allowed(self) -> None:
        self._discard_body()
        self._send(405, apistatus.status_body(
            405, f"the server does not allow this method on the requested resource "
            f"({self.command} is not supported by the sandbox)", "MethodNotAllowed"))

    def _dispatch(self, method: str) -> None:
        self._body_read = False
        self._expect_continue, self._continue_pending = self._continue_pending, False
        try:
            self._body_left = self._body_length()
        except HTTPError as err:
            self._body_left = -1  # unknown: never read, linger
            self._refuse_unread(err.code, err.body, "text/plain; charset=utf-8")
            return
        policy = self.sandbox.policy
        requester = policy.authenticate(self.headers.get("Authorization", ""))
        if requester is None:
            # Refused before a byte of the body is read: no credentials, no memory.
            self._refuse_unread(401, apistatus.unauthorized())
            return
        if self._body_left is not None and self._body_left > MAX_BODY:
            self._refuse_unread(413, apistatus.status_body(
                413, f"Request entity too large: limit is {MAX_BODY}", "RequestEntityTooLarge"))
            return
        url = urlsplit(self.path)
        query = {k: v for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        name, match = next(((n, m) for n, m in ((n, p.match(url.path)) for p, n in _ROUTES)
                             if m), ("", None))
        self.sandbox.count_request(method, name)
        try:
            # As in the API server's filter chain: impersonation, then authorization,
            # then routing (a forbidden request never learns whether a path exists).
            user = policy.impersonate(requester, self.headers)
            if match is None:
                raise HTTPError(404, _NOT_FOUND)
            params = {k: v for k, v in match.groupdict().items() if v is not None}
            if name not in _PUBLIC_ROUTES:
                policy.authorize(user, self._attributes(name, params, method, query))
            if name == "ephemeralcontainers" and not self.sandbox.has_ephemeral_containers:
                raise HTTPError(404, _NOT_FOUND)  # a cluster older than 1.23: no such route
            if name in ("exec", "attach"):
                getattr(self, f"_{name}")(method, params["namespace"], params["name"], query)
                return
            writer = _WRITES.get((name, method))
            if writer is not None:
                getattr(self, writer)(params, query)
                return
            self._discard_body()
            if method != "GET":
                self._method_not_allowed()
                return
            if query.get("watch", [""])[0] in ("1", "true"):
                if name != "pods":
                    raise HTTPError(405, apistatus.status_body(
                        405, "the sandbox only supports watching pods", "MethodNotAllowed"))
                self._watch_pods(params, query)
                return
            getattr(self, f"_get_{name}")(params, query)
        except HTTPError as err:
            self._discard_body()
            self._send(err.code, err.body)

    # ---- read-only resources --------------------------------------------

    def _get_version(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        self._json(discovery.version(self.sandbox.kubernetes_version))

    def _get_api(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        self._json(discovery.api_versions(f"{self.sandbox.host}:{self.sandbox.port}"))

    def _get_apis(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        self._json(discovery.api_group_list())

    def _get_core_v1(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        self._json(discovery.core_v1_resources(self.sandbox.has_ephemeral_containers))

    def _get_api_group(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        self._json(_found(discovery.api_group(params["group"])))

    def _get_group_resources(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        self._json(_found(discovery.group_resources(params["group"], params["version"])))

    def _workload_kind(self, params: dict[str, str]) -> Kind:
        kind = served_kind(params.get("group", ""), params["version"], params["plural"])
        if kind is None or kind not in WORKLOAD_KINDS:
            raise HTTPError(404, _NOT_FOUND)
        return kind

    def _get_workloads(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        kind = self._workload_kind(params)
        try:
            labels = parse_label_selector(query.get("labelSelector", [""])[0])
        except SelectorError as exc:
            raise _bad_request(str(exc)) from None
        store = self._workloads()
        items = [w for w in store.list(kind.plural, params.get("namespace")) if labels(w.labels)]
        self._json(store.list_json(kind, items))

    def _get_workload(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        kind = self._workload_kind(params)
        store = self._workloads()
        workload = store.get(kind.plural, params["namespace"], params["name"])
        if workload is None:
            raise HTTPError(404, apistatus.not_found(kind.plural, params["name"], kind.group))
        self._json(store.to_json(workload))

    def _include_object(self, query: dict[str, list[str]]) -> str:
        return query.get("includeObject", ["Metadata"])[0] or "Metadata"

    def _store(self) -> PodStore:
        store = self.sandbox.pods
        if store is None:
            raise RuntimeError("the Sandbox is not started")
        return store

    def _workloads(self) -> WorkloadStore:
        store = self.sandbox.workloads
        if store is None:
            raise RuntimeError("the Sandbox is not started")
        return store

    def _kubelet(self) -> Kubelet:
        kubelet = self.sandbox.kubelet
        if kubelet is None:
            raise RuntimeError("the Sandbox is not started")
        return kubelet

    def _pod_filter(self, query: dict[str, list[str]]) -> Any:
        """Return a predicate on ``v1`` Pod objects for the request's selectors."""
        try:
            labels = parse_label_selector(query.get("labelSelector", [""])[0])
            field_selector = query.get("fieldSelector", [""])[0]
            fields = parse_field_selector(field_selector)
        except SelectorError as exc:
            raise _bad_request(str(exc)) from None
        for term in filter(None, field_selector.split(",")):
            key = re.split(r"!=|==|=", term, maxsplit=1)[0].strip()
            if key not in _POD_FIELDS:
                raise _bad_request(f'field label not supported: {key}')
        return lambda obj: (labels(obj["metadata"].get("labels") or {})
                            and fields(watch.pod_fields(obj)))

    def _get_pods(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        matches = self._pod_filter(query)
        store = self._store()
        version = store.resource_version
        pods = [p for p in store.list(params.get("namespace")) if matches(p.to_json())]
        if self._wants_table():
            self._json(pod_table(pods, version, self._include_object(query)))
        else:
            self._json(pod_list(pods, version))

    def _watch_pods(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        matches = self._pod_filter(query)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def write(data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        try:
            watch.run_watch(self._store(), write, self.connection,
                            namespace=params.get("namespace"), matches=matches, query=query,
                            stopping=lambda: self.sandbox.stopping)
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass
        self.close_connection = True  # the client may have left mid-stream

    def _pod(self, namespace: str, name: str) -> Pod:
        pod = self._store().get(namespace, name)
        if pod is None:
            raise HTTPError(404, apistatus.not_found("pods", name))
        return pod

    def _get_pod(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        pod = self._pod(params["namespace"], params["name"])
        if self._wants_table():
            self._json(pod_table([pod], pod.resource_version, self._include_object(query)))
        else:
            self._json(pod.to_json())

    def _get_pod_status(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        self._get_pod(params, query)

    def _get_ephemeralcontainers(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        self._json(self._pod(params["namespace"], params["name"]).to_json())

    def _get_log(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        pod = self._pod(params["namespace"], params["name"])
        container = self._container(pod, query)
        self._send(200, self._kubelet().logs(pod, container.name), "text/plain")

    def _get_nodes(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        try:
            labels = parse_label_selector(query.get("labelSelector", [""])[0])
        except SelectorError as exc:
            raise _bad_request(str(exc)) from None
        items = [n for n in self.sandbox.node_objects() if labels(n["metadata"]["labels"])]
        if self._wants_table():
            self._json(nodes.node_table(items, self._include_object(query), _age))
        else:
            self._json({"kind": "NodeList", "apiVersion": "v1",
                        "metadata": {"resourceVersion": "1"}, "items": items})

    def _get_node(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        found = [n for n in self.sandbox.node_objects() if n["metadata"]["name"] == params["name"]]
        if not found:
            raise HTTPError(404, apistatus.not_found("nodes", params["name"]))
        if self._wants_table():
            self._json(nodes.node_table(found, self._include_object(query), _age))
        else:
            self._json(found[0])

    # ---- writes ---------------------------------------------------------------

    def _create_pod(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        body = self._read_body()
        self._json(podwrites.create_pod(self._store(), params["namespace"], body,
                                        self.headers.get("Content-Type", "")), 201)

    def _delete_pod(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        body = self._read_body()
        self._json(podwrites.delete_pod(self._store(), self._kubelet(),
                                        params["namespace"], params["name"], body,
                                        self.headers.get("Content-Type", "")))

    def _put_ephemeral(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        body = self._read_body()
        pod = self._pod(params["namespace"], params["name"])
        self._json(podwrites.replace_ephemeral_containers(
            self._store(), pod, body, self.headers.get("Content-Type", "")))

    def _patch_ephemeral(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        body = self._read_body()
        pod = self._pod(params["namespace"], params["name"])
        self._json(podwrites.patch_ephemeral_containers(
            self._store(), pod, body, self.headers.get("Content-Type", "")))

    def _get_namespaces(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        store = self._store()
        items = [store.namespace_json(ns) for ns in store.namespaces()]
        if self._wants_table():
            self._json(discovery.namespace_table(items, self._include_object(query)))
        else:
            self._json({"kind": "NamespaceList", "apiVersion": "v1",
                        "metadata": {"resourceVersion": "1"}, "items": items})

    def _get_namespace(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        store, name = self._store(), params["name"]
        if name not in store.namespaces():
            raise HTTPError(404, apistatus.not_found("namespaces", name))
        if self._wants_table():
            self._json(discovery.namespace_table([store.namespace_json(name)],
                                                 self._include_object(query)))
        else:
            self._json(store.namespace_json(name))


def _age(created: str) -> str:
    when = datetime.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)
    return human_duration((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds())
