"""The sandbox's nodes: ``/api/v1/nodes`` objects and the Table ``kubectl get nodes`` prints.

Nodes are descriptions only: every pod's processes run on this machine, whichever node
the pod is bound to (``spec.nodeName``). A node debug pod (``kubectl debug node/NAME``)
therefore sees this machine's root filesystem as the node's (see :mod:`.pods`).
"""

from __future__ import annotations

import datetime
import platform
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from jupyter_k8stty.sandbox.containers import timestamp
from jupyter_k8stty.sandbox.objmeta import AGE_COLUMN, NAME_COLUMN, table

__all__ = ["DEFAULT_NODE", "NodeSpec", "default_nodes", "node_json", "node_table"]

#: The node the sandbox's declared pods run on unless they name another.
DEFAULT_NODE = "sandbox-node"
KUBELET_VERSION = "v1.32.0"


@dataclass
class NodeSpec:
    """What a sandbox node looks like.

    Attributes:
        name: the node name (also its ``kubernetes.io/hostname`` label).
        ip: its ``InternalIP``.
        labels: extra labels (the standard ``kubernetes.io/*`` ones are always set).
        ready: its ``Ready`` condition.
        roles: ``node-role.kubernetes.io/ROLE`` labels, shown in ``kubectl get nodes``.
        capacity: extra capacity entries (``nvidia.com/gpu``), beside cpu, memory and pods.
        age: seconds since it joined.
    """

    name: str
    ip: str
    labels: dict[str, str] = field(default_factory=dict)
    ready: bool = True
    roles: tuple[str, ...] = ()
    capacity: dict[str, str] = field(default_factory=dict)
    age: float = 30 * 86400.0


def default_nodes() -> list[NodeSpec]:
    """Return the nodes a sandbox has when none are given: a control plane, a worker, a GPU node."""
    return [
        NodeSpec(DEFAULT_NODE, "10.0.0.1", roles=("control-plane",)),
        NodeSpec("sandbox-worker", "10.0.0.2"),
        NodeSpec("sandbox-gpu", "10.0.0.3", labels={"nvidia.com/gpu.present": "true"},
                 capacity={"nvidia.com/gpu": "1"}),
    ]


def _labels(node: NodeSpec) -> dict[str, str]:
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": node.name,
        "kubernetes.io/os": "linux",
    }
    labels.update({f"node-role.kubernetes.io/{role}": "" for role in node.roles})
    labels.update(node.labels)
    return labels


def node_json(node: NodeSpec, created: datetime.datetime) -> dict[str, Any]:
    """Return the ``v1`` ``Node`` object."""
    when = timestamp(created - datetime.timedelta(seconds=int(node.age)))
    capacity = {"cpu": "4", "ephemeral-storage": "101430960Ki", "memory": "16311208Ki",
                "pods": "110", **node.capacity}
    status = "True" if node.ready else "Unknown"
    conditions = [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory",
         "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", status, "KubeletReady" if node.ready else "NodeStatusUnknown",
         "kubelet is posting ready status" if node.ready else "Kubelet stopped posting node status."),
    ]
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {
            "name": node.name,
            "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"k8stty-sandbox:node/{node.name}")),
            "resourceVersion": "1",
            "creationTimestamp": when,
            "labels": _labels(node),
            "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                            "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
        },
        "spec": {"podCIDR": f"10.244.{node.ip.rsplit('.', 1)[1]}.0/24",
                 "podCIDRs": [f"10.244.{node.ip.rsplit('.', 1)[1]}.0/24"]},
        "status": {
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": [{"type": t, "status": s, "lastHeartbeatTime": when,
                            "lastTransitionTime": when, "reason": r, "message": m}
                           for t, s, r, m in conditions],
            "addresses": [{"type": "InternalIP", "address": node.ip},
                          {"type": "Hostname", "address": node.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": uuid.uuid5(uuid.NAMESPACE_DNS, node.name).hex,
                "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_OID, node.name)),
                "bootID": str(uuid.uuid5(uuid.NAMESPACE_X500, node.name)),
                "kernelVersion": platform.release(),
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "containerRuntimeVersion": "containerd://1.7.24",
                "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": KUBELET_VERSION,
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


_COLUMNS = [
    NAME_COLUMN,
    ("Status", "string", "", "The status of the node", 0),
    ("Roles", "string", "", "The roles of the node", 0),
    AGE_COLUMN,
    ("Version", "string", "", "Kubelet Version reported by the node.", 0),
    ("Internal-IP", "string", "", "List of internal IPs (if available) of the node.", 1),
    ("External-IP", "string", "", "List of external IPs (if available) of the node.", 1),
    ("OS-Image", "string", "", "OS image reported by the node from /etc/os-release.", 1),
    ("Kernel-Version", "string", "", "Kernel version reported by the node.", 1),
    ("Container-Runtime", "string", "", "Container runtime and version reported by the node.", 1),
]


def node_table(nodes: Iterable[dict[str, Any]], include_object: str, age: Any) -> dict[str, Any]:
    """Return the ``meta.k8s.io/v1`` Table of ``nodes`` (``Node`` objects).

    ``age`` formats a creation timestamp as the API server's Age column does.
    """
    rows = []
    for node in nodes:
        meta, status = node["metadata"], node["status"]
        ready = next(c["status"] for c in status["conditions"] if c["type"] == "Ready")
        roles = sorted(k.split("/", 1)[1] for k in meta["labels"]
                       if k.startswith("node-role.kubernetes.io/"))
        info = status["nodeInfo"]
        ip = next(a["address"] for a in status["addresses"] if a["type"] == "InternalIP")
        row: dict[str, Any] = {"cells": [
            meta["name"], "Ready" if ready == "True" else "NotReady", ",".join(roles) or "<none>",
            age(meta["creationTimestamp"]), info["kubeletVersion"], ip, "<none>", info["osImage"],
            info["kernelVersion"], info["containerRuntimeVersion"]]}
        if include_object == "Object":
            row["object"] = node
        elif include_object != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": meta}
        rows.append(row)
    return table(_COLUMNS, rows, 1)
