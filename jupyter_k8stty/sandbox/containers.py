"""One container of a sandbox pod: its spec as the API server defaults it, its image, its state.

A container's *image* decides what the sandbox does with it, since no image is ever
pulled: a name containing one of the sandbox's unpullable markers (``does-not-exist`` by
default) fails to pull (``ErrImagePull``, then ``ImagePullBackOff``); a name containing
``distroless`` has no shell and no tools, so exec finds nothing but its own entrypoint;
anything else (``busybox``, the sandbox's own image) runs on this machine, with a shell.

Regular containers declared through :class:`~jupyter_k8stty.sandbox.pods.PodSpec` follow
their pod's phase unless they have a main process; ephemeral containers and the
containers of pods created through the API have a state of their own, driven by
:mod:`.kubelet`.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "DEFAULT_UNPULLABLE",
    "SHELL_LESS_MARKER",
    "Container",
    "ContainerState",
    "default_container",
    "has_shell",
    "normalize_image",
    "pull_error",
    "timestamp",
]

#: An image whose name contains one of these cannot be pulled (see ``Sandbox(unpullable_images=)``).
DEFAULT_UNPULLABLE: tuple[str, ...] = ("does-not-exist",)
#: An image whose name contains this has no shell (like Google's distroless images).
SHELL_LESS_MARKER = "distroless"
#: What a container runs when its spec names no command and its image has a shell.
DEFAULT_SHELL: tuple[str, ...] = ("sh",)

_DIGEST_RE = re.compile(r"@sha256:[0-9a-f]{64}$")


def timestamp(when: datetime.datetime) -> str:
    """Format a time as the API server does (RFC 3339, seconds, UTC)."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def now() -> datetime.datetime:
    """Return the current time in UTC, to the second."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def normalize_image(image: str) -> str:
    """Return the fully qualified reference a runtime reports (``docker.io/library/busybox:latest``)."""
    name = image
    first, _, rest = name.partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name}" if rest else f"docker.io/library/{name}"
    if not _DIGEST_RE.search(name) and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name


def has_shell(image: str) -> bool:
    """Whether containers of ``image`` have a shell (``False`` for distroless images)."""
    return SHELL_LESS_MARKER not in image.lower()


def pull_error(image: str, unpullable: Iterable[str]) -> str | None:
    """Return containerd's pull error for ``image`` if it cannot be pulled, else ``None``."""
    if not any(marker and marker in image for marker in unpullable):
        return None
    ref = normalize_image(image)
    return (f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": '
            f'failed to resolve reference "{ref}": {ref}: not found')


def pull_policy(image: str) -> str:
    """Return the ``imagePullPolicy`` the API server defaults to (``Always`` for ``:latest``)."""
    if _DIGEST_RE.search(image):
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    return "IfNotPresent" if ":" in last and not last.endswith(":latest") else "Always"


def default_container(spec: dict[str, Any]) -> dict[str, Any]:
    """Return a container spec with the fields the API server defaults filled in."""
    out = dict(spec)
    out.setdefault("resources", {})
    out.setdefault("terminationMessagePath", "/dev/termination-log")
    out.setdefault("terminationMessagePolicy", "File")
    if isinstance(out.get("image"), str) and out["image"]:
        out.setdefault("imagePullPolicy", pull_policy(out["image"]))
    return out


@dataclass
class ContainerState:
    """A container's ``state`` (or ``lastState``) as the kubelet reports it."""

    kind: Literal["waiting", "running", "terminated"]
    reason: str = ""
    message: str = ""
    exit_code: int = 0
    started: datetime.datetime | None = None
    finished: datetime.datetime | None = None

    def to_json(self, container_id: str) -> dict[str, Any]:
        """Return the ``v1.ContainerState`` object."""
        if self.kind == "waiting":
            body: dict[str, Any] = {"reason": self.reason}
            if self.message:
                body["message"] = self.message
            return {"waiting": body}
        started = timestamp(self.started or now())
        if self.kind == "running":
            return {"running": {"startedAt": started}}
        body = {"exitCode": self.exit_code, "reason": self.reason, "startedAt": started,
                "finishedAt": timestamp(self.finished or now()), "containerID": container_id}
        if self.message:
            body["message"] = self.message
        return {"terminated": body}


class Container:
    """One container of a pod: its (defaulted) spec, working directory and runtime state.

    Attributes:
        spec: the container as the API renders it in ``spec.containers`` or
            ``spec.ephemeralContainers`` (defaults applied).
        ephemeral: whether it is an ephemeral container.
        workdir: its working directory on this machine (its "filesystem").
        state: its state, or ``None`` to follow the pod's phase (declared pods).
        last_state: the state before the last restart.
        restart_count: how often its main process was restarted.
    """

    def __init__(self, spec: dict[str, Any], workdir: Path, *, ephemeral: bool = False,
                 state: ContainerState | None = None):
        self.spec = default_container(spec)
        self.ephemeral = ephemeral
        self.workdir = workdir
        self.state = state
        self.last_state: ContainerState | None = None
        self.restart_count = 0
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def name(self) -> str:
        """The container's name."""
        return str(self.spec["name"])

    @property
    def image(self) -> str:
        """The image the spec names."""
        return str(self.spec.get("image") or "")

    @property
    def stdin(self) -> bool:
        """``stdin: true``: the main process reads what attached clients type."""
        return bool(self.spec.get("stdin"))

    @property
    def tty(self) -> bool:
        """``tty: true``: the main process runs in a terminal."""
        return bool(self.spec.get("tty"))

    @property
    def target(self) -> str | None:
        """``targetContainerName`` of an ephemeral container."""
        target = self.spec.get("targetContainerName")
        return str(target) if target else None

    def main_command(self, default_shell: bool = True) -> tuple[str, ...]:
        """Return the main process: ``command`` + ``args``, else ``args``, else the image's shell.

        ``default_shell=False`` leaves a container without ``command`` idle (the sandbox's
        declared pods), where a created or ephemeral container runs its image's shell.
        """
        command = [str(c) for c in self.spec.get("command") or []]
        args = [str(a) for a in self.spec.get("args") or []]
        if command:
            return (*command, *args)
        if not default_shell:
            return ()
        if args:  # the images the sandbox knows have no entrypoint: args are the command
            return tuple(args)
        return DEFAULT_SHELL if has_shell(self.image) else ()

    def executables(self) -> tuple[str, ...] | None:
        """Return what exec may run here: ``None`` for anything on this machine's ``PATH``.

        A distroless container has only its entrypoint (``command[0]``), and no shell.
        """
        if has_shell(self.image):
            return None
        command = self.spec.get("command") or []
        return (str(command[0]),) if command else ()
