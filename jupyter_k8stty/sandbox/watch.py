"""``GET .../pods?watch=true``: the pod changes since a resource version, as a chunked JSON stream.

Each event is one JSON object per line, ``{"type": "ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|
"ERROR", "object": {...}}``, as the API server sends them. List-then-watch clients
(client-go informers, which ``kubectl debug`` and ``kubectl delete --wait`` use) start at
the list's resource version; ``resourceVersion`` ``0`` or empty, or ``sendInitialEvents``,
starts with a synthetic ``ADDED`` per existing pod (the latter ends them with the
``k8s.io/initial-events-end`` bookmark). A version whose changes are no longer kept gets
an ``ERROR`` event carrying the ``410 Expired`` Status, as from the real server.

The stream ends at ``timeoutSeconds``, when the client goes away or the sandbox stops.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Callable
from typing import Any

from jupyter_k8stty.sandbox.pods import PodStore

__all__ = ["DEFAULT_TIMEOUT", "pod_fields", "run_watch"]

#: Seconds a watch lasts without ``timeoutSeconds`` (the API server picks 30-60 min).
DEFAULT_TIMEOUT = 1800.0
#: How often a quiet watch checks whether the client is still there.
POLL = 0.5


def pod_fields(pod: dict[str, Any]) -> dict[str, str]:
    """Return the field-selector fields of a ``v1`` Pod object."""
    meta, spec, status = pod["metadata"], pod.get("spec", {}), pod.get("status", {})
    return {"metadata.name": meta["name"], "metadata.namespace": meta["namespace"],
            "status.phase": status.get("phase", ""), "spec.nodeName": spec.get("nodeName", ""),
            "spec.restartPolicy": spec.get("restartPolicy", "")}


def _event(kind: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"


def _client_gone(sock: socket.socket) -> bool:
    """Whether the client closed (or wrote to) a connection that should be silent."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def run_watch(store: PodStore, write: Callable[[bytes], None], sock: socket.socket, *,
              namespace: str | None, matches: Callable[[dict[str, Any]], bool],
              query: dict[str, list[str]], stopping: Callable[[], bool]) -> None:
    """Stream pod events through ``write`` (one call per event) until the watch ends.

    Raises:
        OSError: writing to the client failed.
    """
    def arg(key: str) -> str:
        return query.get(key, [""])[0]

    try:
        timeout = float(arg("timeoutSeconds") or DEFAULT_TIMEOUT)
    except ValueError:
        timeout = DEFAULT_TIMEOUT
    deadline = time.monotonic() + max(0.0, timeout)
    initial = arg("sendInitialEvents") in ("1", "true")
    version_arg = arg("resourceVersion")
    if initial or version_arg in ("", "0"):
        last, objects = store.snapshot(namespace)
        for obj in objects:
            if matches(obj):
                write(_event("ADDED", obj))
        if initial:
            write(_event("BOOKMARK", {
                "kind": "Pod", "apiVersion": "v1",
                "metadata": {"resourceVersion": str(last),
                             "annotations": {"k8s.io/initial-events-end": "true"}}}))
    else:
        try:
            last = int(version_arg)
        except ValueError:
            last = -1
        if last < 0 or store.events_after(last) is None:
            write(_event("ERROR", {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": f"too old resource version: {version_arg} ({store.resource_version})",
                "reason": "Expired", "code": 410}))
            return
    while time.monotonic() < deadline and not stopping():
        events = store.events_after(last)
        if events is None:
            return
        for event in events:
            last = event.version
            if namespace not in (None, event.namespace) or not matches(event.object):
                continue
            write(_event(event.type, event.object))
        if not events:
            if _client_gone(sock):
                return
            store.wait_for_change(last, min(POLL, max(0.0, deadline - time.monotonic())))
