"""Pod writes as the API server answers them: create, delete, and the ``ephemeralcontainers`` patch.

Each function takes the request body, checks it as the API server's validation and Pod
Security admission would (same order: decoding, validation -> 422 ``Invalid``, admission
-> 403), changes the store and returns the object to send. Refusals are
:class:`~jupyter_k8stty.sandbox.apistatus.HTTPError` with the real ``Status`` bodies.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from jupyter_k8stty.sandbox import podsecurity, protobuf
from jupyter_k8stty.sandbox.apistatus import HTTPError, not_found, status_body
from jupyter_k8stty.sandbox.containers import default_container
from jupyter_k8stty.sandbox.kubelet import Kubelet
from jupyter_k8stty.sandbox.patch import PATCH_TYPES, PatchError, apply_patch
from jupyter_k8stty.sandbox.pods import Pod, PodSpec, PodStore

__all__ = ["FieldError", "create_pod", "delete_pod", "patch_ephemeral_containers",
           "replace_ephemeral_containers"]

_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_MESSAGE = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                  "or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  "
                  "or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SUBDOMAIN_MESSAGE = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                      "characters, '-' or '.', and must start and end with an alphanumeric "
                      "character (e.g. 'example.com', regex used for validation is "
                      "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
#: Container fields an ephemeral container may not set (the API server's allow list, inverted).
_NOT_FOR_EPHEMERAL = ("ports", "resources", "livenessProbe", "readinessProbe", "startupProbe",
                      "lifecycle", "resizePolicy", "restartPolicy")
_TYPES = {"Required": "Required value", "Forbidden": "Forbidden", "Duplicate": "Duplicate value",
          "NotFound": "Not found", "Invalid": "Invalid value"}


@dataclass(frozen=True)
class FieldError:
    """One ``field.Error``: where, what kind (``Required``, ``Duplicate``...), value and detail."""

    field: str
    type: str
    value: Any = None
    detail: str = ""

    def body(self) -> str:
        """Return the error without its field, as Go's ``ErrorBody()`` prints it."""
        text = _TYPES[self.type]
        if self.type in ("Duplicate", "NotFound", "Invalid"):
            text += ": " + (json.dumps(self.value) if isinstance(self.value, str) else str(self.value))
        if self.detail:
            text += f": {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


def invalid(name: str, errors: list[FieldError]) -> HTTPError:
    """Return the 422 ``Invalid`` the API server sends for a Pod that fails validation."""
    joined = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(map(str, errors)) + "]"
    causes = [{"reason": f"FieldValue{e.type}", "message": e.body(), "field": e.field}
              for e in errors]
    return HTTPError(422, status_body(422, f'Pod "{name}" is invalid: {joined}', "Invalid",
                                      {"name": name, "kind": "Pod", "causes": causes}))


def _decode(body: bytes, content_type: str = "", kind: str = "Pod") -> dict[str, Any]:
    if content_type.split(";")[0].strip().lower() == protobuf.PROTOBUF:
        try:
            return protobuf.decode_object(body, kind)
        except protobuf.ProtobufError as exc:
            raise HTTPError(400, status_body(400, f"error decoding the request body: {exc}",
                                             "BadRequest")) from None
    try:
        data = json.loads(body or b"null")
    except ValueError as exc:
        raise HTTPError(400, status_body(400, f"error decoding the request body: {exc}",
                                         "BadRequest")) from None
    if not isinstance(data, dict):
        raise HTTPError(400, status_body(400, "the request body must be a JSON object",
                                         "BadRequest"))
    return data


def _check_container(spec: Any, path: str) -> list[FieldError]:
    if not isinstance(spec, dict):
        return [FieldError(path, "Invalid", str(spec), "must be an object")]
    errors = []
    name = spec.get("name")
    if not name:
        errors.append(FieldError(f"{path}.name", "Required"))
    elif not isinstance(name, str) or len(name) > 63 or not _LABEL_RE.match(name):
        errors.append(FieldError(f"{path}.name", "Invalid", str(name), _LABEL_MESSAGE))
    if not spec.get("image"):
        errors.append(FieldError(f"{path}.image", "Required"))
    return errors


# ---- ephemeral containers ---------------------------------------------------------------

def _diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    lines = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            if key in old:
                lines.append(f"-  {key}: {json.dumps(old[key])}")
            if key in new:
                lines.append(f"+  {key}: {json.dumps(new[key])}")
    return "\n".join(lines)


