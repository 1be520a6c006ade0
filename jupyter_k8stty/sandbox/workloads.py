"""The sandbox's workloads: deployments, replica sets, stateful sets, daemon sets, jobs, services.

They are rendered as the real API server renders them.

A :class:`Workload` owns the pods it was declared with; they are added to the pod store
when the sandbox starts, carry the labels the workload selects and an ``ownerReference``
to it. Use the factory functions (:func:`deployment`, :func:`statefulset`, ...) rather
than building a :class:`Workload` by hand.
"""

from __future__ import annotations

import builtins
import datetime
import hashlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from jupyter_k8stty.exec.kinds import Kind
from jupyter_k8stty.sandbox.containers import timestamp
from jupyter_k8stty.sandbox.objmeta import object_uid, owner_references
from jupyter_k8stty.sandbox.pods import IMAGE, PodSpec, PodStore
from jupyter_k8stty.sandbox.resources import WORKLOAD_KINDS, kind_named


@dataclass
class Workload:
    """One workload object.

    Attributes:
        kind: a kind of :data:`~jupyter_k8stty.sandbox.resources.WORKLOAD_KINDS`
            (``Deployment``, ``ReplicaSet``, ``StatefulSet``, ``DaemonSet``, ``Job``,
            ``Service``).
        name: the object's name.
        namespace: its namespace.
        selector: ``spec.selector.matchLabels`` (a service's plain ``spec.selector``).
        match_expressions: ``spec.selector.matchExpressions`` (not for services).
        labels: the object's own labels.
        pods: the pods it owns, added when the sandbox starts.
        replicas: ``spec.replicas`` (``None`` for kinds without it).
        containers: container names of the pod template.
        owner: ``Kind/name`` of the owning object (a deployment's replica set).
    """

    kind: str
    name: str
    namespace: str = "default"
    selector: dict[str, str] = field(default_factory=dict)
    match_expressions: list[dict[str, Any]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    pods: list[PodSpec] = field(default_factory=list)
    replicas: int | None = None
    containers: tuple[str, ...] = ("main",)
    owner: str | None = None
    age: float = 3600.0

    def __post_init__(self) -> None:
        if kind_named(self.kind) not in WORKLOAD_KINDS:
            names = sorted(k.kind for k in WORKLOAD_KINDS)
            raise ValueError(f"kind must be one of {names}, got {self.kind!r}")
        for pod in self.pods:
            if pod.namespace != self.namespace:
                raise ValueError(f"pod {pod.name} is not in namespace {self.namespace}")

    @property
    def uid(self) -> str:
        """The object's uid."""
        return object_uid(self.namespace, self.kind, self.name)

    @property
    def kind_info(self) -> Kind:
        """The kind's API facts (group, version, plural) from the kind registry."""
        kind = kind_named(self.kind)
        assert kind is not None  # checked in __post_init__
        return kind


def _pod_hash(name: str) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    digest = hashlib.sha256(name.encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:10])


def deployment(name: str, replicas: int = 2, *, namespace: str = "default",
               containers: tuple[str, ...] = ("main",), labels: dict[str, str] | None = None,
               annotations: dict[str, str] | None = None,
               pod_suffixes: Iterable[str] | None = None,
               ages: Iterable[float] | None = None, phase: str = "Running") -> list[Workload]:
    """Return a deployment, its replica set and ``replicas`` pods named ``NAME-HASH-SUFFIX``.

    ``ages`` gives each pod's age in seconds (how long it has been ready).
    """
    labels = dict(labels or {"app": name})
    template_hash = _pod_hash(f"{namespace}/{name}")
    rs_name = f"{name}-{template_hash}"
    suffixes = list(pod_suffixes or (_pod_hash(f"{rs_name}-{i}")[:5] for i in range(replicas)))
    pod_ages = list(ages or [600.0 * (i + 1) for i in range(len(suffixes))])
    pod_labels = {**labels, "pod-template-hash": template_hash}
    pods = [PodSpec(f"{rs_name}-{suffix}", namespace=namespace, containers=containers,
                    labels=dict(pod_labels), annotations=dict(annotations or {}), phase=phase,
                    owner=f"ReplicaSet/{rs_name}", age=age)
            for suffix, age in zip(suffixes, pod_ages, strict=False)]
    return [
        Workload("Deployment", name, namespace, selector=dict(labels), labels=dict(labels),
                 replicas=len(pods), containers=tuple(containers)),
        Workload("ReplicaSet", rs_name, namespace, selector=dict(pod_labels),
                 labels=dict(pod_labels), pods=pods, replicas=len(pods),
                 containers=tuple(containers), owner=f"Deployment/{name}"),
    ]


