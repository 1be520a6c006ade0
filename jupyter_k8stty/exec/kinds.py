"""Target kinds as data, and the parsing of a target string: pure, no I/O.

Every kind a target may name (``pod``, ``deploy``, ``sts`` ...) is described once in
:data:`KINDS`: its spellings, API group and version, and how it yields pods. Parsing,
help and error texts, fan-out's checks, tab completion and the sandbox's discovery
documents all derive from it, so a new kind is one entry here (plus, for a new way of
yielding pods, one branch in :func:`pod_selector`). A node is a target too, but yields no
pods: ``node/NAME`` opens a shell in a debug pod created on that node
(:mod:`.node_debug`), so every consumer that turns a target into pods handles
``pods_by == "node"`` apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from ..errors import TargetError

__all__ = [
    "KINDS",
    "NODE",
    "POD",
    "Kind",
    "Target",
    "check_container",
    "check_name",
    "check_namespace",
    "kind_for",
    "kinds_help",
    "parse_target",
    "pod_selector",
    "selector_string",
]

#: How a kind leads to pods: it is one (``pod``), it has ``spec.selector`` as a
#: ``LabelSelector`` (``selector``) or as a plain label map (``labels``, services), or
#: it yields a debug pod created on it (``node``, as ``kubectl debug node/NAME``).
PodsBy = Literal["self", "selector", "labels", "node"]


@dataclass(frozen=True)
class Kind:
    """One kind of object a target may name.

    Attributes:
        kind: the object's ``kind`` (``Deployment``).
        plural: the resource name in URLs (``deployments``).
        singular: the singular resource name (``deployment``).
        short: kubectl's short names (``("deploy",)``).
        group: the API group, ``""`` for the core group.
        version: the API version within the group.
        pods_by: how the kind leads to pods (see :data:`PodsBy`).
        namespaced: whether objects of the kind live in a namespace (nodes do not).
        display: the spelling help and completion use, when not the shortest one
            (``pod`` and ``node``: ``po/`` and ``no/`` are seldom typed).
    """

    kind: str
    plural: str
    singular: str
    short: tuple[str, ...]
    group: str
    version: str
    pods_by: PodsBy
    namespaced: bool = True
    display: str | None = None

    @property
    def prefix(self) -> str:
        """The shortest spelling plus a slash, as used in help and completion (``deploy/``)."""
        return f"{self.display or min((self.singular, *self.short), key=len)}/"

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every spelling kubectl accepts, group-qualified forms included."""
        plain = (self.singular, self.plural, *self.short)
        if not self.group:
            return plain
        return plain + tuple(f"{s}.{self.group}" for s in plain)

    @property
    def resource(self) -> str:
        """``plural.group`` as RBAC and error messages name it (``deployments.apps``)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def group_version(self) -> str:
        """``apps/v1``, or ``v1`` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None, name: str | None = None) -> str:
        """Return the API path of the collection in ``namespace``, or of the object ``name``.

        ``namespace`` is ignored for a kind that is not namespaced (``/api/v1/nodes``).
        """
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced:
            if not namespace:
                raise TargetError(f"{self.plural} live in a namespace: give one")
            base = f"{base}/namespaces/{quote(namespace, safe='')}"
        path = f"{base}/{self.plural}"
        return f"{path}/{quote(name, safe='')}" if name is not None else path


#: Every kind a target may name, in the order help texts list them.
KINDS: tuple[Kind, ...] = (
    Kind("Pod", "pods", "pod", ("po",), "", "v1", "self", display="pod"),
    Kind("Deployment", "deployments", "deployment", ("deploy",), "apps", "v1", "selector"),
    Kind("StatefulSet", "statefulsets", "statefulset", ("sts",), "apps", "v1", "selector"),
    Kind("DaemonSet", "daemonsets", "daemonset", ("ds",), "apps", "v1", "selector"),
    Kind("ReplicaSet", "replicasets", "replicaset", ("rs",), "apps", "v1", "selector"),
    Kind("Job", "jobs", "job", (), "batch", "v1", "selector"),
    Kind("Service", "services", "service", ("svc",), "", "v1", "labels"),
    Kind("Node", "nodes", "node", ("no",), "", "v1", "node", namespaced=False,
         display="node"),
)

POD: Kind = KINDS[0]
NODE: Kind = KINDS[-1]

_BY_SPELLING: dict[str, Kind] = {s: k for k in KINDS for s in k.spellings}


def kind_for(spelling: str) -> Kind | None:
    """Return the kind spelled ``spelling`` (any case, long, short or group-qualified)."""
    return _BY_SPELLING.get(spelling.lower())


def kinds_help() -> str:
    """``pod/, deploy/, sts/, ds/, rs/, job/ or svc/``: the prefixes, for help and errors."""
    prefixes = [k.prefix for k in KINDS]
    return ", ".join(prefixes[:-1]) + " or " + prefixes[-1]


# ---- names -----------------------------------------------------------------------------

_DNS1123_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_RE = re.compile(rf"^{_DNS1123_LABEL}(?:\.{_DNS1123_LABEL})*$")
_LABEL_RE = re.compile(rf"^{_DNS1123_LABEL}$")


