"""``ExecTarget``: one value for what kubectl's flags say about where to exec.

Pod, workload or selector, namespace, container, context, kubeconfig, impersonation
and the pod-running timeout travel together as one frozen :class:`ExecTarget`.
Every public entry point (``ExecSession``, ``run``, ``run_many``, ``copy_to``,
``copy_from``, ``Terminal``, the magics) takes one, or builds one from the same loose
keyword arguments (:class:`TargetArgs`) with :meth:`ExecTarget.of`, so a new
connection option is one field here, one flag in :mod:`jupyter_k8stty.magics.flags`
and its use where requests are made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypedDict

from kubernetes import client as k8s_client

from ..errors import TargetError
from . import kinds
from .api import DEFAULT_CONNECT_TIMEOUT, Headers, _api_client, api_get
from .client import ClusterConfig, load_cluster_config

if TYPE_CHECKING:
    from .resolve import PodRef, WaitCallback

__all__ = ["DEFAULT_POD_RUNNING_TIMEOUT", "CommonTargetArgs", "ExecTarget", "TargetArgs"]

#: Seconds to wait for a Pending pod, as kubectl's ``--pod-running-timeout``.
DEFAULT_POD_RUNNING_TIMEOUT: float = 60.0


class CommonTargetArgs(TypedDict, total=False):
    """The keyword arguments that say where to exec, besides which pods (shared by a fan-out)."""

    namespace: str | None
    container: str | None
    context: str | None
    kubeconfig: str | None
    impersonate: str | None
    impersonate_groups: list[str] | tuple[str, ...] | None
    pod_running_timeout: float


class TargetArgs(CommonTargetArgs, total=False):
    """The loose keyword arguments every entry point accepts to build an :class:`ExecTarget`."""

    selector: str | None


@dataclass(frozen=True)
class ExecTarget:
    """Where to exec, as kubectl's flags say it.

    Attributes:
        name: ``POD``, ``pod/NAME`` or ``KIND/NAME`` (``deploy/web``, ``sts/db``,
            ``ds/NAME``, ``rs/NAME``, ``job/NAME``, ``svc/NAME``); ``None`` with ``selector``.
        selector: a label selector instead of ``name`` (``app=web,tier!=db``).
        namespace: defaults to the context's namespace, else the in-cluster one, else
            ``default``.
        container: defaults to the ``kubectl.kubernetes.io/default-container``
            annotation, else the pod's first container.
        context: kubeconfig context; defaults to the current one.
        kubeconfig: kubeconfig path(s), ``os.pathsep``-separated; defaults to
            ``KUBECONFIG`` or ``~/.kube/config``.
        impersonate: act as this user (kubectl ``--as``), sent as ``Impersonate-User``.
        impersonate_groups: act as these groups (kubectl ``--as-group``).
        pod_running_timeout: seconds to wait for a Pending pod (kubectl's
            ``--pod-running-timeout``); ``0`` does not wait.

    Raises:
        TargetError: (a ``ValueError``) on construction, for an invalid name, kind,
            namespace, container, selector, user or timeout; no request is made.

    Example:
        >>> target = ExecTarget("deploy/web", namespace="prod", impersonate="jane")
        >>> run(target, ["hostname"]).stdout
    """

    name: str | None = None
    selector: str | None = None
    namespace: str | None = None
    container: str | None = None
    context: str | None = None
    kubeconfig: str | None = None
    impersonate: str | None = None
    impersonate_groups: tuple[str, ...] = ()
    pod_running_timeout: float = DEFAULT_POD_RUNNING_TIMEOUT
    parsed: kinds.Target = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        groups = self.impersonate_groups
        if isinstance(groups, str):
            groups = (groups,)
        object.__setattr__(self, "impersonate_groups", tuple(groups or ()))
        object.__setattr__(self, "parsed", kinds.parse_target(self.name, self.selector))
        if self.namespace is not None:
            kinds.check_namespace(self.namespace)
        if self.container is not None:
            kinds.check_container(self.container)
        for what, value in (("context", self.context), ("kubeconfig", self.kubeconfig)):
            if value is not None and (not isinstance(value, str) or not value or "\x00" in value):
                raise TargetError(f"invalid {what} {value!r}")
        if self.impersonate is not None:
            _check_header_value("user to impersonate", self.impersonate)
        if self.impersonate_groups and self.impersonate is None:
            # kubectl and the API server refuse a group without a user.
            raise TargetError("impersonating a group needs a user to impersonate too (--as)")
        for group in self.impersonate_groups:
            _check_header_value("group to impersonate", group)
        timeout = self.pod_running_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
                or not math.isfinite(timeout) or timeout < 0:
            raise TargetError(
                f"pod_running_timeout must be a finite number of seconds >= 0, got {timeout!r}")

    @classmethod
    def of(cls, target: ExecTarget | str | None = None, **args: Any) -> ExecTarget:
        """Build a target from an :class:`ExecTarget` or a name, plus :class:`TargetArgs`.

        ``None`` values in ``args`` are ignored, so callers can pass their optional
        keywords straight through; with an :class:`ExecTarget`, the others override its
        fields (``ExecTarget.of(t, namespace="x")``).

        Raises:
            TargetError: as the constructor, or an unknown keyword.
        """
        given = {k: v for k, v in args.items() if v is not None}
        unknown = set(given) - set(TargetArgs.__annotations__)
        if unknown:
            raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
        if isinstance(target, ExecTarget):
            return replace(target, **given) if given else target
        if target is not None and not isinstance(target, str):
            raise TargetError(f"a target is a pod name, KIND/NAME or an ExecTarget, not {target!r}")
        return cls(target, **given)

    # -- what it names ---------------------------------------------------------------------

    @property
    def kind(self) -> kinds.Kind:
        """The kind the target names (``Pod`` for a pod name or a selector)."""
        return self.parsed.kind

    @property
    def spans_pods(self) -> bool:
        """Whether the target may stand for several pods (a workload or a selector)."""
        return self.parsed.spans_pods

    @property
    def pod(self) -> str | None:
        """The pod's name when the target names one pod, else ``None``."""
        return self.parsed.name if self.parsed.is_pod else None

    def __str__(self) -> str:
        where = self.selector and f"-l {self.selector}" or str(self.name)
        return f"{self.namespace}/{where}" if self.namespace else where

    def pinned(self, ref: PodRef) -> ExecTarget:
        """Return this target narrowed to the resolved pod and container ``ref``."""
        return replace(self, name=ref.name, selector=None, namespace=ref.namespace,
                       container=ref.container)

    # -- the cluster -------------------------------------------------------------------------

    def cluster(self) -> ClusterConfig:
        """Load the cluster configuration (cached until a kubeconfig file changes).

        Raises:
            ConfigError: no usable configuration.
        """
        return load_cluster_config(context=self.context, kubeconfig=self.kubeconfig)

    def client(self) -> k8s_client.ApiClient:
        """Return the cluster's ``ApiClient``, created once per configuration and reused."""
        return _api_client(self.cluster())

    def namespace_in(self, cluster: ClusterConfig) -> str:
        """Return the namespace to use: the target's own, else the configuration's."""
        return self.namespace or cluster.namespace

    @property
    def headers(self) -> Headers:
        """Headers every request for this target carries (impersonation)."""
        if self.impersonate is None:
            return ()
        return (("Impersonate-User", self.impersonate),
                *(("Impersonate-Group", g) for g in self.impersonate_groups))

    def get(self, cluster: ClusterConfig, path: str, query: list[tuple[str, str]] | None = None,
            *, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> tuple[int, Any]:
        """GET ``path`` as this target's user; see :func:`~jupyter_k8stty.exec.api.api_get`."""
        return api_get(cluster, path, query, headers=self.headers, connect_timeout=connect_timeout)

    def resolve(self, *, all_pods: bool = False, on_wait: WaitCallback | None = None,
                connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
                deadline: float | None = None) -> list[PodRef]:
        """Resolve to pod(s) and container(s) the way ``kubectl exec`` does.

        See :func:`jupyter_k8stty.exec.resolve.resolve_pods`.
        """
        from .resolve import resolve_pods

        return resolve_pods(self, all_pods=all_pods, on_wait=on_wait,
                            connect_timeout=connect_timeout, deadline=deadline)


def _check_header_value(what: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip() or any(c in value for c in "\r\n\x00"):
        raise TargetError(f"invalid {what} {value!r}")
