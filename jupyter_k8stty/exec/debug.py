"""Ephemeral debug containers: add one to a running pod as ``kubectl debug`` does, wait for it.

The container is added with the strategic merge patch of
``pods/NAME/ephemeralcontainers`` (bodies in :mod:`.profiles`), then the pod is polled
until the container runs. Each way this commonly fails ends in one line that says what
happened and what to do (:func:`patch_refusal`, :func:`waiting_error`):

* the image cannot be pulled: name it, point at ``JUPYTER_K8STTY_DEBUG_IMAGE``;
* the namespace's Pod Security level rejects the container: suggest ``--profile restricted``;
* the cluster is older than 1.23 (no such subresource, a 404 without details);
* the user may not ``patch pods/ephemeralcontainers`` (a 403 that names the verb).

Ephemeral containers cannot be removed from a pod: once added, one stays in the pod's
spec (stopped when its process ends) until the pod is deleted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..errors import DebugError
from . import kinds
from .api import STRATEGIC_MERGE_PATCH, refusal
from .profiles import (
    DEBUG_IMAGE_ENV,
    DebugSpec,
    debug_container_name,
    ephemeral_container,
    ephemeral_container_patch,
)
from .resolve import MAX_POLL_INTERVAL, _container_state, _Lookup, _phase

__all__ = [
    "IMAGE_ERRORS",
    "START_ERRORS",
    "add_debug_container",
    "patch_refusal",
    "wait_for_container",
    "waiting_error",
]

#: Waiting reasons of a container whose image cannot be had.
IMAGE_ERRORS: frozenset[str] = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"})
#: Waiting reasons of a container the runtime refuses to create or start.
START_ERRORS: frozenset[str] = frozenset(
    {"CreateContainerConfigError", "CreateContainerError", "RunContainerError",
     "PreStartHookError", "PostStartHookError"})

WaitCallback = Callable[[str, str, str], None]


def add_debug_container(lookup: _Lookup, pod: dict[str, Any], spec: DebugSpec) -> str:
    """Add an ephemeral container as ``spec`` says to ``pod`` (its JSON); return its name.

    Raises:
        DebugError: the target container is not in the pod, or the API server refused
            (see :func:`patch_refusal`).
        ApiError: the server could not be reached.
    """
    meta = pod.get("metadata") or {}
    namespace, name = meta.get("namespace") or "", meta.get("name") or ""
    if spec.target_container is not None:
        regular = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        if spec.target_container not in regular:
            raise DebugError(f"cannot target container {spec.target_container} with a debug "
                             f"container: pod {namespace}/{name} has {', '.join(regular) or 'none'}",
                             status=None, reason="BadRequest")
    container = debug_container_name(pod)
    body = ephemeral_container_patch(pod, ephemeral_container(spec, container))
    status, answer = lookup.send("PATCH", f"{kinds.POD.path(namespace, name)}/ephemeralcontainers",
                                 body=body, content_type=STRATEGIC_MERGE_PATCH)
    if status in (200, 201):
        return container
    raise patch_refusal(status, answer, server=lookup.cluster.server,
                        context=lookup.cluster.context, namespace=namespace, pod=name)


def patch_refusal(status: int, body: Any, *, server: str, context: str | None, namespace: str,
                  pod: str) -> DebugError:
    """Return the one-line error for a refused ``pods/POD/ephemeralcontainers`` patch."""
    message = body.get("message") if isinstance(body, dict) else None
    reason = body.get("reason") if isinstance(body, dict) else None
    details = (body.get("details") or {}) if isinstance(body, dict) else {}
    if status == 404 and not details.get("name"):
        # A missing pod names itself in the details; a missing subresource does not
        # (kubectl tells them apart the same way).
        return DebugError("this cluster has no ephemeral containers (no pods/ephemeralcontainers "
                          "subresource): they need Kubernetes 1.23 or newer", status=404,
                          reason=reason or "NotFound")
    if status == 403 and message and "PodSecurity" in message:
        return DebugError(f"the Pod Security level of namespace {namespace} rejects the debug "
                          f"container ({message}): use --profile restricted (debug profile "
                          "'restricted')", status=403, reason=reason or "Forbidden")
    error = refusal(status, body, server=server, context=context,
                    action=f"patch pods/ephemeralcontainers in namespace {namespace}")
    text = str(error)
    if status == 403:
        text += ("; adding a debug container needs a Role that allows the verb 'patch' on "
                 "'pods/ephemeralcontainers'")
    return DebugError(text, status=error.status, reason=error.reason)


def waiting_error(reason: str | None, message: str | None, *, what: str,
                  image: str) -> DebugError | None:
    """Return the error for a debug container waiting for ``reason``, or ``None`` to wait on.

    Args:
        reason: the container's waiting reason (``ImagePullBackOff`` ...).
        message: the waiting message (the runtime's words).
        what: ``debug container debugger-ab12c`` or ``debug pod node-debugger-...``.
        image: the debug image.
    """
    detail = f"{reason}: {message}" if message else str(reason)
    if reason in IMAGE_ERRORS:
        return DebugError(f"the {what} cannot pull its image {image!r} ({detail}); if the cluster "
                          f"uses mirrored images, set {DEBUG_IMAGE_ENV} or pass an image it can pull",
                          status=None, reason=reason)
    if reason in START_ERRORS:
        text = f"the {what} cannot start ({detail})"
        if message and "runAsNonRoot" in message:
            text += "; the restricted profile needs an image that runs as a non-root user"
        return DebugError(text, status=None, reason=reason)
    return None


def _terminated(state: dict[str, Any], what: str) -> DebugError:
    ended = state.get("terminated") or {}
    detail = ended.get("reason") or "exited"
    if ended.get("exitCode") is not None:
        detail += f", exit code {ended['exitCode']}"
    if ended.get("message"):
        detail += f": {ended['message']}"
    return DebugError(f"the {what} ended before the session could join it ({detail}); its "
                      "command must keep running (an interactive shell)", status=None,
                      reason=ended.get("reason") or "Terminated")


def wait_for_container(lookup: _Lookup, namespace: str, pod: str, container: str, *, what: str,
                       image: str, timeout: float, on_wait: WaitCallback | None = None,
                       note: str | None = None) -> dict[str, Any]:
    """Poll ``pod`` until ``container`` runs; return the pod (JSON).

    Waits at most ``timeout`` seconds, and no longer than the lookup's deadline.
    ``on_wait(namespace, pod, note)`` is called before each poll.

    Raises:
        DebugError: the image cannot be pulled, the container cannot start or ended, the
            pod failed, or ``timeout`` passed (the message says which).
        ApiError: the pod is gone, or the server refused or could not be reached.
    """
    deadline = time.monotonic() + max(0.0, timeout)
    if lookup.deadline is not None:
        deadline = min(deadline, lookup.deadline)
    delay, state = 0.1, None
    while True:
        if on_wait is not None:
            on_wait(namespace, pod, note or f"starting {what} ({image})")
        obj = lookup.get(kinds.POD, namespace, pod)
        phase = _phase(obj)
        state = _container_state(obj, container) or {}
        if "running" in state:
            return obj
        if "terminated" in state:
            raise _terminated(state, what)
        if phase in ("Succeeded", "Failed"):
            status = obj.get("status") or {}
            why = ": ".join(x for x in (status.get("reason"), status.get("message")) if x)
            raise DebugError(f"the {what} cannot run: pod {namespace}/{pod} is {phase}"
                             + (f" ({why})" if why else ""), status=None, reason=phase)
        waiting = state.get("waiting") or {}
        error = waiting_error(waiting.get("reason"), waiting.get("message"), what=what, image=image)
        if error is not None:
            raise error
        left = deadline - time.monotonic()
        if left <= 0:
            detail = waiting.get("reason") or f"pod {phase}"
            raise DebugError(f"the {what} is not running after {timeout:g} s ({detail}); raise "
                             "pod_running_timeout to wait longer", status=None,
                             reason=waiting.get("reason"))
        time.sleep(min(delay, left))
        delay = min(delay * 2, MAX_POLL_INTERVAL)