def replicaset(name: str, replicas: int = 1, *, namespace: str = "default",
               containers: tuple[str, ...] = ("main",), labels: dict[str, str] | None = None,
               phase: str = "Running") -> Workload:
    """Return a bare replica set with ``replicas`` pods named ``NAME-SUFFIX``."""
    labels = dict(labels or {"app": name})
    pods = [PodSpec(f"{name}-{_pod_hash(f'{name}-{i}')[:5]}", namespace=namespace,
                    containers=containers, labels=dict(labels), phase=phase,
                    owner=f"ReplicaSet/{name}", age=600.0 * (i + 1)) for i in range(replicas)]
    return Workload("ReplicaSet", name, namespace, selector=dict(labels), labels=dict(labels),
                    pods=pods, replicas=replicas, containers=tuple(containers))


def statefulset(name: str, replicas: int = 1, *, namespace: str = "default",
                containers: tuple[str, ...] = ("main",), labels: dict[str, str] | None = None,
                annotations: dict[str, str] | None = None, phase: str = "Running") -> Workload:
    """Return a stateful set with pods ``NAME-0`` .. ``NAME-(replicas-1)``."""
    labels = dict(labels or {"app": name})
    pods = [PodSpec(f"{name}-{i}", namespace=namespace, containers=containers,
                    labels={**labels, "apps.kubernetes.io/pod-index": str(i),
                            "statefulset.kubernetes.io/pod-name": f"{name}-{i}"},
                    annotations=dict(annotations or {}), phase=phase,
                    owner=f"StatefulSet/{name}", age=3600.0 - i)
            for i in range(replicas)]
    return Workload("StatefulSet", name, namespace, selector=dict(labels), labels=dict(labels),
                    pods=pods, replicas=replicas, containers=tuple(containers))


def daemonset(name: str, *, namespace: str = "default", containers: tuple[str, ...] = ("main",),
              labels: dict[str, str] | None = None, phase: str = "Running") -> Workload:
    """Return a daemon set with its one pod (the sandbox has one node)."""
    labels = dict(labels or {"app": name})
    pod = PodSpec(f"{name}-{_pod_hash(name)[:5]}", namespace=namespace, containers=containers,
                  labels=dict(labels), phase=phase, owner=f"DaemonSet/{name}", age=7200.0)
    return Workload("DaemonSet", name, namespace, selector=dict(labels), labels=dict(labels),
                    pods=[pod], containers=tuple(containers))


def job(name: str, *, namespace: str = "default", containers: tuple[str, ...] = ("main",),
        labels: dict[str, str] | None = None, phase: str = "Running") -> Workload:
    """Return a job with its one pod, selected by the job's controller uid as the real API does.

    The pod carries the template's ``labels`` (default ``app=NAME``) plus the job labels.
    """
    uid = object_uid(namespace, "Job", name)
    labels = {**(labels if labels is not None else {"app": name}),
              "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
              "controller-uid": uid, "job-name": name}
    pod = PodSpec(f"{name}-{_pod_hash(name)[:5]}", namespace=namespace, containers=containers,
                  labels=dict(labels), phase=phase, owner=f"Job/{name}", age=300.0)
    return Workload("Job", name, namespace,
                    selector={"batch.kubernetes.io/controller-uid": uid}, labels=dict(labels),
                    pods=[pod], containers=tuple(containers))


def service(name: str, selector: dict[str, str] | None = None, *,
            namespace: str = "default") -> Workload:
    """Return a ClusterIP service selecting ``selector`` (default ``app=NAME``)."""
    selector = dict(selector if selector is not None else {"app": name})
    return Workload("Service", name, namespace, selector=selector, labels={"app": name})


