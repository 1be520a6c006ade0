"""Pod Security Admission for the sandbox: the ``baseline`` and ``restricted`` checks that matter.

A namespace enforces a level (``Sandbox(pod_security={"secure-ns": "restricted"})``, shown
as its ``pod-security.kubernetes.io/enforce`` label). Creating a pod there, or adding an
ephemeral container to one of its pods, is refused with the API server's 403 when the
pod as a whole violates the level::

    pods "demo" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation
    != false (container "debugger-x" must set securityContext.allowPrivilegeEscalation=false), ...

As in the admission plugin, baseline checks come first, then restricted ones, each group
sorted by check id, and a restricted check replaces the baseline check it overrides.
Implemented: host namespaces, hostPath volumes, privileged, capabilities, restricted
volume types, allowPrivilegeEscalation, runAsNonRoot and seccompProfile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jupyter_k8stty.sandbox.apistatus import HTTPError, status_body

__all__ = ["violations", "admit"]

#: Capabilities a baseline container may add (the container runtime's defaults).
BASELINE_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})
_ALLOWED_VOLUMES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                    "persistentVolumeClaim", "projected", "secret")

Result = tuple[str, str] | None
Check = Callable[[dict[str, Any]], Result]


def _plural(one: str, many: str, n: int) -> str:
    return one if n == 1 else many


def _quote(names: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _named(noun: str, names: list[str]) -> str:
    """Return ``noun`` (made plural for several) and the quoted names: ``container "a"``."""
    return f"{_plural(noun, noun + 's', len(names))} {_quote(names)}"


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for key in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(key) or [] if isinstance(c, dict)]


def _context(container: dict[str, Any]) -> dict[str, Any]:
    context = container.get("securityContext")
    return context if isinstance(context, dict) else {}


def _pod_context(spec: dict[str, Any]) -> dict[str, Any]:
    context = spec.get("securityContext")
    return context if isinstance(context, dict) else {}


# ---- baseline --------------------------------------------------------------------------

def _capabilities_baseline(spec: dict[str, Any]) -> Result:
    bad, caps = [], set()
    for c in _containers(spec):
        added = set((_context(c).get("capabilities") or {}).get("add") or []) - BASELINE_CAPABILITIES
        if added:
            bad.append(c["name"])
            caps |= added
    if not bad:
        return None
    return ("non-default capabilities", f"{_named('container', bad)} must not include "
            f"{_quote(sorted(caps))} in securityContext.capabilities.add")


def _host_namespaces(spec: dict[str, Any]) -> Result:
    used = [f"{key}=true" for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key)]
    return ("host namespaces", ", ".join(used)) if used else None


def _host_path_volumes(spec: dict[str, Any]) -> Result:
    names = [v["name"] for v in spec.get("volumes") or [] if isinstance(v, dict) and "hostPath" in v]
    if not names:
        return None
    return "hostPath volumes", _named("volume", names)


def _privileged(spec: dict[str, Any]) -> Result:
    bad = [c["name"] for c in _containers(spec) if _context(c).get("privileged")]
    if not bad:
        return None
    return ("privileged", f"{_named('container', bad)} must not set securityContext.privileged=true")


# ---- restricted ------------------------------------------------------------------------

def _allow_privilege_escalation(spec: dict[str, Any]) -> Result:
    bad = [c["name"] for c in _containers(spec)
           if _context(c).get("allowPrivilegeEscalation") is not False]
    if not bad:
        return None
    return ("allowPrivilegeEscalation != false",
            f"{_named('container', bad)} must set securityContext.allowPrivilegeEscalation=false")


def _capabilities_restricted(spec: dict[str, Any]) -> Result:
    no_drop, adding, caps = [], [], set()
    for c in _containers(spec):
        capabilities = _context(c).get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            no_drop.append(c["name"])
        added = set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}
        if added:
            adding.append(c["name"])
            caps |= added
    details = []
    if no_drop:
        details.append(f"{_named('container', no_drop)} "
                       'must set securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(f"{_named('container', adding)} "
                       f"must not include {_quote(sorted(caps))} in securityContext.capabilities.add")
    return ("unrestricted capabilities", "; ".join(details)) if details else None


def _restricted_volumes(spec: dict[str, Any]) -> Result:
    bad, kinds = [], set()
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, dict) or any(k in volume for k in _ALLOWED_VOLUMES):
            continue
        bad.append(volume.get("name", ""))
        kinds |= {k for k in volume if k != "name"} or {"unknown"}
    if not bad:
        return None
    return ("restricted volume types", f"{_named('volume', bad)} "
            f"{_plural('uses', 'use', len(bad))} "
            f"{_plural('restricted volume type', 'restricted volume types', len(kinds))} "
            f"{_quote(sorted(kinds))}")


def _run_as_non_root(spec: dict[str, Any]) -> Result:
    pod_value = _pod_context(spec).get("runAsNonRoot")
    explicit_false, unset = [], []
    for c in _containers(spec):
        value = _context(c).get("runAsNonRoot")
        if value is False:
            explicit_false.append(c["name"])
        elif value is None and pod_value is not True:
            unset.append(c["name"])
    details = []
    if pod_value is False:
        details.append("pod must not set securityContext.runAsNonRoot=false")
    if explicit_false:
        details.append(f"{_named('container', explicit_false)} "
                       "must not set securityContext.runAsNonRoot=false")
    if unset:
        details.append(f"pod or {_named('container', unset)} "
                       "must set securityContext.runAsNonRoot=true")
    return ("runAsNonRoot != true", "; ".join(details)) if details else None


def _seccomp_profile(spec: dict[str, Any]) -> Result:
    allowed = ("RuntimeDefault", "Localhost")
    pod_type = (_pod_context(spec).get("seccompProfile") or {}).get("type")
    bad_values: dict[str, list[str]] = {}
    unset = []
    for c in _containers(spec):
        value = (_context(c).get("seccompProfile") or {}).get("type")
        if value is None:
            if pod_type is None:
                unset.append(c["name"])
        elif value not in allowed:
            bad_values.setdefault(value, []).append(c["name"])
    details = []
    if pod_type is not None and pod_type not in allowed:
        details.append(f'pod must not set securityContext.seccompProfile.type to "{pod_type}"')
    for value, names in bad_values.items():
        details.append(f"{_named('container', names)} must not "
                       f'set securityContext.seccompProfile.type to "{value}"')
    if unset:
        details.append(f"pod or {_named('container', unset)} "
                       'must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"')
    return ("seccompProfile", "; ".join(details)) if details else None


#: (check id, level, check, baseline check ids it overrides), in the plugin's order.
_CHECKS: tuple[tuple[str, str, Check, tuple[str, ...]], ...] = (
    ("capabilities_baseline", "baseline", _capabilities_baseline, ()),
    ("hostNamespaces", "baseline", _host_namespaces, ()),
    ("hostPathVolumes", "baseline", _host_path_volumes, ()),
    ("privileged", "baseline", _privileged, ()),
    ("allowPrivilegeEscalation", "restricted", _allow_privilege_escalation, ()),
    ("capabilities_restricted", "restricted", _capabilities_restricted, ("capabilities_baseline",)),
    ("restrictedVolumes", "restricted", _restricted_volumes, ("hostPathVolumes",)),
    ("runAsNonRoot", "restricted", _run_as_non_root, ()),
    ("seccompProfile_restricted", "restricted", _seccomp_profile, ()),
)


def violations(spec: dict[str, Any], level: str) -> list[str]:
    """Return ``reason (detail)`` for each check ``spec`` (a pod's spec) fails at ``level``."""
    if level not in ("baseline", "restricted"):
        return []
    checks = [c for c in _CHECKS if c[1] == "baseline" or level == "restricted"]
    overridden = {o for c in checks for o in c[3]} if level == "restricted" else set()
    found = []
    for check_id, _, check, _ in checks:
        if check_id in overridden:
            continue
        result = check(spec)
        if result is not None:
            found.append(f"{result[0]} ({result[1]})")
    return found


def admit(name: str, spec: dict[str, Any], level: str | None) -> None:
    """Return if a pod ``name`` with ``spec`` may exist in a namespace enforcing ``level``.

    Raises:
        HTTPError: 403, worded as the Pod Security admission plugin's refusal.
    """
    found = violations(spec, level or "privileged")
    if found:
        message = (f'pods "{name}" is forbidden: violates PodSecurity "{level}:latest": '
                   + ", ".join(found))
        raise HTTPError(403, status_body(403, message, "Forbidden", {"name": name, "kind": "pods"}))