def validate_ephemeral(pod: Pod, new: list[dict[str, Any]]) -> list[FieldError]:
    """Check ``new`` (defaulted) as ``pod``'s ephemeral containers, as the API server does."""
    path = "spec.ephemeralContainers"
    errors: list[FieldError] = []
    others = set(pod.containers)
    names = set(others)
    volumes = {v.get("name") for v in (pod.manifest or {}).get("volumes") or [] if isinstance(v, dict)}
    for i, spec in enumerate(new):
        where = f"{path}[{i}]"
        errors += _check_container(spec, where)
        name = spec.get("name")
        if name in names:
            errors.append(FieldError(f"{where}.name", "Duplicate", name))
        elif name:
            names.add(name)
        target = spec.get("targetContainerName")
        if target and target not in others:
            errors.append(FieldError(f"{where}.targetContainerName", "NotFound", target))
        for key in _NOT_FOR_EPHEMERAL:
            if spec.get(key):
                errors.append(FieldError(f"{where}.{key}", "Forbidden",
                                         detail="cannot be set for an Ephemeral Container"))
        for j, mount in enumerate(spec.get("volumeMounts") or []):
            if isinstance(mount, dict) and mount.get("name") not in volumes:
                errors.append(FieldError(f"{where}.volumeMounts[{j}].name", "NotFound",
                                         mount.get("name")))
    by_name = {s.get("name"): s for s in new}
    for old in pod.ephemeral.values():
        now_spec = by_name.get(old.name)
        if now_spec is None:
            errors.append(FieldError(path, "Forbidden", detail=f'existing ephemeral containers '
                                     f'"{old.name}" may not be removed\n'))
        elif now_spec != old.spec:
            errors.append(FieldError(path, "Forbidden", detail=f'existing ephemeral containers '
                                     f'"{old.name}" may not be changed\n{_diff(old.spec, now_spec)}'))
    return errors


def patch_ephemeral_containers(store: PodStore, pod: Pod, body: bytes,
                               content_type: str) -> dict[str, Any]:
    """Apply a patch to ``pods/NAME/ephemeralcontainers``; return the updated Pod.

    Only ``spec.ephemeralContainers`` of the patched pod counts: the subresource ignores
    every other change, as the API server's strategy does. New containers start out
    ``waiting: ContainerCreating``; the kubelet takes it from there.

    Raises:
        HTTPError: 415 for another content type, 400/422 for a patch that does not decode
            or apply, 422 ``Invalid`` from validation, 403 from Pod Security admission.
    """
    media = content_type.split(";")[0].strip().lower()
    if media not in PATCH_TYPES:
        raise HTTPError(415, status_body(
            415, "the body of the request was in an unknown format - accepted media types "
            f"include: {', '.join(PATCH_TYPES)}", "UnsupportedMediaType"))
    try:
        patched = apply_patch(pod.to_json(), body, media)
    except PatchError as exc:
        raise HTTPError(exc.code, status_body(exc.code, str(exc), "BadRequest" if exc.code == 400
                                              else "Invalid")) from None
    return _set_ephemeral_containers(store, pod, patched)


def replace_ephemeral_containers(store: PodStore, pod: Pod, body: bytes,
                                 content_type: str = "application/json") -> dict[str, Any]:
    """Serve ``PUT pods/NAME/ephemeralcontainers``: the body is the whole Pod; return it updated.

    Raises:
        HTTPError: as :func:`patch_ephemeral_containers`, and 400 for a body that is not a Pod.
    """
    return _set_ephemeral_containers(store, pod, _decode(body, content_type))