def _check_dns(value: str, pattern: re.Pattern[str], limit: int, problem: str) -> None:
    """Raise :class:`TargetError` (``problem``) unless ``value`` matches and fits ``limit``."""
    if not value or len(value) > limit or not pattern.match(value):
        raise TargetError(problem)


def check_name(name: str, what: str) -> None:
    """Raise :class:`TargetError` unless ``name`` is a valid object name (DNS-1123 subdomain)."""
    _check_dns(name, _SUBDOMAIN_RE, 253,
               f"invalid {what} {name!r}: a name must consist of lower case alphanumeric "
               "characters, '-' or '.', and must start and end with an alphanumeric character "
               "(at most 253 characters)")


def check_namespace(namespace: str) -> None:
    """Raise :class:`TargetError` unless ``namespace`` is a valid namespace name (DNS-1123 label)."""
    _check_dns(namespace, _LABEL_RE, 63,
               f"invalid namespace {namespace!r}: it must be a DNS-1123 label (lower case "
               "alphanumeric characters or '-', starting and ending with an alphanumeric "
               "character, at most 63 characters)")


def check_container(container: str) -> None:
    """Raise :class:`TargetError` unless ``container`` is a valid container name (DNS-1123 label)."""
    _check_dns(container, _LABEL_RE, 63,
               f"invalid container name {container!r}: it must be a DNS-1123 label")


# ---- targets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A parsed target: a kind and a name, or a label selector (of pods)."""

    kind: Kind
    name: str | None = None
    selector: str | None = None

    @property
    def is_pod(self) -> bool:
        """Whether the target names one pod."""
        return self.kind is POD and self.name is not None

    @property
    def is_node(self) -> bool:
        """Whether the target names a node (a shell in a debug pod on it)."""
        return self.kind.pods_by == "node" and self.name is not None

    @property
    def spans_pods(self) -> bool:
        """Whether the target may stand for several pods (a workload or a selector)."""
        return not self.is_pod and not self.is_node

    def __str__(self) -> str:
        if self.selector is not None:
            return f"pods with labels {self.selector!r}"
        if self.kind is POD:
            return f"pod {self.name}"
        if self.is_node:
            return f"node {self.name}"
        return f"{self.kind.plural}/{self.name}"


def parse_target(target: str | None, selector: str | None = None) -> Target:
    """Parse ``POD``, ``KIND/NAME`` or a selector into a :class:`Target`.

    Raises:
        TargetError: the kind is unknown, the name is not a valid object name, both or
            neither of ``target`` and ``selector`` were given.
    """
    if selector is not None and target:
        raise TargetError("give either a target (POD or KIND/NAME) or a label selector, not both")
    if selector is not None:
        if not selector.strip():
            raise TargetError("the label selector is empty")
        if "\x00" in selector:
            raise TargetError("the label selector contains a NUL byte")
        return Target(POD, selector=selector.strip())
    if not target or not target.strip():
        raise TargetError("no pod given: pass POD, KIND/NAME (e.g. deploy/web) or a label selector")
    text = target.strip()
    if "/" in text:
        kind_text, _, name = text.partition("/")
        kind = kind_for(kind_text)
        if kind is None:
            raise TargetError(
                f"unknown kind {kind_text!r} in {text!r}: use {kinds_help()} (or their long forms)"
            )
        what = "pod name" if kind is POD else f"{kind.kind} name"
        if "/" in name:
            raise TargetError(f"invalid target {text!r}: expected KIND/NAME")
    else:
        kind, name, what = POD, text, "pod name"
    check_name(name, what)
    return Target(kind, name)


# ---- selectors -------------------------------------------------------------------------


def selector_string(selector: dict[str, Any] | None, *, plain_map: bool = False) -> str:
    """Turn a ``LabelSelector`` (or a service's plain label map) into a selector string.

    Raises:
        TargetError: an operator is unknown.
    """
    if not selector:
        return ""
    if plain_map:
        return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), list(expr.get("values") or [])
        if op == "In":
            terms.append(f"{key} in ({','.join(sorted(values))})")
        elif op == "NotIn":
            terms.append(f"{key} notin ({','.join(sorted(values))})")
        elif op == "Exists":
            terms.append(str(key))
        elif op == "DoesNotExist":
            terms.append(f"!{key}")
        else:
            raise TargetError(f"{op!r} is not a valid label selector operator")
    return ",".join(terms)


def pod_selector(kind: Kind, obj: dict[str, Any]) -> str:
    """Return the label selector of the pods the object ``obj`` of ``kind`` stands for.

    Returns ``""`` when it has none (an ExternalName service, a selector-less job).
    """
    if kind.pods_by == "node":
        raise TargetError(f"a node is not a source of pods: {kind.prefix}NAME opens a shell in a "
                          "debug pod created on it")
    spec = obj.get("spec") or {}
    if kind.pods_by == "labels":
        return selector_string(spec.get("selector"), plain_map=True)
    if kind.pods_by == "selector":
        return selector_string(spec.get("selector"))
    raise TargetError(f"{kind.kind} objects are pods themselves, not a source of pods")
