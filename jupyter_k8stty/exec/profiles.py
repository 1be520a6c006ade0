"""Debug containers as ``kubectl debug`` makes them: spec, profiles, names and bodies (pure).

Nothing here makes a request. The shapes follow kubectl's ``pkg/cmd/debug``:

* an ephemeral container is added with a strategic merge patch of
  ``pods/NAME/ephemeralcontainers`` holding only the new container, plus
  ``$setElementOrder/ephemeralContainers`` when the pod already has some (what
  ``CreateTwoWayMergePatch`` yields), keys sorted as Go marshals a map;
* its name is ``debugger-`` and five characters of the Kubernetes random alphabet
  (no vowels, no ``0 1 3``), drawn again while it collides with a container of the pod;
* a node debug pod is ``node-debugger-NODE-xxxxx`` with one container ``debugger``,
  ``nodeName`` set, ``restartPolicy: Never``, a toleration of every taint and the label
  ``app.kubernetes.io/managed-by: kubectl-debug``;
* a profile (``--profile``, ``general`` by default as in current kubectl) sets the
  container's ``securityContext`` and, for a node pod, the host namespaces and the
  host's root at ``/host``: see :data:`PROFILES`.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ArgumentError
from .checks import check_command
from .kinds import check_container

__all__ = [
    "DEBUG_IMAGE_ENV",
    "DEFAULT_DEBUG_IMAGE",
    "DEFAULT_PROFILE",
    "NAME_ALPHABET",
    "NODE_DEBUG_CONTAINER",
    "PROFILES",
    "DebugSpec",
    "DebugStyle",
    "Profile",
    "check_image",
    "container_names",
    "debug_container_name",
    "default_debug_image",
    "ephemeral_container",
    "ephemeral_container_patch",
    "node_debug_pod",
    "node_debug_pod_name",
    "random_suffix",
]

#: The image of a debug container when neither the option nor the environment names one.
DEFAULT_DEBUG_IMAGE: str = "busybox"
#: Environment variable naming the default debug image (air-gapped clusters mirror images).
DEBUG_IMAGE_ENV: str = "JUPYTER_K8STTY_DEBUG_IMAGE"
#: The profile used when none is given (kubectl's default since it dropped ``legacy``).
DEFAULT_PROFILE: str = "general"
#: Characters of generated name suffixes: Kubernetes' ``util/rand`` alphabet.
NAME_ALPHABET: str = "bcdfghjklmnpqrstvwxz2456789"
#: The container of a node debug pod.
NODE_DEBUG_CONTAINER: str = "debugger"
#: Label kubectl puts on node debug pods.
MANAGED_BY: tuple[str, str] = ("app.kubernetes.io/managed-by", "kubectl-debug")
#: The host's root file system in a node debug pod: volume name and mount path.
HOST_ROOT_VOLUME: str = "host-root"
HOST_ROOT_MOUNT: str = "/host"

#: What is debugged: a running pod (an ephemeral container) or a node (a new pod).
DebugStyle = Literal["ephemeral", "node"]

_RESTRICTED_CONTEXT: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}


@dataclass(frozen=True)
class Profile:
    """What one ``kubectl debug --profile`` sets.

    Attributes:
        name: ``general``, ``baseline``, ``restricted``, ``netadmin`` or ``sysadmin``.
        ephemeral_context: the ephemeral container's ``securityContext`` (``None``: none).
        node_context: the node debug container's ``securityContext`` (``None``: none).
        host_namespaces: whether a node debug pod uses the host's PID, network and IPC
            namespaces.
        host_root: whether a node debug pod mounts the host's ``/`` at ``/host``.
    """

    name: str
    ephemeral_context: dict[str, Any] | None
    node_context: dict[str, Any] | None
    host_namespaces: bool
    host_root: bool

    def security_context(self, style: DebugStyle) -> dict[str, Any] | None:
        """Return a fresh copy of the ``securityContext`` for ``style`` (``None``: none)."""
        context = self.ephemeral_context if style == "ephemeral" else self.node_context
        return _copy(context) if context is not None else None


#: kubectl's profiles. ``general`` adds SYS_PTRACE to an ephemeral container and gives a
#: node pod the host (its security context cleared); ``baseline`` and ``restricted`` ask
#: for nothing Pod Security would refuse at that level (so a node pod gets no host
#: namespaces and no ``/host``); ``netadmin`` adds NET_ADMIN and NET_RAW (host namespaces
#: on a node); ``sysadmin`` is privileged (and gets the whole host on a node).
PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("general", {"capabilities": {"add": ["SYS_PTRACE"]}}, None, True, True),
    Profile("baseline", None, None, False, False),
    Profile("restricted", _RESTRICTED_CONTEXT, _RESTRICTED_CONTEXT, False, False),
    Profile("netadmin", {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
            {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}}, True, False),
    Profile("sysadmin", {"privileged": True}, {"privileged": True}, True, True),
)}


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


# ---- images ----------------------------------------------------------------------------

# The grammar of distribution/reference (what kubectl checks before any request).
_ALNUM = r"[a-z0-9]+"
_PATH_COMPONENT = rf"{_ALNUM}(?:(?:[._]|__|-+){_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE_RE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)(?::{_TAG})?(?:@{_DIGEST})?"
)


def check_image(image: object) -> str:
    """Return ``image`` if it is a valid image reference (``[REGISTRY/]NAME[:TAG][@DIGEST]``).

    Raises:
        ArgumentError: not a string, or not a reference (upper case, spaces, ...).
    """
    if not isinstance(image, str):
        raise ArgumentError(f"the debug image must be a string, got {type(image).__name__}")
    match = _REFERENCE_RE.fullmatch(image)
    if not match or len(match.group("name")) > 255:
        raise ArgumentError(f"invalid debug image {image!r}: expected [REGISTRY/]NAME[:TAG][@DIGEST] "
                            "with a lower-case name, e.g. busybox:1.36")
    return image


def default_debug_image() -> str:
    """``$JUPYTER_K8STTY_DEBUG_IMAGE`` when set, else ``busybox``.

    Raises:
        ArgumentError: the variable holds an invalid image reference.
    """
    image = os.environ.get(DEBUG_IMAGE_ENV, "").strip()
    if not image:
        return DEFAULT_DEBUG_IMAGE
    try:
        return check_image(image)
    except ArgumentError as exc:
        raise ArgumentError(f"{DEBUG_IMAGE_ENV}: {exc}") from None


# ---- the spec ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DebugSpec:
    """A debug container to add, as ``kubectl debug``'s options say it.

    Attributes:
        image: the debug image; ``None`` at construction means ``$JUPYTER_K8STTY_DEBUG_IMAGE``,
            else ``busybox`` (the field then holds the one chosen).
        target_container: the container whose processes the debug container sees
            (``--target``: ``targetContainerName``, a shared process namespace);
            ephemeral containers only.
        profile: ``general`` (default), ``baseline``, ``restricted``, ``netadmin`` or
            ``sysadmin``, as kubectl's ``--profile``.
        command: the debug container's own command (kubectl's ``-- COMMAND``);
            ``None`` runs the image's default (a shell in ``busybox``).

    Raises:
        ArgumentError: on construction, for an invalid image, container name, profile
            or command; no request is made.

    Example:
        >>> ExecSession("web-0", debug=DebugSpec(target_container="main"))
    """

    image: str | None = None
    target_container: str | None = None
    profile: str = DEFAULT_PROFILE
    command: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        image = default_debug_image() if self.image is None else check_image(self.image)
        object.__setattr__(self, "image", image)
        if self.target_container is not None:
            check_container(self.target_container)
        if self.profile not in PROFILES:
            raise ArgumentError(f"unknown debug profile {self.profile!r}: use one of "
                                f"{', '.join(PROFILES)}")
        if self.command is not None:
            object.__setattr__(self, "command", tuple(check_command(self.command)))

    @classmethod
    def of(cls, debug: DebugSpec | str | bool | None, *, target_container: str | None = None,
           profile: str | None = None) -> DebugSpec | None:
        """Build a spec from what ``debug=`` accepts, or ``None`` for no debug container.

        ``True`` is the default image, a string an image, a :class:`DebugSpec` itself;
        ``target_container`` and ``profile`` override when given (``Terminal``'s
        ``debug_target=`` and ``debug_profile=``).

        Raises:
            ArgumentError: as the constructor, or ``debug`` of another type.
        """
        if debug is None or debug is False:
            if target_container is not None or profile is not None:
                raise ArgumentError("a debug target or profile needs debug= (an image or True)")
            return None
        extra: dict[str, Any] = {k: v for k, v in (("target_container", target_container),
                                                   ("profile", profile)) if v is not None}
        if isinstance(debug, DebugSpec):
            return cls(debug.image, **{"target_container": debug.target_container,
                                       "profile": debug.profile, "command": debug.command,
                                       **extra})
        if debug is True:
            return cls(**extra)
        if isinstance(debug, str):
            return cls(debug, **extra)
        raise ArgumentError(f"debug= takes True, an image or a DebugSpec, not {debug!r}")

    @property
    def settings(self) -> Profile:
        """The :class:`Profile` this spec names."""
        return PROFILES[self.profile]


# ---- names -----------------------------------------------------------------------------


def random_suffix(length: int = 5) -> str:
    """Return ``length`` characters of :data:`NAME_ALPHABET` (as Kubernetes' ``rand.String``)."""
    return "".join(secrets.choice(NAME_ALPHABET) for _ in range(length))


def container_names(pod: dict[str, Any]) -> list[str]:
    """Names of every container of ``pod``: regular, init and ephemeral."""
    spec = pod.get("spec") or {}
    return [c.get("name") for key in ("containers", "initContainers", "ephemeralContainers")
            for c in spec.get(key) or [] if c.get("name")]


def debug_container_name(pod: dict[str, Any]) -> str:
    """Return ``debugger-xxxxx``, drawn again while it names a container of ``pod``."""
    taken = set(container_names(pod))
    while True:
        name = f"debugger-{random_suffix()}"
        if name not in taken:
            return name


def node_debug_pod_name(node: str) -> str:
    """Return ``node-debugger-NODE-xxxxx`` (kubectl does not check for a collision either)."""
    return f"node-debugger-{node}-{random_suffix()}"


# ---- bodies ----------------------------------------------------------------------------


def _container(spec: DebugSpec, name: str, style: DebugStyle) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": spec.image}
    if spec.command is not None:
        container["command"] = list(spec.command)
    container["resources"] = {}
    context = spec.settings.security_context(style)
    if context is not None:
        container["securityContext"] = context
    container.update({"terminationMessagePolicy": "File", "stdin": True, "tty": True})
    return container


def ephemeral_container(spec: DebugSpec, name: str) -> dict[str, Any]:
    """Return the ``EphemeralContainer`` kubectl adds for ``kubectl debug -it --image=IMAGE``."""
    container = _container(spec, name, "ephemeral")
    if spec.target_container is not None:
        container["targetContainerName"] = spec.target_container
    return container


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def ephemeral_container_patch(pod: dict[str, Any], container: dict[str, Any]) -> dict[str, Any]:
    """Return the strategic merge patch that adds ``container`` to ``pod``'s ephemeral containers.

    The same body ``kubectl debug`` sends: only the new container, with the order of all
    of them in ``$setElementOrder/ephemeralContainers`` when the pod already has some.
    """
    existing = [c.get("name") for c in (pod.get("spec") or {}).get("ephemeralContainers") or []]
    spec: dict[str, Any] = {"ephemeralContainers": [container]}
    if existing:
        spec["$setElementOrder/ephemeralContainers"] = [
            {"name": n} for n in (*existing, container["name"])]
    return _sorted({"spec": spec})


def node_debug_pod(spec: DebugSpec, node: str, name: str) -> dict[str, Any]:
    """Return the pod ``kubectl debug node/NODE -it --image=IMAGE`` creates, named ``name``.

    Raises:
        ArgumentError: ``spec`` names a target container (nodes have none to share).
    """
    if spec.target_container is not None:
        raise ArgumentError("a debug target container applies to pods, not to a node")
    profile = spec.settings
    container = _container(spec, NODE_DEBUG_CONTAINER, "node")
    pod_spec: dict[str, Any] = {}
    if profile.host_root:
        pod_spec["volumes"] = [{"name": HOST_ROOT_VOLUME, "hostPath": {"path": "/"}}]
        container["volumeMounts"] = [{"name": HOST_ROOT_VOLUME, "mountPath": HOST_ROOT_MOUNT}]
    pod_spec.update({"containers": [container], "restartPolicy": "Never", "nodeName": node})
    if profile.host_namespaces:
        pod_spec.update({"hostNetwork": True, "hostPID": True, "hostIPC": True})
    pod_spec["tolerations"] = [{"operator": "Exists"}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": dict([MANAGED_BY])},
        "spec": pod_spec,
    }