def _set_ephemeral_containers(store: PodStore, pod: Pod, wanted: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = wanted["spec"] if isinstance(wanted.get("spec"), dict) else {}
    new = spec.get("ephemeralContainers") or []
    if not isinstance(new, list) or not all(isinstance(c, dict) for c in new):
        raise HTTPError(400, status_body(400, "spec.ephemeralContainers must be a list of "
                                         "objects", "BadRequest"))
    new = [default_container(c) for c in new]

    def update(p: Pod) -> None:
        # Checked under the store's lock: two clients adding the same name cannot both win.
        errors = validate_ephemeral(p, new)
        if errors:
            raise invalid(p.spec.name, errors)
        podsecurity.admit(p.spec.name, {**p.to_json()["spec"], "ephemeralContainers": new},
                          p.security_level)
        for c in new:
            if c["name"] not in p.ephemeral:
                p.add_ephemeral(c)
    if store.change(pod, update) is None and store.get(pod.spec.namespace, pod.spec.name) is not pod:
        raise HTTPError(404, not_found("pods", pod.spec.name))
    return pod.to_json()


# ---- create and delete ------------------------------------------------------------------

def create_pod(store: PodStore, namespace: str, body: bytes,
               content_type: str = "application/json") -> dict[str, Any]:
    """Create a pod from a ``v1`` ``Pod`` body in ``namespace``; return it (HTTP 201).

    The pod is bound to ``spec.nodeName`` (or the first node), starts ``Pending`` and runs
    its containers as local processes (see :mod:`.kubelet`).

    Raises:
        HTTPError: 400 for a body that is not a Pod or names another namespace, 422
            ``Invalid``, 403 from Pod Security admission, 409 when the name is taken.
    """
    data = _decode(body, content_type)
    if data.get("kind", "Pod") != "Pod" or data.get("apiVersion", "v1") != "v1":
        raise HTTPError(400, status_body(400, f"the API version in the data ({data.get('apiVersion')}) "
                                         "does not match the expected API version (v1)", "BadRequest"))
    meta: dict[str, Any] = data["metadata"] if isinstance(data.get("metadata"), dict) else {}
    if meta.get("namespace") not in (None, "", namespace):
        raise HTTPError(400, status_body(400, "the namespace of the provided object does not match "
                                         "the namespace sent on the request", "BadRequest"))
    name = meta.get("name") or ""
    if not name and meta.get("generateName"):
        name = f"{meta['generateName']}{secrets.token_hex(3)[:5]}"
    spec: dict[str, Any] = data["spec"] if isinstance(data.get("spec"), dict) else {}
    errors = []
    if not name:
        errors.append(FieldError("metadata.name", "Required",
                                 detail="name or generateName is required"))
    elif len(name) > 253 or not _SUBDOMAIN_RE.match(name):
        errors.append(FieldError("metadata.name", "Invalid", name, _SUBDOMAIN_MESSAGE))
    containers = spec.get("containers")
    if not containers or not isinstance(containers, list):
        errors.append(FieldError("spec.containers", "Required"))
        containers = []
    seen: set[str] = set()
    for i, container in enumerate(containers):
        errors += _check_container(container, f"spec.containers[{i}]")
        cname = container.get("name") if isinstance(container, dict) else None
        if cname in seen:
            errors.append(FieldError(f"spec.containers[{i}].name", "Duplicate", cname))
        seen.add(cname or "")
    if spec.get("ephemeralContainers"):
        errors.append(FieldError("spec.ephemeralContainers", "Forbidden",
                                 detail="cannot be set on create"))
    if errors:
        raise invalid(name, errors)
    manifest = {k: v for k, v in spec.items() if k != "ephemeralContainers"}
    manifest["containers"] = [default_container(c) for c in containers]
    node = str(spec.get("nodeName") or next(iter(store.node_ips), ""))
    manifest["nodeName"] = node
    podsecurity.admit(name, manifest, store.pod_security.get(namespace))
    if store.get(namespace, name) is not None:
        raise HTTPError(409, status_body(409, f'pods "{name}" already exists', "AlreadyExists",
                                         {"name": name, "kind": "pods"}))
    labels: dict[str, str] = meta["labels"] if isinstance(meta.get("labels"), dict) else {}
    annotations: dict[str, str] = (meta["annotations"] if isinstance(meta.get("annotations"), dict)
                                   else {})
    pod_spec = PodSpec(name, namespace=namespace, containers=tuple(c["name"] for c in containers),
                       labels=dict(labels), annotations=dict(annotations), phase="Pending", node=node)
    return store.add(pod_spec, manifest).to_json()


def delete_pod(store: PodStore, kubelet: Kubelet, namespace: str, name: str, body: bytes,
               content_type: str = "application/json") -> dict[str, Any]:
    """Delete a pod gracefully; return it with its ``deletionTimestamp`` (as the API server does).

    Raises:
        HTTPError: 404 when there is no such pod, 400 for a body that is not DeleteOptions.
    """
    options = _decode(body, content_type, "DeleteOptions") if body.strip() else {}
    pod = store.get(namespace, name)
    if pod is None:
        raise HTTPError(404, not_found("pods", name))
    grace = options.get("gracePeriodSeconds")
    if not isinstance(grace, int) or grace < 0:
        grace = int((pod.manifest or {}).get("terminationGracePeriodSeconds") or 30)
    kubelet.delete(pod, grace)
    return pod.to_json()
