"""Which operating system a pod runs, and the interactive shell that fits it (pure).

Linux containers get a login shell with fallbacks (bash, else ash, else sh). Windows
containers have no POSIX shell: they get PowerShell where the image has it, else
``cmd.exe``, as UI tools do. A pod is Windows when its spec says so (``spec.os.name``,
Kubernetes 1.25+), when its node selector asks for ``kubernetes.io/os: windows``, or
when its node carries that label.
"""

from __future__ import annotations

from typing import Any, Literal

__all__ = ["DEFAULT_SHELL", "OS_LABEL", "WINDOWS_HINT", "WINDOWS_SHELL", "pod_os"]

#: Login shell with fallbacks, the way UI tools open a shell in an unknown image.
DEFAULT_SHELL: list[str] = [
    "sh",
    "-c",
    "if command -v bash >/dev/null 2>&1; then exec bash -l; "
    "elif command -v ash >/dev/null 2>&1; then exec ash -l; else exec sh -l; fi",
]

#: The well-known label every node carries with its operating system.
OS_LABEL = "kubernetes.io/os"

#: PowerShell when the image has it, else cmd.exe (``where`` finds programs on PATH; the
#: second ``where`` keeps cmd.exe from starting after PowerShell exits with an error).
WINDOWS_SHELL: list[str] = [
    "cmd.exe", "/c",
    "where /q powershell.exe && powershell.exe -NoLogo || (where /q powershell.exe || cmd.exe)",
]

#: What copying and cell scripts need, said when the pod runs Windows.
WINDOWS_HINT = ("the pod runs Windows, which has no POSIX shell: scripts (%%k8sexec) and file "
                "copies need sh and tar in the container")

PodOS = Literal["linux", "windows"]


def pod_os(pod: dict[str, Any], node_labels: dict[str, str] | None = None) -> PodOS:
    """Return the operating system of ``pod`` (its JSON), given its node's labels if known."""
    spec = pod.get("spec") or {}
    declared = ((spec.get("os") or {}).get("name")
                or (spec.get("nodeSelector") or {}).get(OS_LABEL)
                or (node_labels or {}).get(OS_LABEL))
    return "windows" if str(declared or "").lower() == "windows" else "linux"