def default_workloads() -> list[Workload]:
    """Return the workloads a sandbox has when no pods are given.

    A deployment ``web`` (two pods; the older one is kubectl's pick), its replica set,
    a stateful set ``db`` (pod ``db-0`` with two containers and no default-container
    annotation), a job ``backup`` and a service ``web`` selecting ``app=web``.
    """
    return [
        *deployment("web", 2, pod_suffixes=("abcde", "x2kqp"), ages=(300.0, 7200.0)),
        statefulset("db", 1, containers=("postgres", "metrics")),
        job("backup"),
        service("web"),
    ]


def flatten(items: Iterable[Workload | Iterable[Workload]]) -> list[Workload]:
    """Flatten a list that may hold the lists :func:`deployment` returns."""
    out: list[Workload] = []
    for item in items:
        if isinstance(item, Workload):
            out.append(item)
        else:
            out.extend(flatten(item))
    return out


class WorkloadStore:
    """The workloads of one sandbox; their status is computed from the pod store."""

    def __init__(self, workloads: Iterable[Workload], pods: PodStore):
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str, str], Workload] = {}
        self._pods = pods
        self.created = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        for workload in flatten(workloads):
            self.add(workload)

    def add(self, workload: Workload) -> None:
        """Add (or replace) a workload and its pods."""
        with self._lock:
            self._items[(workload.kind_info.plural, workload.namespace, workload.name)] = workload
        for pod in workload.pods:
            self._pods.add(pod)

    def get(self, plural: str, namespace: str, name: str) -> Workload | None:
        """Return the workload, or ``None``."""
        with self._lock:
            return self._items.get((plural, namespace, name))

    def list(self, plural: str, namespace: str | None = None) -> list[Workload]:
        """Return the workloads of one kind, sorted by namespace and name."""
        with self._lock:
            items = [w for (p, ns, _), w in self._items.items()
                     if p == plural and namespace in (None, ns)]
        return sorted(items, key=lambda w: (w.namespace, w.name))

    def namespaces(self) -> set[str]:
        """Namespaces holding a workload."""
        with self._lock:
            return {ns for _, ns, _ in self._items}

    def _matching_pods(self, workload: Workload) -> builtins.list[Any]:
        return [p for p in self._pods.list(workload.namespace)
                if all(p.spec.labels.get(k) == v for k, v in workload.selector.items())]

    def to_json(self, workload: Workload) -> dict[str, Any]:
        """Return the object as the API server renders it."""
        created = timestamp(self.created - datetime.timedelta(seconds=workload.age))
        metadata: dict[str, Any] = {
            "name": workload.name, "namespace": workload.namespace, "uid": workload.uid,
            "resourceVersion": "900", "creationTimestamp": created,
        }
        if workload.labels:
            metadata["labels"] = dict(workload.labels)
        if workload.owner:
            metadata["ownerReferences"] = owner_references(workload.namespace, workload.owner)
        if workload.kind == "Service":
            return {
                "kind": "Service", "apiVersion": "v1", "metadata": metadata,
                "spec": {
                    "selector": dict(workload.selector),
                    "ports": [{"name": "http", "protocol": "TCP", "port": 80,
                               "targetPort": 8080}],
                    "clusterIP": "10.96.0." + str(10 + int(workload.uid[:2], 16) % 200),
                    "type": "ClusterIP", "sessionAffinity": "None",
                    "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                    "internalTrafficPolicy": "Cluster",
                },
                "status": {"loadBalancer": {}},
            }
        metadata["generation"] = 1
        selector: dict[str, Any] = {"matchLabels": dict(workload.selector)}
        if workload.match_expressions:
            selector["matchExpressions"] = [dict(e) for e in workload.match_expressions]
        template_labels = dict(workload.selector)
        if workload.pods:
            template_labels = {**workload.pods[0].labels}
            template_labels.pop("statefulset.kubernetes.io/pod-name", None)
            template_labels.pop("apps.kubernetes.io/pod-index", None)
        template = {
            "metadata": {"labels": template_labels},
            "spec": {
                "containers": [{"name": c, "image": IMAGE, "resources": {},
                                "terminationMessagePath": "/dev/termination-log",
                                "terminationMessagePolicy": "File",
                                "imagePullPolicy": "IfNotPresent"}
                               for c in workload.containers],
                "restartPolicy": "Never" if workload.kind == "Job" else "Always",
                "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
                "securityContext": {}, "schedulerName": "default-scheduler",
            },
        }
        pods = self._matching_pods(workload)
        running = sum(1 for p in pods if p.phase == "Running")
        spec: dict[str, Any] = {"selector": selector, "template": template}
        status: dict[str, Any]
        if workload.kind == "Job":
            spec.update({"parallelism": 1, "completions": 1, "backoffLimit": 6,
                         "completionMode": "NonIndexed", "suspend": False,
                         "manualSelector": False, "podReplacementPolicy": "TerminatingOrFailed"})
            succeeded = sum(1 for p in pods if p.phase == "Succeeded")
            failed = sum(1 for p in pods if p.phase == "Failed")
            status = {"startTime": created, "active": running, "ready": running,
                      "succeeded": succeeded, "failed": failed, "terminating": 0,
                      "uncountedTerminatedPods": {}}
        elif workload.kind == "DaemonSet":
            spec["updateStrategy"] = {"type": "RollingUpdate",
                                      "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
            spec["revisionHistoryLimit"] = 10
            status = {"currentNumberScheduled": len(pods), "numberMisscheduled": 0,
                      "desiredNumberScheduled": len(pods), "numberReady": running,
                      "observedGeneration": 1, "updatedNumberScheduled": len(pods),
                      "numberAvailable": running}
        else:
            spec["replicas"] = workload.replicas if workload.replicas is not None else len(pods)
            status = {"observedGeneration": 1, "replicas": len(pods),
                      "readyReplicas": running, "availableReplicas": running}
            if workload.kind == "Deployment":
                metadata["annotations"] = {"deployment.kubernetes.io/revision": "1"}
                spec.update({"strategy": {"type": "RollingUpdate", "rollingUpdate": {
                    "maxUnavailable": "25%", "maxSurge": "25%"}},
                    "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600})
                status["updatedReplicas"] = len(pods)
                available = "True" if running else "False"
                status["conditions"] = [
                    {"type": "Available", "status": available,
                     "reason": "MinimumReplicasAvailable", "lastUpdateTime": created,
                     "lastTransitionTime": created,
                     "message": "Deployment has minimum availability."},
                    {"type": "Progressing", "status": "True",
                     "reason": "NewReplicaSetAvailable", "lastUpdateTime": created,
                     "lastTransitionTime": created,
                     "message": f'ReplicaSet "{workload.name}-'
                                f'{_pod_hash(workload.namespace + "/" + workload.name)}" '
                                "has successfully progressed."},
                ]
            elif workload.kind == "StatefulSet":
                spec.update({"serviceName": workload.name, "podManagementPolicy": "OrderedReady",
                             "updateStrategy": {"type": "RollingUpdate",
                                                "rollingUpdate": {"partition": 0}},
                             "revisionHistoryLimit": 10, "persistentVolumeClaimRetentionPolicy": {
                                 "whenDeleted": "Retain", "whenScaled": "Retain"}})
                status.update({"currentReplicas": len(pods), "updatedReplicas": len(pods),
                               "collisionCount": 0})
            else:
                status["fullyLabeledReplicas"] = len(pods)
        return {"kind": workload.kind, "apiVersion": workload.kind_info.group_version,
                "metadata": metadata, "spec": spec, "status": status}

    def list_json(self, kind: Kind, items: Iterable[Workload]) -> dict[str, Any]:
        """Return the ``...List`` object of ``kind`` for ``items``."""
        return {"kind": f"{kind.kind}List", "apiVersion": kind.group_version,
                "metadata": {"resourceVersion": str(self._pods.resource_version)},
                "items": [self.to_json(w) for w in items]}
