"""API discovery documents: ``/version``, ``/api``, ``/apis``, ``/api/v1`` and the groups.

Only the legacy (non-aggregated) forms are served. kubectl asks for aggregated
discovery in its ``Accept`` header and falls back to these when the answer is
plain ``application/json``, just as with an older API server. The groups and resources
listed come from the kind registry, through :mod:`jupyter_k8stty.sandbox.resources`.
"""

from __future__ import annotations

import datetime
from typing import Any

from jupyter_k8stty.exec.kinds import POD
from jupyter_k8stty.sandbox import resources
from jupyter_k8stty.sandbox.podjson import human_duration

KUBERNETES_VERSION = "v1.32.0"


def minor_version(kubernetes_version: str) -> int:
    """Return the minor version of ``v1.MINOR.PATCH``."""
    return int(kubernetes_version.lstrip("v").split(".")[1])


def version(kubernetes_version: str = KUBERNETES_VERSION) -> dict[str, Any]:
    """Return the ``/version`` document.

    The minor version matters: Google Cloud SDK's kubectl dispatcher picks the
    kubectl release that matches the server, and 1.32 execs over websockets.
    """
    major, minor, _ = kubernetes_version.lstrip("v").split(".")
    return {
        "major": major,
        "minor": minor,
        "gitVersion": kubernetes_version,
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
        "versions": [POD.version],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def api_group(group: str) -> dict[str, Any] | None:
    """Return the ``/apis/GROUP`` ``APIGroup`` document, or ``None`` for a group not served."""
    versions = resources.api_groups().get(group)
    if not versions:
        return None
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries,
            "preferredVersion": entries[0]}


def api_group_list() -> dict[str, Any]:
    """Return the ``/apis`` ``APIGroupList``: every named group a target kind lives in."""
    groups = []
    for name in resources.api_groups():
        group = api_group(name)
        assert group is not None
        del group["kind"], group["apiVersion"]
        groups.append(group)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group_resources(group: str, version: str) -> dict[str, Any] | None:
    """Return the ``/apis/GROUP/VERSION`` ``APIResourceList``, or ``None`` when not served."""
    if version not in resources.api_groups().get(group, []):
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}",
            "resources": [r.to_json() for r in resources.api_resources(group, version)]}


def core_v1_resources(ephemeral_containers: bool = True) -> dict[str, Any]:
    """Return the ``/api/v1`` ``APIResourceList`` with the verbs the sandbox implements.

    ``ephemeral_containers=False`` leaves out ``pods/ephemeralcontainers``, as on clusters
    older than 1.23.
    """
    found = resources.api_resources(POD.group, POD.version)
    return {
        "kind": "APIResourceList",
        "groupVersion": POD.version,
        "resources": [r.to_json() for r in found
                      if ephemeral_containers or r.name != "pods/ephemeralcontainers"],
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
