"""The three patch formats of ``PATCH`` requests, applied to a pod's JSON as the API server does.

* ``application/strategic-merge-patch+json`` (what ``kubectl debug`` sends): maps merge,
  ``null`` deletes a key, and lists of objects that carry a *merge key* in the Kubernetes
  API (``containers``, ``ephemeralContainers``, ``volumes`` by ``name``, ``volumeMounts``
  by ``mountPath`` ...) merge element by element; other lists are replaced. The
  directives ``$patch`` (``replace``, ``delete``, ``merge``), ``$setElementOrder/FIELD``,
  ``$retainKeys`` and ``$deleteFromPrimitiveList/FIELD`` are honoured.
* ``application/merge-patch+json`` (RFC 7386): maps merge, every list is replaced.
* ``application/json-patch+json`` (RFC 6902): a list of ``add``, ``remove``,
  ``replace``, ``move``, ``copy`` and ``test`` operations on JSON pointers.

Pure functions on plain JSON values; errors are :class:`PatchError` with the message the
handler returns.
"""

from __future__ import annotations

import copy
import json
from typing import Any

__all__ = [
    "JSON_PATCH",
    "MERGE_PATCH",
    "PATCH_TYPES",
    "STRATEGIC_MERGE_PATCH",
    "PatchError",
    "apply_patch",
    "json_patch",
    "merge_patch",
    "strategic_merge_patch",
]

STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
#: The patch content types the sandbox accepts, as the API server names them.
PATCH_TYPES: tuple[str, ...] = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH)

#: List fields of a Pod that merge by a key (``patchMergeKey`` in the Kubernetes types);
#: every other list is atomic and replaced by a patch.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
    "conditions": "type",
    "hostAliases": "ip",
    "resourceClaims": "name",
    "topologySpreadConstraints": "topologyKey",
}

_DIRECTIVE = "$patch"
_ORDER_PREFIX = "$setElementOrder/"
_DELETE_PRIMITIVE_PREFIX = "$deleteFromPrimitiveList/"
_RETAIN_KEYS = "$retainKeys"


class PatchError(ValueError):
    """A patch that cannot be decoded (``code`` 400) or applied (``code`` 422)."""

    def __init__(self, message: str, code: int = 400):
        super().__init__(message)
        self.code = code


def apply_patch(document: dict[str, Any], body: bytes, content_type: str) -> dict[str, Any]:
    """Return ``document`` with the patch ``body`` of type ``content_type`` applied.

    ``document`` is not changed.

    Raises:
        PatchError: the body is not valid JSON for its type, or cannot be applied.
        ValueError: ``content_type`` is not one of :data:`PATCH_TYPES`.
    """
    try:
        patch = json.loads(body or b"null")
    except ValueError as exc:
        raise PatchError(f"error decoding patch: {exc}") from None
    if content_type == STRATEGIC_MERGE_PATCH:
        return strategic_merge_patch(document, _object(patch))
    if content_type == MERGE_PATCH:
        result = merge_patch(document, _object(patch))
        if not isinstance(result, dict):
            raise PatchError("a merge patch must leave an object", 422)
        return result
    if content_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
        return json_patch(document, patch)
    raise ValueError(f"unsupported patch type {content_type!r}")


def _object(patch: Any) -> dict[str, Any]:
    if not isinstance(patch, dict):
        kind = "array" if isinstance(patch, list) else type(patch).__name__
        raise PatchError(f"json: cannot unmarshal {kind} into Go value of type "
                         "map[string]interface {}")
    return patch


# ---- RFC 7386 ------------------------------------------------------------------------

def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch: maps merge, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# ---- strategic merge patch -------------------------------------------------------------

