"""What the sandbox serves, derived from the target kinds of :mod:`jupyter_k8stty.exec.kinds`.

Names, API groups, versions and short names come from :data:`~jupyter_k8stty.exec.kinds.KINDS`
alone, so a new target kind is served (discovery, routing, RBAC names) with no change
here. What only the sandbox knows is kept here, once: the verbs it implements and the
core resources that are not targets (namespaces and the pod subresources).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jupyter_k8stty.exec.kinds import KINDS, POD, Kind

__all__ = [
    "CORE_EXTRAS",
    "POD_VERBS",
    "READ_VERBS",
    "WORKLOAD_KINDS",
    "ApiResource",
    "api_groups",
    "api_resources",
    "group_of",
    "kind_named",
    "served_kind",
]

#: Every kind the sandbox serves answers ``get`` and ``list``.
READ_VERBS: tuple[str, ...] = ("get", "list")
#: Pods can also be created, deleted and watched.
POD_VERBS: tuple[str, ...] = ("create", "delete", "get", "list", "watch")

#: Every kind except pods and nodes: the objects :mod:`.workloads` serves (nodes are
#: served by :mod:`.nodes`).
WORKLOAD_KINDS: tuple[Kind, ...] = tuple(k for k in KINDS if k.pods_by not in ("self", "node"))


@dataclass(frozen=True)
class ApiResource:
    """One entry of an ``APIResourceList`` (what ``kubectl api-resources`` shows)."""

    name: str
    kind: str
    verbs: tuple[str, ...]
    singular: str = ""
    namespaced: bool = True
    short: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the resource as discovery renders it."""
        res: dict[str, Any] = {"name": self.name, "singularName": self.singular,
                               "namespaced": self.namespaced, "kind": self.kind,
                               "verbs": list(self.verbs)}
        if self.short:
            res["shortNames"] = list(self.short)
        if self.categories:
            res["categories"] = list(self.categories)
        return res


#: Core (``v1``) resources the sandbox serves that are not target kinds.
CORE_EXTRAS: tuple[ApiResource, ...] = (
    ApiResource("namespaces", "Namespace", READ_VERBS, "namespace", namespaced=False, short=("ns",)),
    ApiResource("nodes", "Node", READ_VERBS, "node", namespaced=False, short=("no",)),
    ApiResource("pods/attach", "PodAttachOptions", ("create", "get")),
    ApiResource("pods/ephemeralcontainers", "Pod", ("get", "patch", "update")),
    ApiResource("pods/exec", "PodExecOptions", ("create", "get")),
    ApiResource("pods/log", "Pod", ("get",)),
    ApiResource("pods/status", "Pod", ("get",)),
)

_BY_NAME: dict[str, Kind] = {k.kind: k for k in KINDS}
_BY_PATH: dict[tuple[str, str, str], Kind] = {(k.group, k.version, k.plural): k for k in KINDS}
_GROUP_OF: dict[str, str] = {k.plural: k.group for k in KINDS}


def kind_named(kind: str) -> Kind | None:
    """Return the kind called ``kind`` (``Deployment``), or ``None``."""
    return _BY_NAME.get(kind)


def served_kind(group: str, version: str, plural: str) -> Kind | None:
    """Return the kind served at ``/apis/GROUP/VERSION/PLURAL`` (``group=""``: ``/api/v1``)."""
    return _BY_PATH.get((group, version, plural))


def group_of(plural: str) -> str:
    """Return the API group of resource ``plural`` (``""`` for core and unknown resources)."""
    return _GROUP_OF.get(plural, "")


def api_groups() -> dict[str, list[str]]:
    """Return the named API groups and their versions, in the order :data:`KINDS` lists them."""
    groups: dict[str, list[str]] = {}
    for kind in KINDS:
        if kind.group and kind.version not in groups.setdefault(kind.group, []):
            groups[kind.group].append(kind.version)
    return groups


def api_resources(group: str, version: str) -> list[ApiResource]:
    """Return the resources of ``GROUP/VERSION``, sorted by name as the API server sorts them."""
    resources = [ApiResource(k.plural, k.kind, POD_VERBS if k is POD else READ_VERBS, k.singular,
                             short=k.short, categories=("all",))
                 for k in WORKLOAD_KINDS + (POD,) if (k.group, k.version) == (group, version)]
    if (group, version) == (POD.group, POD.version):
        resources.extend(CORE_EXTRAS)
    return sorted(resources, key=lambda r: r.name)
