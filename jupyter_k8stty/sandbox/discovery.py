"""API discovery documents: ``/version``, ``/api``, ``/apis``, ``/api/v1`` and the groups.

Only the legacy (non-aggregated) forms are served. kubectl asks for aggregated
discovery in its ``Accept`` header and falls back to these when the answer is
plain ``application/json``, just as with an older API server.
"""

from __future__ import annotations

import datetime
from typing import Any

from jupyter_k8stty.sandbox.pods import human_duration

KUBERNETES_VERSION = "v1.32.0"


def version() -> dict[str, Any]:
    """Return the ``/version`` document.

    The minor version matters: Google Cloud SDK's kubectl dispatcher picks the
    kubectl release that matches the server, and 1.32 execs over websockets.
    """
    major, minor, _ = KUBERNETES_VERSION.lstrip("v").split(".")
    return {
        "major": major,
        "minor": minor,
        "gitVersion": KUBERNETES_VERSION,
        "gitCommit": "70d3cc986aa8221cd1dfb1121852688902d3bf53",
        "gitTreeState": "clean",
        "buildDate": "2024-12-11T17:59:15Z",
        "goVersion": "go1.23.3",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> dict[str, Any]:
    """Return the ``/api`` ``APIVersions`` document."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


_GROUP_NAMES = ("apps", "batch")


def api_group(group: str) -> dict[str, Any]:
    """Return the ``/apis/GROUP`` ``APIGroup`` document (``apps`` or ``batch``)."""
    version = {"groupVersion": f"{group}/v1", "version": "v1"}
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": [version],
            "preferredVersion": version}


def api_group_list() -> dict[str, Any]:
    """Return the ``/apis`` ``APIGroupList``: ``apps/v1`` and ``batch/v1``."""
    groups = []
    for name in _GROUP_NAMES:
        group = api_group(name)
        del group["kind"], group["apiVersion"]
        groups.append(group)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group_resources(group: str) -> dict[str, Any]:
    """Return the ``/apis/GROUP/v1`` ``APIResourceList`` (workloads: get and list)."""
    verbs = ["get", "list"]
    if group == "apps":
        resources = [
            _resource("daemonsets", "DaemonSet", verbs, singular="daemonset", short=["ds"],
                      categories=["all"]),
            _resource("deployments", "Deployment", verbs, singular="deployment",
                      short=["deploy"], categories=["all"]),
            _resource("replicasets", "ReplicaSet", verbs, singular="replicaset", short=["rs"],
                      categories=["all"]),
            _resource("statefulsets", "StatefulSet", verbs, singular="statefulset",
                      short=["sts"], categories=["all"]),
        ]
    else:
        resources = [_resource("jobs", "Job", verbs, singular="job", categories=["all"])]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/v1",
            "resources": resources}


def _resource(name: str, kind: str, verbs: list[str], *, singular: str = "",
              namespaced: bool = True, short: list[str] | None = None,
              categories: list[str] | None = None) -> dict[str, Any]:
    res: dict[str, Any] = {"name": name, "singularName": singular, "namespaced": namespaced,
                           "kind": kind, "verbs": verbs}
    if short:
        res["shortNames"] = short
    if categories:
        res["categories"] = categories
    return res


def core_v1_resources() -> dict[str, Any]:
    """Return the ``/api/v1`` ``APIResourceList`` with the verbs the sandbox implements."""
    return {
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [
            _resource("namespaces", "Namespace", ["get", "list"], singular="namespace",
                      namespaced=False, short=["ns"]),
            _resource("pods", "Pod", ["get", "list"], singular="pod", short=["po"],
                      categories=["all"]),
            _resource("pods/exec", "PodExecOptions", ["create", "get"]),
            _resource("pods/log", "Pod", ["get"]),
            _resource("pods/status", "Pod", ["get"]),
            _resource("services", "Service", ["get", "list"], singular="service",
                      short=["svc"], categories=["all"]),
        ],
    }


def namespace_table(namespaces: list[dict[str, Any]], include_object: str) -> dict[str, Any]:
    """Return the Table ``kubectl get namespaces`` prints (NAME, STATUS, AGE)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    rows = []
    for ns in namespaces:
        created = datetime.datetime.strptime(ns["metadata"]["creationTimestamp"],
                                             "%Y-%m-%dT%H:%M:%SZ").replace(
                                                 tzinfo=datetime.timezone.utc)
        row: dict[str, Any] = {"cells": [ns["metadata"]["name"], ns["status"]["phase"],
                                         human_duration((now - created).total_seconds())]}
        if include_object == "Object":
            row["object"] = ns
        elif include_object != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": ns["metadata"]}
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": "1"},
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name",
             "description": "Name must be unique within a namespace.", "priority": 0},
            {"name": "Status", "type": "string", "format": "",
             "description": "The status of the namespace", "priority": 0},
            {"name": "Age", "type": "string", "format": "",
             "description": "CreationTimestamp is a timestamp representing the server time "
             "when this object was created.", "priority": 0},
        ],
        "rows": rows,
    }
