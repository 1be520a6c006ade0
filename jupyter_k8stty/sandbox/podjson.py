"""A sandbox pod as the real API server renders it: the ``v1`` ``Pod``, ``PodList`` and Table rows.

Declared pods (:class:`~jupyter_k8stty.sandbox.pods.PodSpec`) render as they always did;
pods created through the API keep the spec they were created with, with the API server's
defaults added. Ephemeral containers appear in ``spec.ephemeralContainers`` and
``status.ephemeralContainerStatuses``.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from jupyter_k8stty.sandbox.containers import Container, normalize_image, timestamp
from jupyter_k8stty.sandbox.objmeta import AGE_COLUMN, NAME_COLUMN, owner_references, table

if TYPE_CHECKING:
    from jupyter_k8stty.sandbox.pods import Pod

__all__ = ["IMAGE", "IMAGE_ID", "RESTRICTED_CONTEXT", "human_duration", "pod_json", "pod_list",
           "pod_table"]

IMAGE = "registry.k8s.io/jupyter-k8stty/sandbox:latest"
IMAGE_ID = "sha256:" + "5a" * 32
#: The securityContext the declared containers of a ``restricted`` namespace carry: they
#: were admitted, so they comply (only what is added later can violate the policy).
RESTRICTED_CONTEXT: dict[str, Any] = {
    "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"},
}


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


def _container_id(pod: Pod, name: str) -> str:
    return f"containerd://{pod.uid.replace('-', '')}{name}"


def _declared_status(pod: Pod, container: Container) -> dict[str, Any]:
    """Return the status of a declared container: it follows its pod's phase."""
    name, phase = container.name, pod.phase
    started = timestamp(pod.created)
    if phase == "Running":
        state: dict[str, Any] = {"running": {"startedAt": started}}
    elif phase in ("Succeeded", "Failed"):
        ok = phase == "Succeeded"
        state = {"terminated": {"exitCode": 0 if ok else 1,
                                "reason": "Completed" if ok else "Error",
                                "startedAt": started, "finishedAt": started,
                                "containerID": f"containerd://{pod.uid}-{name}"}}
    else:
        state = {"waiting": {"reason": "ContainerCreating"}}
    status = {"name": name, "state": state, "lastState": {}, "ready": phase == "Running",
              "restartCount": pod.spec.restarts + container.restart_count,
              "image": container.image or IMAGE, "imageID": IMAGE_ID,
              "started": phase == "Running"}
    if phase != "Pending":
        status["containerID"] = _container_id(pod, name)
    return status


def _runtime_status(pod: Pod, container: Container) -> dict[str, Any]:
    """Return the status of a container with a state of its own (created, ephemeral)."""
    assert container.state is not None
    kind = container.state.kind
    ref = normalize_image(container.image)
    status: dict[str, Any] = {
        "name": container.name,
        "state": container.state.to_json(_container_id(pod, container.name)),
        "lastState": (container.last_state.to_json(_container_id(pod, container.name))
                      if container.last_state else {}),
        "ready": kind == "running" and not container.ephemeral,
        "restartCount": container.restart_count,
        "image": ref,
        "imageID": "" if kind == "waiting" else
        ref.rsplit(":", 1)[0] + "@sha256:" + hashlib.sha256(ref.encode()).hexdigest(),
    }
    if kind != "waiting":
        status["containerID"] = _container_id(pod, container.name)
    if not container.ephemeral:
        status["started"] = kind == "running"
    return status


def _status_of(pod: Pod, container: Container) -> dict[str, Any]:
    return _declared_status(pod, container) if container.state is None else _runtime_status(
        pod, container)


def _container_json(pod: Pod, container: Container) -> dict[str, Any]:
    spec = dict(container.spec)
    if pod.manifest is None and pod.security_level == "restricted":
        spec.setdefault("securityContext", RESTRICTED_CONTEXT)
    return spec


def _spec(pod: Pod) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [_container_json(pod, c) for c in pod.containers.values()],
        "restartPolicy": pod.restart_policy,
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default",
        "serviceAccount": "default",
        "securityContext": {},
        "schedulerName": "default-scheduler",
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
    }
    if pod.node:
        spec["nodeName"] = pod.node
    if pod.manifest is not None:
        extra = {k: v for k, v in pod.manifest.items() if k not in ("containers",
                                                                    "ephemeralContainers")}
        spec.update(extra)
        spec.setdefault("priority", 0)
    if pod.ephemeral:
        spec["ephemeralContainers"] = [dict(c.spec) for c in pod.ephemeral.values()]
    return spec


def _ready(pod: Pod) -> bool:
    if pod.phase != "Running":
        return False
    return all(c.state is None or c.state.kind == "running" for c in pod.containers.values())


