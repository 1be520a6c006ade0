"""What a declared sandbox pod looks like (:class:`PodSpec`), the default pods, and ``--pods``.

Declared pods come from :func:`default_pods`, the ``--pods`` option of ``jupyter-k8stty
sandbox`` (a JSON file or the inline form of :data:`INLINE_HELP`), workloads and
:meth:`Sandbox.add_pod() <jupyter_k8stty.sandbox.server.Sandbox.add_pod>`. Their runtime
state lives in :mod:`.pods`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_k8stty.sandbox.nodes import DEFAULT_NODE
from jupyter_k8stty.sandbox.podjson import IMAGE

__all__ = ["DEFAULT_CONTAINER_ANNOTATION", "INLINE_HELP", "PHASES", "PodSpec", "default_pods",
           "load_pods", "parse_inline_pods"]

PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
_PODSPEC_FIELDS = ("name", "namespace", "containers", "labels", "annotations", "phase", "owner",
                   "age", "restarts", "images", "commands", "stdin", "tty", "node")


@dataclass
class PodSpec:
    """What a sandbox pod looks like.

    Attributes:
        name: the pod name.
        namespace: the pod namespace.
        containers: container names; the first is used when exec names none.
        labels: metadata labels (selectable with ``labelSelector``).
        annotations: metadata annotations.
        phase: ``Pending``, ``Running``, ``Succeeded``, ``Failed`` or ``Unknown``.
        owner: ``Kind/name`` of the controller owning the pod (e.g. ``ReplicaSet/web-5d8``),
            rendered as an ``ownerReference``.
        age: seconds since the pod was created (and became ready, when Running).
        restarts: the containers' restart count.
        images: container name to image (default: the sandbox image). An image whose name
            contains ``distroless`` has no shell: exec of ``sh`` fails as on a real node.
        commands: container name to its main process, e.g. ``{"main": ("python3", "-i")}``;
            it runs while the pod is Running and is what ``attach`` connects to. A
            container without one is idle (attach shows nothing, as with ``sleep``).
        stdin: containers with ``stdin: true``: attached clients may type to the main
            process (otherwise attach is read-only).
        tty: containers with ``tty: true``: the main process runs in a terminal.
        node: the node the pod is bound to (``spec.nodeName``).
    """

    name: str
    namespace: str = "default"
    containers: tuple[str, ...] = ("main",)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    phase: str = "Running"
    owner: str | None = None
    age: float = 0.0
    restarts: int = 0
    images: dict[str, str] = field(default_factory=dict)
    commands: dict[str, tuple[str, ...]] = field(default_factory=dict)
    stdin: tuple[str, ...] = ()
    tty: tuple[str, ...] = ()
    node: str = DEFAULT_NODE

    def __post_init__(self) -> None:
        if isinstance(self.containers, str):
            self.containers = (self.containers,)
        self.containers = tuple(self.containers)
        if not self.containers:
            raise ValueError(f"pod {self.name!r} needs at least one container")
        if self.phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {self.phase!r}")
        self.stdin = (self.stdin,) if isinstance(self.stdin, str) else tuple(self.stdin)
        self.tty = (self.tty,) if isinstance(self.tty, str) else tuple(self.tty)
        self.commands = {c: (cmd,) if isinstance(cmd, str) else tuple(cmd)
                         for c, cmd in self.commands.items()}
        for what, names in (("images", self.images), ("commands", self.commands),
                            ("stdin", self.stdin), ("tty", self.tty)):
            unknown = sorted(set(names) - set(self.containers))
            if unknown:
                raise ValueError(f"pod {self.name!r}: {what} names unknown container(s) {unknown}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PodSpec:
        """Build a spec from a JSON object with the dataclass's field names."""
        unknown = set(data) - set(_PODSPEC_FIELDS)
        if unknown:
            raise ValueError(f"unknown pod field(s) {sorted(unknown)} in {data!r}")
        return cls(**data)

    def container_spec(self, name: str) -> dict[str, Any]:
        """Return the ``spec.containers`` entry of container ``name`` (before defaulting)."""
        spec: dict[str, Any] = {"name": name, "image": self.images.get(name, IMAGE),
                                "imagePullPolicy": "IfNotPresent"}
        if name in self.commands:
            spec["command"] = list(self.commands[name])
        if name in self.stdin:
            spec["stdin"] = True
        if name in self.tty:
            spec["tty"] = True
        return spec


