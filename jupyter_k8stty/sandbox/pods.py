"""The sandbox's pods: their spec, runtime state, and JSON as the real API server renders it."""

from __future__ import annotations

import datetime
import json
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_k8stty.sandbox.lifetime import temp_prefix
from jupyter_k8stty.sandbox.resources import kind_named

PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
IMAGE = "registry.k8s.io/jupyter-k8stty/sandbox:latest"
IMAGE_ID = "sha256:" + "5a" * 32
NODE_NAME = "sandbox-node"
HOST_IP = "10.0.0.1"


@dataclass
class PodSpec:
    """What a sandbox pod looks like.

    Attributes:
        name: the pod name.
        namespace: the pod namespace.
        containers: container names; the first is used when exec names none.
        labels: metadata labels (selectable with ``labelSelector``).
        annotations: metadata annotations.
        phase: ``Pending``, ``Running``, ``Succeeded``, ``Failed`` or ``Unknown``.
        owner: ``Kind/name`` of the controller owning the pod (e.g. ``ReplicaSet/web-5d8``),
            rendered as an ``ownerReference``.
        age: seconds since the pod was created (and became ready, when Running).
        restarts: the containers' restart count.
    """

    name: str
    namespace: str = "default"
    containers: tuple[str, ...] = ("main",)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    phase: str = "Running"
    owner: str | None = None
    age: float = 0.0
    restarts: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.containers, str):
            self.containers = (self.containers,)
        self.containers = tuple(self.containers)
        if not self.containers:
            raise ValueError(f"pod {self.name!r} needs at least one container")
        if self.phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {self.phase!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PodSpec:
        """Build a spec from a JSON object with the dataclass's field names."""
        unknown = set(data) - {"name", "namespace", "containers", "labels", "annotations",
                               "phase", "owner", "age", "restarts"}
        if unknown:
            raise ValueError(f"unknown pod field(s) {sorted(unknown)} in {data!r}")
        return cls(**data)


def default_pods() -> list[PodSpec]:
    """Return the pods a sandbox has when none are given."""
    return [
        PodSpec("demo", containers=("main", "sidecar"), labels={"app": "demo"},
                annotations={DEFAULT_CONTAINER_ANNOTATION: "main"}),
        *(PodSpec(f"worker-{i}", labels={"app": "worker"}) for i in range(3)),
        PodSpec("finished", labels={"app": "finished"}, phase="Succeeded"),
        PodSpec("analytics", namespace="team-a", labels={"app": "analytics"}),
    ]


_RANGE_RE = re.compile(r"\{(\d+)\.\.(\d+)\}")
_INLINE_RE = re.compile(
    r"^(?:(?P<ns>[a-z0-9-]+)/)?(?P<name>[a-z0-9.-]+)"
    r"(?::(?P<containers>[a-z0-9-]+(?:\+[a-z0-9-]+)*))?(?:@(?P<phase>[A-Za-z]+))?$"
)

INLINE_HELP = """\
Inline pods: comma-separated entries [NAMESPACE/]NAME[:CONTAINER+CONTAINER...][@PHASE];
NAME may hold one {A..B} range. Each pod gets the label app=NAME without a trailing
-NUMBER. Example: 'demo:main+sidecar,worker-{0..19},team-a/analytics,done@Succeeded'."""


def parse_inline_pods(text: str) -> list[PodSpec]:
    """Parse the compact ``--pods`` form described in :data:`INLINE_HELP`.

    Raises:
        ValueError: an entry does not follow the form.
    """
    specs: list[PodSpec] = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        m = _RANGE_RE.search(entry)
        expanded = ([entry[:m.start()] + str(i) + entry[m.end():]
                     for i in range(int(m.group(1)), int(m.group(2)) + 1)] if m else [entry])
        for item in expanded:
            parsed = _INLINE_RE.match(item)
            if not parsed:
                raise ValueError(f"bad pod entry {item!r}: expected "
                                 "[NAMESPACE/]NAME[:CONTAINER+CONTAINER][@PHASE]")
            name = parsed.group("name")
            containers = tuple((parsed.group("containers") or "main").split("+"))
            annotations = ({DEFAULT_CONTAINER_ANNOTATION: containers[0]}
                           if len(containers) > 1 else {})
            specs.append(PodSpec(
                name=name, namespace=parsed.group("ns") or "default", containers=containers,
                labels={"app": re.sub(r"-\d+$", "", name)}, annotations=annotations,
                phase=(parsed.group("phase") or "Running").capitalize(),
            ))
    return specs


def load_pods(spec: str) -> list[PodSpec]:
    """Return pods from ``spec``: a JSON file path (a list of objects) or the inline form."""
    path = Path(spec).expanduser()
    if spec.endswith(".json") or path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise ValueError(f"{spec}: expected a JSON list of pod objects")
        return [PodSpec.from_dict(d) for d in data]
    return parse_inline_pods(spec)


def _timestamp(when: datetime.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def human_duration(seconds: float) -> str:
    """Format an age the way ``kubectl`` and the API server's Table do (``5m3s``, ``2d``)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 192:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    return f"{hours // 24 // 365}y"


class Pod:
    """A pod's spec plus the runtime state the API reports (uid, IP, times, version)."""

    def __init__(self, spec: PodSpec, ip: str, resource_version: int, workdir_root: Path):
        self.spec = spec
        self.uid = str(uuid.uuid4())
        self.ip = ip
        self.created = (datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
                        - datetime.timedelta(seconds=int(spec.age)))
        self.resource_version = resource_version
        self.workdirs: dict[str, Path] = {}
        for container in spec.containers:
            path = workdir_root / spec.namespace / spec.name / container
            path.mkdir(parents=True, exist_ok=True)
            self.workdirs[container] = path

    @property
    def phase(self) -> str:
        """The pod's current phase."""
        return self.spec.phase

    def _container_status(self, name: str) -> dict[str, Any]:
        started = _timestamp(self.created)
        phase = self.phase
        if phase == "Running":
            state: dict[str, Any] = {"running": {"startedAt": started}}
        elif phase in ("Succeeded", "Failed"):
            ok = phase == "Succeeded"
            state = {"terminated": {"exitCode": 0 if ok else 1,
                                    "reason": "Completed" if ok else "Error",
                                    "startedAt": started, "finishedAt": started,
                                    "containerID": f"containerd://{self.uid}-{name}"}}
        else:
            state = {"waiting": {"reason": "ContainerCreating"}}
        status = {
            "name": name,
            "state": state,
            "lastState": {},
            "ready": phase == "Running",
            "restartCount": self.spec.restarts,
            "image": IMAGE,
            "imageID": IMAGE_ID,
            "started": phase == "Running",
        }
        if phase != "Pending":
            status["containerID"] = f"containerd://{self.uid.replace('-', '')}{name}"
        return status

    def to_json(self) -> dict[str, Any]:
        """Return the pod as the ``v1`` ``Pod`` object."""
        spec = self.spec
        created = _timestamp(self.created)
        running = self.phase == "Running"
        ready = "True" if running else "False"
        scheduled = [("PodScheduled", "True")]
        conditions = [("PodReadyToStartContainers", "True" if self.phase != "Pending" else "False"),
                      ("Initialized", "True"), ("Ready", ready), ("ContainersReady", ready),
                      *scheduled]
        metadata: dict[str, Any] = {
            "name": spec.name,
            "namespace": spec.namespace,
            "uid": self.uid,
            "resourceVersion": str(self.resource_version),
            "creationTimestamp": created,
        }
        if spec.labels:
            metadata["labels"] = dict(spec.labels)
        if spec.annotations:
            metadata["annotations"] = dict(spec.annotations)
        if spec.owner:
            kind, _, owner_name = spec.owner.partition("/")
            owner_kind = kind_named(kind)
            metadata["ownerReferences"] = [{
                "apiVersion": owner_kind.group_version if owner_kind else "apps/v1",
                "kind": kind, "name": owner_name,
                "uid": str(uuid.uuid5(uuid.NAMESPACE_URL,
                                      f"k8stty-sandbox:{spec.namespace}/{kind}/{owner_name}")),
                "controller": True, "blockOwnerDeletion": True,
            }]
        status: dict[str, Any] = {
            "phase": self.phase,
            "conditions": [{"type": t, "status": s, "lastProbeTime": None,
                            "lastTransitionTime": created} for t, s in conditions],
            "hostIP": HOST_IP,
            "hostIPs": [{"ip": HOST_IP}],
            "startTime": created,
            "containerStatuses": [self._container_status(c) for c in spec.containers],
            "qosClass": "BestEffort",
        }
        if self.phase != "Pending":
            status["podIP"] = self.ip
            status["podIPs"] = [{"ip": self.ip}]
        return {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": metadata,
            "spec": {
                "containers": [{
                    "name": c, "image": IMAGE, "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent",
                } for c in spec.containers],
                "restartPolicy": "Always" if self.phase != "Succeeded" else "Never",
                "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst",
                "serviceAccountName": "default",
                "serviceAccount": "default",
                "nodeName": NODE_NAME,
                "securityContext": {},
                "schedulerName": "default-scheduler",
                "enableServiceLinks": True,
                "preemptionPolicy": "PreemptLowerPriority",
            },
            "status": status,
        }

    def table_row(self, include_object: str) -> dict[str, Any]:
        """Return this pod's row of a ``meta.k8s.io/v1`` Table (``kubectl get pods``)."""
        phase = self.phase
        ready = sum(1 for _ in self.spec.containers) if phase == "Running" else 0
        status = {"Succeeded": "Completed", "Failed": "Error",
                  "Pending": "ContainerCreating"}.get(phase, phase)
        age = human_duration(
            (datetime.datetime.now(datetime.timezone.utc) - self.created).total_seconds())
        row: dict[str, Any] = {"cells": [
            self.spec.name, f"{ready}/{len(self.spec.containers)}", status, str(self.spec.restarts), age,
            self.ip if phase != "Pending" else "<none>", NODE_NAME, "<none>", "<none>",
        ]}
        if include_object == "Object":
            row["object"] = self.to_json()
        elif include_object != "None":
            full = self.to_json()
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": full["metadata"]}
        return row


_POD_COLUMNS = [
    ("Name", "string", "name", "Name must be unique within a namespace.", 0),
    ("Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.",
     0),
    ("Status", "string", "", "The aggregate status of the containers in this pod.", 0),
    ("Restarts", "string", "", "The number of times the containers in this pod have been "
     "restarted and when the last container in this pod has restarted.", 0),
    ("Age", "string", "", "CreationTimestamp is a timestamp representing the server time when "
     "this object was created.", 0),
    ("IP", "string", "", "The IP address assigned to the pod", 1),
    ("Node", "string", "", "The name of the node where the pod is scheduled", 1),
    ("Nominated Node", "string", "", "The name of the node where the pod is nominated", 1),
    ("Readiness Gates", "string", "", "The readiness gates of the pod", 1),
]


def pod_table(pods: Iterable[Pod], resource_version: int, include_object: str) -> dict[str, Any]:
    """Return the ``meta.k8s.io/v1`` Table the server sends for ``Accept: ...;as=Table``."""
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": str(resource_version)},
        "columnDefinitions": [
            {"name": n, "type": t, "format": f, "description": d, "priority": p}
            for n, t, f, d, p in _POD_COLUMNS
        ],
        "rows": [p.table_row(include_object) for p in pods],
    }


def pod_list(pods: Iterable[Pod], resource_version: int) -> dict[str, Any]:
    """Return the ``v1`` ``PodList`` object."""
    return {"kind": "PodList", "apiVersion": "v1",
            "metadata": {"resourceVersion": str(resource_version)},
            "items": [p.to_json() for p in pods]}


class PodStore:
    """The set of pods, safe to read and change from many threads.

    Each container gets a working directory under one temporary root; the
    root is removed by :meth:`cleanup`.
    """

    def __init__(self, specs: Iterable[PodSpec]):
        self._lock = threading.Lock()
        self._pods: dict[tuple[str, str], Pod] = {}
        self._version = 1000
        self._next_ip = 10
        self.created = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        self.root = Path(tempfile.mkdtemp(prefix=temp_prefix("pods")))
        for spec in specs:
            self.add(spec)

    @property
    def resource_version(self) -> int:
        """The newest resource version handed out."""
        with self._lock:
            return self._version

    def add(self, spec: PodSpec) -> Pod:
        """Add (or replace) a pod and return its runtime object."""
        with self._lock:
            self._version += 1
            ip = f"10.244.{self._next_ip // 250}.{self._next_ip % 250 + 2}"
            self._next_ip += 1
            pod = Pod(spec, ip, self._version, self.root)
            self._pods[(spec.namespace, spec.name)] = pod
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
            self._version += 1
            pod.spec.phase = phase
            pod.resource_version = self._version

    def get(self, namespace: str, name: str) -> Pod | None:
        """Return the pod, or ``None`` when it does not exist."""
        with self._lock:
            return self._pods.get((namespace, name))

    def list(self, namespace: str | None = None) -> list[Pod]:
        """Return pods of ``namespace`` (all namespaces when ``None``), sorted as the API does."""
        with self._lock:
            pods = [p for (ns, _), p in self._pods.items() if namespace in (None, ns)]
        return sorted(pods, key=lambda p: (p.spec.namespace, p.spec.name))

    def namespaces(self) -> list[str]:
        """Return every namespace that exists: the standard ones and those holding pods."""
        with self._lock:
            names = {ns for ns, _ in self._pods}
        return sorted(names | {"default", "kube-system", "kube-public", "kube-node-lease"})

    def namespace_json(self, name: str) -> dict[str, Any]:
        """Return the ``v1`` ``Namespace`` object called ``name``."""
        return {
            "kind": "Namespace", "apiVersion": "v1",
            "metadata": {"name": name, "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
                         "resourceVersion": "1", "creationTimestamp": _timestamp(self.created),
                         "labels": {"kubernetes.io/metadata.name": name}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }

    def cleanup(self) -> None:
        """Remove every container working directory."""
        shutil.rmtree(self.root, ignore_errors=True)
