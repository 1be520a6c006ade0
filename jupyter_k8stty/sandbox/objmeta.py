"""Pieces every object the sandbox serves shares: stable uids, owner references, Tables.

Pods (:mod:`.podjson`), nodes (:mod:`.nodes`) and workloads (:mod:`.workloads`) render
their JSON with these, as the API server would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from jupyter_k8stty.sandbox.resources import kind_named

__all__ = ["AGE_COLUMN", "NAME_COLUMN", "Column", "object_uid", "owner_references", "table"]

#: A Table column: name, type, format, description, priority.
Column = tuple[str, str, str, str, int]

NAME_COLUMN: Column = ("Name", "string", "name", "Name must be unique within a namespace.", 0)
AGE_COLUMN: Column = ("Age", "string", "", "CreationTimestamp is a timestamp representing the "
                      "server time when this object was created.", 0)


def object_uid(namespace: str, kind: str, name: str) -> str:
    """Return the stable uid of an object, so pods can point at their owner."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"k8stty-sandbox:{namespace}/{kind}/{name}"))


def owner_references(namespace: str, owner: str) -> list[dict[str, Any]]:
    """Return ``metadata.ownerReferences`` for an owner written ``Kind/name``."""
    kind, _, owner_name = owner.partition("/")
    owner_kind = kind_named(kind)
    return [{
        "apiVersion": owner_kind.group_version if owner_kind else "apps/v1",
        "kind": kind, "name": owner_name,
        "uid": object_uid(namespace, kind, owner_name),
        "controller": True, "blockOwnerDeletion": True,
    }]


def table(columns: Iterable[Column], rows: list[dict[str, Any]],
          resource_version: int | str) -> dict[str, Any]:
    """Return the ``meta.k8s.io/v1`` Table the server sends for ``Accept: ...;as=Table``."""
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": str(resource_version)},
        "columnDefinitions": [{"name": n, "type": t, "format": f, "description": d, "priority": p}
                              for n, t, f, d, p in columns],
        "rows": rows,
    }