def default_pods() -> list[PodSpec]:
    """Return the pods a sandbox has when none are given."""
    return [
        PodSpec("demo", containers=("main", "sidecar"), labels={"app": "demo"},
                annotations={DEFAULT_CONTAINER_ANNOTATION: "main"}),
        *(PodSpec(f"worker-{i}", labels={"app": "worker"}) for i in range(3)),
        PodSpec("finished", labels={"app": "finished"}, phase="Succeeded"),
        PodSpec("analytics", namespace="team-a", labels={"app": "analytics"}),
    ]


_RANGE_RE = re.compile(r"\{(\d+)\.\.(\d+)\}")
_CONTAINER = r"[a-z0-9-]+(?:=[^+@,\s]+)?"
_INLINE_RE = re.compile(
    r"^(?:(?P<ns>[a-z0-9-]+)/)?(?P<name>[a-z0-9.-]+)"
    rf"(?::(?P<containers>{_CONTAINER}(?:\+{_CONTAINER})*))?(?:@(?P<phase>[A-Za-z]+))?$"
)

INLINE_HELP = """\
Inline pods: comma-separated entries [NAMESPACE/]NAME[:CONTAINER[=IMAGE]+CONTAINER...][@PHASE];
NAME may hold one {A..B} range. Each pod gets the label app=NAME without a trailing
-NUMBER. An IMAGE naming 'distroless' has no shell (exec of sh fails as on a real node).
Example: 'demo:main+sidecar,worker-{0..19},team-a/analytics,done@Succeeded,
model:server=gcr.io/distroless/python3'."""


def parse_inline_pods(text: str) -> list[PodSpec]:
    """Parse the compact ``--pods`` form described in :data:`INLINE_HELP`.

    Raises:
        ValueError: an entry does not follow the form.
    """
    specs: list[PodSpec] = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        m = _RANGE_RE.search(entry)
        expanded = ([entry[:m.start()] + str(i) + entry[m.end():]
                     for i in range(int(m.group(1)), int(m.group(2)) + 1)] if m else [entry])
        for item in expanded:
            parsed = _INLINE_RE.match(item)
            if not parsed:
                raise ValueError(f"bad pod entry {item!r}: expected "
                                 "[NAMESPACE/]NAME[:CONTAINER[=IMAGE]+CONTAINER][@PHASE]")
            name = parsed.group("name")
            entries = [c.partition("=") for c in (parsed.group("containers") or "main").split("+")]
            containers = tuple(c for c, _, _ in entries)
            images = {c: image for c, _, image in entries if image}
            annotations = ({DEFAULT_CONTAINER_ANNOTATION: containers[0]}
                           if len(containers) > 1 else {})
            specs.append(PodSpec(
                name=name, namespace=parsed.group("ns") or "default", containers=containers,
                labels={"app": re.sub(r"-\d+$", "", name)}, annotations=annotations,
                phase=(parsed.group("phase") or "Running").capitalize(), images=images,
            ))
    return specs


def load_pods(spec: str) -> list[PodSpec]:
    """Return pods from ``spec``: a JSON file path (a list of objects) or the inline form."""
    path = Path(spec).expanduser()
    if spec.endswith(".json") or path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise ValueError(f"{spec}: expected a JSON list of pod objects")
        return [PodSpec.from_dict(d) for d in data]
    return parse_inline_pods(spec)
