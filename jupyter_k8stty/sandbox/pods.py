"""The sandbox's pods: their runtime state and the store that holds them.

A pod is either *declared* (a :class:`~jupyter_k8stty.sandbox.podspec.PodSpec`: the
default pods, ``--pods``, workloads; re-exported here with the rest of :mod:`.podspec`)
or *created* through the API (``POST .../pods``, e.g. by ``kubectl debug node/NAME``).
Every container has a working directory on this machine, its "filesystem"; a container
may have a main process (``PodSpec(commands=...)``, every created container, every
ephemeral container), which :mod:`.kubelet` runs and ``attach`` connects to. The JSON
the API returns is rendered by :mod:`.podjson`.

The store records every change with a resource version, so list-then-watch clients
(``kubectl debug`` waiting for its container, ``kubectl delete`` waiting for the pod to
go) see each step.
"""

from __future__ import annotations

import builtins
import datetime
import shutil
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_k8stty.sandbox.containers import Container, ContainerState, now, timestamp
from jupyter_k8stty.sandbox.lifetime import temp_prefix
from jupyter_k8stty.sandbox.nodes import DEFAULT_NODE
from jupyter_k8stty.sandbox.podjson import IMAGE, IMAGE_ID, human_duration, pod_json, pod_list, pod_table
from jupyter_k8stty.sandbox.podspec import (
    DEFAULT_CONTAINER_ANNOTATION,
    INLINE_HELP,
    PHASES,
    PodSpec,
    default_pods,
    load_pods,
    parse_inline_pods,
)

__all__ = ["DEFAULT_CONTAINER_ANNOTATION", "IMAGE", "IMAGE_ID", "INLINE_HELP", "PHASES", "Pod",
           "PodSpec", "PodStore", "WatchEvent", "default_pods", "human_duration", "load_pods",
           "parse_inline_pods", "pod_list", "pod_table"]

NODE_NAME = DEFAULT_NODE
HOST_IP = "10.0.0.1"
#: Changes kept for watches; a watch from an older resource version gets 410 Gone.
EVENT_LIMIT = 2000
#: Pod Security Admission levels a namespace can enforce.
SECURITY_LEVELS = ("privileged", "baseline", "restricted")


class Pod:
    """A pod's spec plus the runtime state the API reports (uid, IP, containers, version).

    Attributes:
        manifest: the ``spec`` a created pod was created with (API defaults not applied);
            ``None`` for declared pods.
        containers: regular containers by name, in spec order.
        ephemeral: ephemeral containers by name, in the order they were added.
        deletion: when deletion was asked (the pod is Terminating), else ``None``.
        security_level: the Pod Security level its namespace enforces, if any.
    """

    def __init__(self, spec: PodSpec, ip: str, resource_version: int, workdir_root: Path,
                 manifest: dict[str, Any] | None = None, host_ip: str = HOST_IP):
        self.spec = spec
        self.uid = str(uuid.uuid4())
        self.ip = ip
        self.host_ip = host_ip
        self.created = now() - datetime.timedelta(seconds=int(spec.age))
        self.resource_version = resource_version
        self.manifest = manifest
        self.deletion: datetime.datetime | None = None
        self.grace = 30
        self.security_level: str | None = None
        self._root = workdir_root / spec.namespace / spec.name
        self.containers: dict[str, Container] = {}
        self.ephemeral: dict[str, Container] = {}
        if manifest is None:
            for name in spec.containers:
                self.containers[name] = Container(spec.container_spec(name), self._root / name)
        else:
            for item in manifest["containers"]:
                self.containers[item["name"]] = self._new_container(item)

    def _new_container(self, spec: dict[str, Any], ephemeral: bool = False) -> Container:
        container = Container(spec, self._root / spec["name"], ephemeral=ephemeral,
                              state=ContainerState("waiting", "ContainerCreating"))
        self._mount_host_paths(container)
        return container

    def _mount_host_paths(self, container: Container) -> None:
        """Show hostPath volumes inside the container's working directory.

        The sandbox cannot mount anything, and the node's root *is* this machine's
        ``/``: a mount of hostPath ``/`` at ``/host`` (``kubectl debug node/NAME``) becomes
        a symlink ``host`` -> ``/`` in the working directory, where the shell starts.
        """
        volumes = {v.get("name"): v for v in (self.manifest or {}).get("volumes") or []
                   if isinstance(v, dict)}
        for mount in container.spec.get("volumeMounts") or []:
            source = (volumes.get(mount.get("name")) or {}).get("hostPath") or {}
            target = str(mount.get("mountPath") or "").strip("/")
            if not isinstance(source, dict) or not source.get("path") or not target:
                continue
            link = container.workdir / target
            if not link.exists() and not link.is_symlink() and ".." not in target.split("/"):
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(str(source["path"]))

    def add_ephemeral(self, spec: dict[str, Any]) -> Container:
        """Add an ephemeral container (validated by the caller); it starts out waiting."""
        container = self._new_container(spec, ephemeral=True)
        # Copied, not changed in place: other threads may be iterating over the old one.
        self.ephemeral = {**self.ephemeral, container.name: container}
        return container

    @property
    def phase(self) -> str:
        """The pod's current phase."""
        return self.spec.phase

    @property
    def node(self) -> str:
        """The node the pod is bound to (``""``: not scheduled)."""
        return self.spec.node

    @property
    def restart_policy(self) -> str:
        """``spec.restartPolicy``."""
        if self.manifest is not None:
            return str(self.manifest.get("restartPolicy") or "Always")
        return "Always" if self.phase != "Succeeded" else "Never"

    @property
    def workdirs(self) -> dict[str, Path]:
        """Every container's working directory, ephemeral containers included."""
        return {name: c.workdir for name, c in (*self.containers.items(), *self.ephemeral.items())}

    def environment(self, container: Container) -> tuple[tuple[str, str], ...]:
        """Return the environment ``container``'s processes get beyond the sandbox's defaults.

        Its spec's ``env`` (plain values), and the node's name as ``HOSTNAME`` when the
        pod uses the host's network, as on a node.
        """
        env = [(str(e["name"]), str(e.get("value", ""))) for e in container.spec.get("env") or []
               if isinstance(e, dict) and e.get("name")]
        if (self.manifest or {}).get("hostNetwork"):
            env.insert(0, ("HOSTNAME", self.node))
        return tuple(env)

    def container(self, name: str) -> Container | None:
        """Return the regular or ephemeral container called ``name``."""
        return self.containers.get(name) or self.ephemeral.get(name)

    def to_json(self) -> dict[str, Any]:
        """Return the pod as the ``v1`` ``Pod`` object."""
        return pod_json(self)

    def table_row(self, include_object: str) -> dict[str, Any]:
        """Return this pod's row of a ``meta.k8s.io/v1`` Table (``kubectl get pods``)."""
        from jupyter_k8stty.sandbox.podjson import table_row

        return table_row(self, include_object)