def pod_json(pod: Pod) -> dict[str, Any]:
    """Return ``pod`` as the ``v1`` ``Pod`` object."""
    spec = pod.spec
    created = timestamp(pod.created)
    ready = "True" if _ready(pod) else "False"
    scheduled = "True" if pod.node else "False"
    conditions = [("PodReadyToStartContainers", "True" if pod.phase != "Pending" else "False"),
                  ("Initialized", "True"), ("Ready", ready), ("ContainersReady", ready),
                  ("PodScheduled", scheduled)]
    metadata: dict[str, Any] = {
        "name": spec.name,
        "namespace": spec.namespace,
        "uid": pod.uid,
        "resourceVersion": str(pod.resource_version),
        "creationTimestamp": created,
    }
    if pod.deletion is not None:
        metadata["deletionTimestamp"] = timestamp(pod.deletion)
        metadata["deletionGracePeriodSeconds"] = pod.grace
    if spec.labels:
        metadata["labels"] = dict(spec.labels)
    if spec.annotations:
        metadata["annotations"] = dict(spec.annotations)
    if spec.owner:
        metadata["ownerReferences"] = owner_references(spec.namespace, spec.owner)
    status: dict[str, Any] = {
        "phase": pod.phase,
        "conditions": [{"type": t, "status": s, "lastProbeTime": None,
                        "lastTransitionTime": created} for t, s in conditions],
        "qosClass": "BestEffort",
    }
    if pod.node:
        status["hostIP"] = pod.host_ip
        status["hostIPs"] = [{"ip": pod.host_ip}]
        status["startTime"] = created
        status["containerStatuses"] = [_status_of(pod, c) for c in pod.containers.values()]
    if pod.ephemeral:
        status["ephemeralContainerStatuses"] = [_status_of(pod, c) for c in pod.ephemeral.values()]
    if pod.phase != "Pending":
        status["podIP"] = pod.ip
        status["podIPs"] = [{"ip": pod.ip}]
    return {"kind": "Pod", "apiVersion": "v1", "metadata": metadata, "spec": _spec(pod),
            "status": status}


def _status_column(pod: Pod) -> str:
    if pod.deletion is not None:
        return "Terminating"
    for container in pod.containers.values():
        state = container.state
        if state is not None and state.kind == "waiting" and state.reason != "ContainerCreating":
            return state.reason
    return {"Succeeded": "Completed", "Failed": "Error",
            "Pending": "ContainerCreating" if pod.node else "Pending"}.get(pod.phase, pod.phase)


def table_row(pod: Pod, include_object: str) -> dict[str, Any]:
    """Return ``pod``'s row of a ``meta.k8s.io/v1`` Table (``kubectl get pods``)."""
    ready = sum(1 for c in pod.containers.values()
                if (c.state is None and pod.phase == "Running")
                or (c.state is not None and c.state.kind == "running"))
    restarts = pod.spec.restarts + sum(c.restart_count for c in pod.containers.values())
    age = human_duration(
        (datetime.datetime.now(datetime.timezone.utc) - pod.created).total_seconds())
    row: dict[str, Any] = {"cells": [
        pod.spec.name, f"{ready}/{len(pod.containers)}", _status_column(pod), str(restarts), age,
        pod.ip if pod.phase != "Pending" else "<none>", pod.node or "<none>", "<none>", "<none>",
    ]}
    if include_object == "Object":
        row["object"] = pod_json(pod)
    elif include_object != "None":
        row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                         "metadata": pod_json(pod)["metadata"]}
    return row


_POD_COLUMNS = [
    NAME_COLUMN,
    ("Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.",
     0),
    ("Status", "string", "", "The aggregate status of the containers in this pod.", 0),
    ("Restarts", "string", "", "The number of times the containers in this pod have been "
     "restarted and when the last container in this pod has restarted.", 0),
    AGE_COLUMN,
    ("IP", "string", "", "The IP address assigned to the pod", 1),
    ("Node", "string", "", "The name of the node where the pod is scheduled", 1),
    ("Nominated Node", "string", "", "The name of the node where the pod is nominated", 1),
    ("Readiness Gates", "string", "", "The readiness gates of the pod", 1),
]


def pod_table(pods: Iterable[Pod], resource_version: int, include_object: str) -> dict[str, Any]:
    """Return the ``meta.k8s.io/v1`` Table the server sends for ``Accept: ...;as=Table``."""
    return table(_POD_COLUMNS, [table_row(p, include_object) for p in pods], resource_version)


def pod_list(pods: Iterable[Pod], resource_version: int) -> dict[str, Any]:
    """Return the ``v1`` ``PodList`` object."""
    return {"kind": "PodList", "apiVersion": "v1",
            "metadata": {"resourceVersion": str(resource_version)},
            "items": [p.to_json() for p in pods]}
