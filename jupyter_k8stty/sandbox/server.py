"""The :class:`Sandbox`: a local HTTPS server that speaks the Kubernetes API we use."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from jupyter_k8stty.exec import protocol
from jupyter_k8stty.sandbox import discovery, kubeconfig, lifetime, tls
from jupyter_k8stty.sandbox.attach_stream import AttachStream
from jupyter_k8stty.sandbox.containers import DEFAULT_UNPULLABLE
from jupyter_k8stty.sandbox.exec_stream import ExecStream
from jupyter_k8stty.sandbox.faults import Fault, FaultPlan
from jupyter_k8stty.sandbox.kubelet import Kubelet
from jupyter_k8stty.sandbox.listener import TLSServer
from jupyter_k8stty.sandbox.nodes import NodeSpec, default_nodes, node_json
from jupyter_k8stty.sandbox.pods import PodSpec, PodStore, default_pods
from jupyter_k8stty.sandbox.rbac import ADMIN_USER, MASTERS, Policy, UserInfo
from jupyter_k8stty.sandbox.workloads import (
    Workload,
    WorkloadStore,
    default_workloads,
    flatten,
)

if TYPE_CHECKING:
    from jupyter_k8stty.sandbox.credentials import TokenRotator

#: How long :meth:`Sandbox.stop` waits for connection threads to end.
STOP_TIMEOUT = 1.5


class Sandbox:
    """A local stand-in for a Kubernetes API server with exec into fake pods.

    Args:
        host: address to listen on (loopback by default).
        port: TCP port; 0 picks a free one.
        pods: the pods to serve; ``None`` gives :func:`default_pods`.
        kubeconfig_path: where to write the kubeconfig; ``None`` writes one in
            a temporary directory that :meth:`stop` removes.
        protocols: exec subprotocols served, most preferred first; pass
            ``("v4.channel.k8s.io",)`` to act like a server older than Kubernetes 1.30.
        workloads: deployments, stateful sets, jobs, services... (see
            :mod:`jupyter_k8stty.sandbox.workloads`) with the pods they own; ``None``
            gives :func:`~jupyter_k8stty.sandbox.workloads.default_workloads` when
            ``pods`` is ``None`` too, else none.
        nodes: the nodes (``/api/v1/nodes``); ``None`` gives
            :func:`~jupyter_k8stty.sandbox.nodes.default_nodes` (``sandbox-node``,
            ``sandbox-worker``, ``sandbox-gpu``). Pods run on this machine whatever their node.
        pod_security: namespace to the Pod Security level it enforces (``baseline`` or
            ``restricted``), e.g. ``{"secure-ns": "restricted"}``: pods created there and
            ephemeral containers added there must comply, or get the admission plugin's 403.
        unpullable_images: image name fragments that fail to pull (``ErrImagePull``, then
            ``ImagePullBackOff``); default ``("does-not-exist",)``.
        container_start_delay: seconds a new container (created pod, ephemeral container)
            stays ``waiting: ContainerCreating`` before it runs.
        kubernetes_version: what ``/version`` reports; older than ``v1.23.0`` the
            ``pods/ephemeralcontainers`` subresource does not exist (404, as on such clusters).
        container_runtime: how exec reports a command that cannot start (no ``sh`` in a
            distroless container): ``containerd`` (Kubernetes 1.24+) answers a Status
            ``InternalError`` naming ``executable file not found in $PATH``; ``docker``
            (dockershim, before 1.24) prints the runtime's error and exits 126.
    """

    context_name = kubeconfig.DEFAULT_CONTEXT

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 pods: list[PodSpec] | None = None,
                 kubeconfig_path: str | os.PathLike[str] | None = None,
                 protocols: tuple[str, ...] = (protocol.V5_PROTOCOL, protocol.V4_PROTOCOL),
                 workloads: list[Workload | list[Workload]] | None = None,
                 *, nodes: list[NodeSpec] | None = None,
                 pod_security: dict[str, str] | None = None,
                 unpullable_images: tuple[str, ...] = DEFAULT_UNPULLABLE,
                 container_start_delay: float = 0.3,
                 kubernetes_version: str = discovery.KUBERNETES_VERSION,
                 container_runtime: str = "containerd"):
        self.host = host
        self.nodes: list[NodeSpec] = list(default_nodes() if nodes is None else nodes)
        self._pod_security = dict(pod_security or {})
        self.unpullable_images = tuple(unpullable_images)
        self.container_start_delay = container_start_delay
        #: The version ``/version`` reports (``v1.32.0`` by default).
        self.kubernetes_version = kubernetes_version
        if container_runtime not in ("containerd", "docker"):
            raise ValueError(f"container_runtime must be 'containerd' or 'docker', got "
                             f"{container_runtime!r}")
        self.container_runtime = container_runtime
        #: Runs the containers' main processes (see :mod:`.kubelet`); set by :meth:`start`.
        self.kubelet: Kubelet | None = None  # type: ignore[assignment]
        declared: list[Workload | list[Workload]] = (
            workloads if workloads is not None else list(default_workloads()) if pods is None else [])
        self._initial_workloads = flatten(declared)
        self.workloads: WorkloadStore | None = None  # type: ignore[assignment]
        self.protocols = tuple(protocols)
        self._requested_port = port
        self._initial_pods = list(default_pods() if pods is None else pods)
        self._kubeconfig_arg = kubeconfig_path
        self._tmpdir: str | None = None
        self.token = secrets.token_urlsafe(32)
        #: Tokens, users, group rules and impersonation (see :mod:`.rbac`).
        self.policy = Policy()
        self.policy.add_token(self.token, ADMIN_USER, groups=(MASTERS,))
        self.ca_pem: bytes = b""
        self.kubeconfig_path: str = ""
        self.pods: PodStore | None = None  # type: ignore[assignment]
        self.stopping = False
        self._server: TLSServer | None = None
        self._thread: threading.Thread | None = None
        self._streams: set[ExecStream | AttachStream] = set()
        self._lock = threading.Lock()
        self._certs: tls.Certificates | None = None
        #: Faults the next exec streams take (see :meth:`inject`).
        self.faults = FaultPlan()
        self._requests: dict[tuple[str, str], int] = {}
        self._requests_lock = threading.Lock()

    # ---- lifecycle ------------------------------------------------------

    def start(self) -> Sandbox:
        """Listen, serve in a background thread and write the kubeconfig.

        Returns once the socket is listening; calling it again does nothing. Temporary
        folders left by sandboxes that were killed are removed first
        (:func:`~jupyter_k8stty.sandbox.lifetime.sweep_stale`).
        """
        with self._lock:
            if self._server is not None:
                return self
            if self.stopping:
                raise RuntimeError("a stopped Sandbox cannot be started again")
            # A sandbox killed with SIGKILL could not clean up: its folders go now.
            lifetime.sweep_stale()
            certs = tls.make_certificates(self.host)
            server = TLSServer((self.host, self._requested_port),
                               tls.server_context(certs), self)
            self._certs = certs
            self.ca_pem = certs.ca_pem
            self.pods = PodStore(self._initial_pods, self._pod_security,
                                 {n.name: n.ip for n in self.nodes})
            self.kubelet = Kubelet(self.pods, start_delay=self.container_start_delay,
                                   unpullable=self.unpullable_images)
            self.workloads = WorkloadStore(self._initial_workloads, self.pods)
            self._server = server
            if self._kubeconfig_arg is None:
                self._tmpdir = tempfile.mkdtemp(prefix=lifetime.temp_prefix())
                path: str | os.PathLike[str] = Path(self._tmpdir) / "kubeconfig"
            else:
                path = self._kubeconfig_arg
            self.kubeconfig_path = str(kubeconfig.write_kubeconfig(
                path, kubeconfig.render_kubeconfig(self.url, self.ca_pem, self.token,
                                                   self.context_name)))
            self._thread = server.serve_in_thread()
        return self

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._server is None:
            return self._requested_port
        return int(self._server.server_address[1])

    @property
    def connections_accepted(self) -> int:
        """TCP connections the server has accepted since it started."""
        return 0 if self._server is None else self._server.accepted

    def count_request(self, method: str, route: str) -> None:
        """Count one authenticated request (see :attr:`requests_served`)."""
        key = (method, route or "unknown")
        with self._requests_lock:
            self._requests[key] = self._requests.get(key, 0) + 1

    @property
    def requests_served(self) -> dict[tuple[str, str], int]:
        """Authenticated requests so far, by method and route (``("GET", "node")``, ``("GET", "exec")``)."""
        with self._requests_lock:
            return dict(self._requests)

    @property
    def url(self) -> str:
        """The server URL, e.g. ``https://127.0.0.1:43121``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    def stop(self) -> None:
        """Stop serving, drop every connection and kill every exec process.

        Returns within about two seconds even with busy connections.
        """
        with self._lock:
            if self.stopping:
                return
            self.stopping = True
            server, thread = self._server, self._thread
        try:
            if server is not None:
                self._stop_server(server, thread)
        finally:
            if self.kubelet is not None:
                self.kubelet.stop()
            if self.pods is not None:
                self.pods.cleanup()
            if self._tmpdir is not None:
                shutil.rmtree(self._tmpdir, ignore_errors=True)

    def _stop_server(self, server: TLSServer, thread: threading.Thread | None) -> None:
        def kill_streams() -> None:
            for stream in self._take_streams():
                stream.kill()

        server.stop(thread, before_drop=kill_streams, timeout=STOP_TIMEOUT)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ---- runtime changes --------------------------------------------------

    def _store(self) -> PodStore:
        if self.pods is None:
            raise RuntimeError("the Sandbox is not started")
        return self.pods

    def add_pod(self, spec: PodSpec) -> None:
        """Add a pod (or replace the one with the same namespace and name)."""
        self._store().add(spec)

    def set_phase(self, namespace: str, name: str, phase: str) -> None:
        """Set a pod's phase, e.g. ``Pending`` then ``Running``.

        Raises:
            KeyError: there is no such pod.
            ValueError: ``phase`` is not a pod phase.
        """
        self._store().set_phase(namespace, name, phase)

    def set_pod_security(self, namespace: str, level: str | None) -> None:
        """Make ``namespace`` enforce Pod Security ``level`` (``baseline``, ``restricted``, ``None``).

        Raises:
            ValueError: ``level`` is not a Pod Security level.
        """
        self._store().set_pod_security(namespace, level)

    @property
    def has_ephemeral_containers(self) -> bool:
        """Whether the ``pods/ephemeralcontainers`` subresource exists (Kubernetes 1.23+)."""
        return discovery.minor_version(self.kubernetes_version) >= 23

    def node_objects(self) -> list[dict[str, Any]]:
        """Return the nodes as ``v1`` ``Node`` objects."""
        created = self._store().created
        return [node_json(node, created) for node in self.nodes]

    def add_workload(self, workload: Workload | list[Workload]) -> None:
        """Add workload(s) and the pods they own."""
        if self.workloads is None:
            raise RuntimeError("the Sandbox is not started")
        for item in flatten([workload]):
            self.workloads.add(item)

    # ---- users and permissions --------------------------------------------

    def add_user(self, name: str, allow: list[str] | tuple[str, ...] = (), *,
                 groups: list[str] | tuple[str, ...] = ()) -> str:
        """Create a user with a restricted role and return its bearer token.

        ``allow`` holds rules ``"VERB RESOURCE [named NAME,...] [in NAMESPACE]"``, e.g.
        ``"get pods"``, ``"list pods"``, ``"create pods/exec in team-a"``,
        ``"get deployments.apps"``, ``"impersonate users named jane"``,
        ``"impersonate groups"``, ``"* *"`` (see :mod:`jupyter_k8stty.sandbox.rbac`). The
        user is also in ``groups`` and gets their rules (:meth:`add_group`). Anything else
        gets a 403 worded like RBAC's (``User "NAME" cannot create resource "pods/exec" ...``).

        Raises:
            ValueError: a rule is malformed.
        """
        return self.policy.add_user(name, allow, groups)

    def add_group(self, name: str, allow: list[str] | tuple[str, ...] = ()) -> None:
        """Give group ``name`` the rules ``allow`` (same form as :meth:`add_user`).

        Members are users created with ``groups=[name]`` and requests impersonating the
        group (``kubectl --as USER --as-group NAME``). ``system:masters`` may always do
        everything.

        Raises:
            ValueError: a rule is malformed.
        """
        self.policy.add_group(name, allow)

    def rotating_tokens(self, name: str, allow: list[str] | tuple[str, ...] = (), *,
                        groups: list[str] | tuple[str, ...] = (), lifetime: float = 60.0,
                        folder: str | os.PathLike[str]) -> TokenRotator:
        """Give user ``name`` (rules ``allow``, as :meth:`add_user`) short-lived rotating tokens.

        Each token is accepted for ``lifetime`` seconds; the current one is published in
        ``folder`` as a service-account token file and for an exec credential plugin (see
        :class:`~jupyter_k8stty.sandbox.credentials.TokenRotator`).
        """
        from jupyter_k8stty.sandbox.credentials import TokenRotator

        self.policy.add_user(name, allow, groups)
        return TokenRotator(self, name, groups=tuple(groups), lifetime=lifetime, folder=folder)

    def users(self) -> list[tuple[str, str]]:
        """``(token, user)`` pairs the server accepts."""
        return self.policy.tokens()

    def allowed(self, user: str, verb: str, resource: str, namespace: str | None,
                groups: tuple[str, ...] | None = None) -> bool:
        """Whether ``user`` may ``verb`` ``resource`` (``pods/exec``, ``deployments.apps``).

        ``groups`` defaults to the groups the user authenticates with.
        """
        if groups is None:
            groups = self.policy.groups_of(user)
        return self.policy.allows(UserInfo(user, tuple(groups)), verb, resource, namespace)

    def write_kubeconfig(self, path: str | os.PathLike[str], *, token: str | None = None,
                         namespace: str | None = "default", context: str | None = None,
                         server: str | None = None) -> str:
        """Write a kubeconfig for this sandbox (another user, namespace or context name).

        ``namespace=None`` leaves the context without a namespace.
        """
        text = kubeconfig.render_kubeconfig(server or self.url, self.ca_pem,
                                            token or self.token, context or self.context_name,
                                            namespace or "default")
        if namespace is None:
            import json as _json

            data = _json.loads(text)
            data["contexts"][0]["context"].pop("namespace", None)
            text = _json.dumps(data, indent=2) + "\n"
        return str(kubeconfig.write_kubeconfig(path, text))

    def inject(self, kind: str, *, count: int = 1, **params: object) -> Fault:
        """Make the next ``count`` exec streams misbehave; return the :class:`Fault`.

        ``kind`` is ``drop``, ``close`` (close frame, no status), ``stall`` (silence,
        pings unanswered), ``slow`` (``delay`` s before the upgrade answer), ``throttle``
        (``rate`` bytes/s), ``frames`` (raw ``frames``) or a malformed-frame preset:
        ``unknown-channel``, ``invalid-utf8``, ``huge-frame``, ``bad-status``,
        ``truncated-status``. ``after`` delays the fault by that many seconds into the
        stream. See :mod:`jupyter_k8stty.sandbox.faults`.

        Example:
            >>> fault = sandbox.inject("stall", after=0.5, seconds=10)
            >>> fault.wait(5)  # True once a stream stalled
        """
        return self.faults.add(kind, count=count, **params)  # type: ignore[arg-type]

    def restart(self, downtime: float = 0.0) -> None:
        """Stop serving and serve again on the same port, CA, token and pods.

        Every connection is dropped and every exec process killed, like an API server
        (or the node behind it) going away; for ``downtime`` seconds nothing listens.
        Containers' main processes keep running: attached clients are dropped, and may
        attach again.
        """
        with self._lock:
            server, thread, certs = self._server, self._thread, self._certs
            if server is None or certs is None or self.stopping:
                raise RuntimeError("only a running Sandbox can be restarted")
            port = self.port
        self._stop_server(server, thread)
        if downtime > 0:
            time.sleep(downtime)
        with self._lock:
            if self.stopping:
                return
            new = TLSServer((self.host, port), tls.server_context(certs), self)
            self._server = new
            self._thread = new.serve_in_thread()

    def drop_connections(self) -> None:
        """Abruptly close every exec websocket, without a status, like a network drop."""
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            stream.drop()

    # ---- used by the handler ----------------------------------------------

    def register_stream(self, stream: ExecStream | AttachStream) -> bool:
        """Track an exec or attach stream; ``False`` when the sandbox is stopping."""
        with self._lock:
            if self.stopping:
                return False
            self._streams.add(stream)
            return True

    def unregister_stream(self, stream: ExecStream | AttachStream) -> None:
        """Forget a finished exec or attach stream."""
        with self._lock:
            self._streams.discard(stream)

    def _take_streams(self) -> list[ExecStream | AttachStream]:
        with self._lock:
            streams = list(self._streams)
            self._streams.clear()
            return streams