@dataclass(frozen=True)
class WatchEvent:
    """One change of the store: ``ADDED``, ``MODIFIED`` or ``DELETED``, and the pod after it."""

    version: int
    type: str
    namespace: str
    object: dict[str, Any]


class PodStore:
    """The set of pods, safe to read and change from many threads.

    Each container gets a working directory under one temporary root; the root is
    removed by :meth:`cleanup`. Every change gets a new resource version and is kept
    (the last :data:`EVENT_LIMIT`) for watches; ``listener(type, pod)`` hears of each
    change after it is made (the kubelet, which runs the containers).
    """

    def __init__(self, specs: Iterable[PodSpec], pod_security: dict[str, str] | None = None,
                 node_ips: dict[str, str] | None = None):
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._pods: dict[tuple[str, str], Pod] = {}
        self._version = 1000
        self._next_ip = 10
        self._events: deque[WatchEvent] = deque(maxlen=EVENT_LIMIT)
        self.created = now()
        self.root = Path(tempfile.mkdtemp(prefix=temp_prefix("pods")))
        #: Namespace to the Pod Security level it enforces (``restricted``, ``baseline``).
        self.pod_security: dict[str, str] = {}
        self.node_ips = dict(node_ips or {})
        self.listener: Callable[[str, Pod], None] | None = None
        for namespace, level in (pod_security or {}).items():
            self.set_pod_security(namespace, level)
        for spec in specs:
            self.add(spec)

    @property
    def resource_version(self) -> int:
        """The newest resource version handed out."""
        with self._lock:
            return self._version

    # ---- changes ----------------------------------------------------------------

    def _record(self, kind: str, pod: Pod) -> None:
        """Give ``pod`` a new resource version and keep the change (lock held)."""
        self._version += 1
        pod.resource_version = self._version
        self._events.append(WatchEvent(self._version, kind, pod.spec.namespace, pod.to_json()))
        self._changed.notify_all()

    def _tell(self, kind: str, pod: Pod) -> None:
        listener = self.listener
        if listener is not None:
            listener(kind, pod)

    def _new_ip(self) -> str:
        ip = f"10.244.{self._next_ip // 250}.{self._next_ip % 250 + 2}"
        self._next_ip += 1
        return ip

    def add(self, spec: PodSpec, manifest: dict[str, Any] | None = None) -> Pod:
        """Add (or replace) a pod and return its runtime object.

        ``manifest`` is the ``spec`` of a pod created through the API (see :class:`Pod`).
        """
        with self._lock:
            key = (spec.namespace, spec.name)
            old = self._pods.get(key)
            host_network = bool((manifest or {}).get("hostNetwork"))
            host_ip = self.node_ips.get(spec.node, HOST_IP)
            pod = Pod(spec, host_ip if host_network else self._new_ip(), self._version,
                      self.root, manifest, host_ip)
            pod.security_level = self.pod_security.get(spec.namespace)
            self._pods[key] = pod
            if old is not None:
                self._record("DELETED", old)
            self._record("ADDED", pod)
        if old is not None:
            self._tell("DELETED", old)
        self._tell("ADDED", pod)
        return pod

    def set_phase(self, namespace: str, name: str, phase: str) -> None:
        """Change a pod's phase.

        Raises:
            KeyError: there is no such pod.
            ValueError: ``phase`` is not a pod phase.
        """
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
        with self._lock:
            pod = self._pods[(namespace, name)]
            pod.spec.phase = phase
            self._record("MODIFIED", pod)
        self._tell("MODIFIED", pod)

    def change(self, pod: Pod, update: Callable[[Pod], Any], *, tell: bool = True) -> Any:
        """Run ``update(pod)`` under the store's lock and record the change; return its result.

        Nothing is recorded when ``pod`` is no longer in the store (it was deleted) or when
        ``update`` raises. ``tell=False`` keeps the listener out (the kubelet's own updates).
        """
        with self._lock:
            if self._pods.get((pod.spec.namespace, pod.spec.name)) is not pod:
                return None
            result = update(pod)
            self._record("MODIFIED", pod)
        if tell:
            self._tell("MODIFIED", pod)
        return result

    def remove(self, pod: Pod) -> bool:
        """Remove ``pod`` for good (its containers are gone); ``False`` if it was not there."""
        with self._lock:
            key = (pod.spec.namespace, pod.spec.name)
            if self._pods.get(key) is not pod:
                return False
            del self._pods[key]
            self._record("DELETED", pod)
        self._tell("DELETED", pod)
        return True

    def set_pod_security(self, namespace: str, level: str | None) -> None:
        """Make ``namespace`` enforce Pod Security ``level`` (``None``: no policy).

        Raises:
            ValueError: ``level`` is not ``privileged``, ``baseline`` or ``restricted``.
        """
        if level is not None and level not in SECURITY_LEVELS:
            raise ValueError(f"pod security level must be one of {SECURITY_LEVELS}, got {level!r}")
        with self._lock:
            if level is None:
                self.pod_security.pop(namespace, None)
            else:
                self.pod_security[namespace] = level
            for (ns, _), pod in self._pods.items():
                if ns == namespace:
                    pod.security_level = level

    # ---- reading ----------------------------------------------------------------

    def get(self, namespace: str, name: str) -> Pod | None:
        """Return the pod, or ``None`` when it does not exist."""
        with self._lock:
            return self._pods.get((namespace, name))

    def list(self, namespace: str | None = None) -> list[Pod]:
        """Return pods of ``namespace`` (all namespaces when ``None``), sorted as the API does."""
        with self._lock:
            pods = [p for (ns, _), p in self._pods.items() if namespace in (None, ns)]
        return sorted(pods, key=lambda p: (p.spec.namespace, p.spec.name))

    def snapshot(self, namespace: str | None = None) -> tuple[int, builtins.list[dict[str, Any]]]:
        """Return the resource version and the pods of ``namespace`` as JSON, consistently."""
        with self._lock:
            return self._version, [p.to_json() for p in self.list(namespace)]

    def events_after(self, version: int) -> builtins.list[WatchEvent] | None:
        """Return the changes newer than ``version``; ``None`` when they are no longer kept."""
        with self._lock:
            if version < self._version and (not self._events or self._events[0].version > version + 1):
                return None
            return [e for e in self._events if e.version > version]

    def wait_for_change(self, version: int, timeout: float) -> bool:
        """Wait until the resource version passes ``version``; ``False`` on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._version > version, timeout)

    def namespaces(self) -> builtins.list[str]:
        """Return every namespace that exists: the standard ones, those with pods or a policy."""
        with self._lock:
            names = {ns for ns, _ in self._pods} | set(self.pod_security)
        return sorted(names | {"default", "kube-system", "kube-public", "kube-node-lease"})

    def namespace_json(self, name: str) -> dict[str, Any]:
        """Return the ``v1`` ``Namespace`` object called ``name``.

        A namespace with a Pod Security level carries the ``pod-security.kubernetes.io/enforce``
        label, as on a real cluster.
        """
        labels = {"kubernetes.io/metadata.name": name}
        level = self.pod_security.get(name)
        if level is not None:
            labels["pod-security.kubernetes.io/enforce"] = level
        return {
            "kind": "Namespace", "apiVersion": "v1",
            "metadata": {"name": name, "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
                         "resourceVersion": "1", "creationTimestamp": timestamp(self.created),
                         "labels": labels},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }

    def cleanup(self) -> None:
        """Remove every container working directory."""
        shutil.rmtree(self.root, ignore_errors=True)