def strategic_merge_patch(original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply a strategic merge patch to a Pod-shaped document (see the module docstring).

    Raises:
        PatchError: a directive is malformed.
    """
    result = _merge_map(copy.deepcopy(original), patch)
    if result is None:
        raise PatchError("the patch deletes the whole object", 422)
    return result


def _merge_map(original: dict[str, Any] | None, patch: dict[str, Any]) -> dict[str, Any] | None:
    directive = patch.get(_DIRECTIVE)
    if directive == "delete":
        return None
    body = {k: v for k, v in patch.items() if not k.startswith("$")}
    if directive == "replace":
        return _strip_directives(body)
    if directive not in (None, "merge"):
        raise PatchError(f"Unknown patch type: {directive}")
    result: dict[str, Any] = dict(original or {})
    for key, value in body.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            old = result.get(key)
            merged = _merge_map(old if isinstance(old, dict) else None, value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            old_list = result.get(key)
            result[key] = _merge_list(key, old_list if isinstance(old_list, list) else [], value)
        else:
            result[key] = value
    for key, value in patch.items():
        if key.startswith(_DELETE_PRIMITIVE_PREFIX) and isinstance(value, list):
            field = key[len(_DELETE_PRIMITIVE_PREFIX):]
            if isinstance(result.get(field), list):
                result[field] = [item for item in result[field] if item not in value]
        elif key.startswith(_ORDER_PREFIX) and isinstance(value, list):
            field = key[len(_ORDER_PREFIX):]
            if isinstance(result.get(field), list):
                result[field] = _reorder(field, result[field], value)
    retain = patch.get(_RETAIN_KEYS)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(field: str, original: list[Any], patch: list[Any]) -> list[Any]:
    key = MERGE_KEYS.get(field)
    if key is None or not all(isinstance(item, dict) for item in (*original, *patch)):
        return [_strip_directives(item) for item in patch]  # an atomic list: replaced
    if any(item.get(_DIRECTIVE) == "replace" for item in patch):
        return [_strip_directives(i) for i in patch if set(i) != {_DIRECTIVE}]
    result = [dict(item) for item in original]
    for item in patch:
        if key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {key}")
        index = next((i for i, old in enumerate(result) if old.get(key) == item[key]), None)
        if item.get(_DIRECTIVE) == "delete":
            if index is not None:
                del result[index]
            continue
        if index is None:
            merged = _merge_map(None, item)
            if merged is not None:
                result.append(merged)
        else:
            merged = _merge_map(result[index], item)
            if merged is None:
                del result[index]
            else:
                result[index] = merged
    return result


def _reorder(field: str, items: list[Any], order: list[Any]) -> list[Any]:
    key = MERGE_KEYS.get(field)
    if key is None:
        rank = {json.dumps(v, sort_keys=True): i for i, v in enumerate(order)}
        ident = [json.dumps(item, sort_keys=True) for item in items]
    else:
        rank = {json.dumps(v.get(key) if isinstance(v, dict) else v): i
                for i, v in enumerate(order)}
        ident = [json.dumps(item.get(key) if isinstance(item, dict) else item) for item in items]
    # Elements the order names come first, in its order; the others keep theirs after them.
    positions = sorted(range(len(items)), key=lambda i: (rank.get(ident[i], len(rank)), i))
    return [items[i] for i in positions]


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


# ---- RFC 6902 ------------------------------------------------------------------------

def json_patch(document: dict[str, Any], operations: list[Any]) -> dict[str, Any]:
    """Apply an RFC 6902 JSON patch.

    Raises:
        PatchError: an operation is malformed (400) or does not apply (422).
    """
    doc: Any = copy.deepcopy(document)
    for op in operations:
        if not isinstance(op, dict) or not isinstance(op.get("op"), str):
            raise PatchError("Unexpected kind: <nil>")
        kind, path = op["op"], op.get("path")
        if not isinstance(path, str):
            raise PatchError(f"{kind} operation is missing path")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(_value(op)))
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            doc, _ = _remove(doc, path, verb="replace")
            doc = _add(doc, path, copy.deepcopy(_value(op)))
        elif kind in ("move", "copy"):
            source = op.get("from")
            if not isinstance(source, str):
                raise PatchError(f"{kind} operation is missing from")
            if kind == "move":
                doc, value = _remove(doc, source, verb="move")
            else:
                value = copy.deepcopy(_get(doc, source, "copy"))
            doc = _add(doc, path, value)
        elif kind == "test":
            if _get(doc, path, "test") != _value(op):
                raise PatchError(f"testing value {path} failed: test failed", 422)
        else:
            raise PatchError(f"Unexpected kind: {kind}")
    if not isinstance(doc, dict):
        raise PatchError("a JSON patch must leave an object", 422)
    return dict(doc)


def _value(op: dict[str, Any]) -> Any:
    if "value" not in op:
        raise PatchError(f"{op['op']} operation is missing value")
    return op["value"]


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"JSON pointer must be empty or start with a \"/\": {path!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _missing(verb: str, path: str) -> PatchError:
    return PatchError(f"{verb} operation does not apply: doc is missing path: \"{path}\": "
                      "missing value", 422)


def _container(doc: Any, tokens: list[str], verb: str, path: str) -> Any:
    node = doc
    for token in tokens:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise _missing(verb, path)
    return node


def _get(doc: Any, path: str, verb: str) -> Any:
    tokens = _tokens(path)
    return _container(doc, tokens, verb, path)


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = _tokens(path)
    if not tokens:
        return value
    parent = _container(doc, tokens[:-1], "add", path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), value)
        else:
            raise PatchError(f"add operation does not apply: index out of range: {path}", 422)
    else:
        raise _missing("add", path)
    return doc


def _remove(doc: Any, path: str, verb: str = "remove") -> tuple[Any, Any]:
    tokens = _tokens(path)
    if not tokens:
        raise _missing(verb, path)
    parent = _container(doc, tokens[:-1], verb, path)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return doc, parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return doc, parent.pop(int(last))
    raise _missing(verb, path)
