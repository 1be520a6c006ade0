"""Cluster configuration: kubeconfig or in-cluster service account to a client ``Configuration``.

The official ``kubernetes`` client does the loading (merged ``KUBECONFIG`` lists,
exec credential plugins, client certificates, in-cluster tokens); this module only
picks the source, caches the result and turns loader failures into
:class:`~jupyter_k8stty.errors.ConfigError` messages that name no secret.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from ..errors import ConfigError

_SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

log = logging.getLogger(__name__)

_renew_lock = threading.Lock()


@dataclass(frozen=True)
class ClusterConfig:
    """A loaded cluster configuration.

    Attributes:
        configuration: the ``kubernetes.client.Configuration`` holding server and credentials.
        namespace: the namespace of the chosen context (or service account), else ``default``.
        context: the context name, or ``"in-cluster"``.
    """

    configuration: k8s_client.Configuration
    namespace: str
    context: str
    #: Runs the credential source again into :attr:`configuration` (see :meth:`renew_credentials`).
    renew: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    @property
    def server(self) -> str:
        """The API server's URL (never secret)."""
        return self.configuration.host

    def credentials_stamp(self) -> str:
        """Return a digest that changes when the credentials do (it reveals nothing of them)."""
        c = self.configuration
        held = (sorted(c.api_key.items()), c.cert_file, c.key_file, c.username, c.password)
        return hashlib.sha256(repr(held).encode()).hexdigest()

    def renew_credentials(self, used: str) -> bool:
        """After a 401, run the credential source again; return whether a retry may succeed.

        ``used`` is :meth:`credentials_stamp` as the refused request carried them. An exec
        plugin runs again even before its ``expirationTimestamp`` (the server may revoke a
        token early; client-go's exec authenticator does the same on a 401); kubeconfig
        files and the service-account token file are read again. ``True`` when the
        credentials now differ from ``used`` (another thread may have renewed them).
        """
        with _renew_lock:
            if self.credentials_stamp() != used:
                return True
            if self.renew is None:
                return False
            try:
                self.renew()
            except Exception as exc:  # the plugin failed: the 401 stands
                log.debug("renewing the credentials of context %s failed: %s", self.context,
                          type(exc).__name__)
                return False
            return self.credentials_stamp() != used


_cache: dict[tuple, ClusterConfig] = {}
_cache_lock = threading.Lock()


def _kubeconfig_files(kubeconfig: str | None) -> list[str]:
    raw = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    return [os.path.expanduser(p) for p in raw.split(os.pathsep) if p]


def _service_account_dir() -> str:
    # Tests point this at a fake service-account folder; real pods use the default.
    return os.environ.get("K8STTY_SERVICE_ACCOUNT_DIR", _SERVICE_ACCOUNT_DIR)


def _stamp(paths: list[str]) -> tuple:
    stamp: list[tuple[str, int | None, int | None]] = []
    for path in paths:
        try:
            stat = os.stat(path)
            stamp.append((path, stat.st_mtime_ns, stat.st_size))
        except OSError:
            stamp.append((path, None, None))
    return tuple(stamp)


def load_cluster_config(*, context: str | None = None, kubeconfig: str | None = None) -> ClusterConfig:
    """Load the configuration for ``context`` from ``kubeconfig`` (or ``KUBECONFIG``).

    When no kubeconfig file exists and the process runs inside a pod (the
    ``KUBERNETES_SERVICE_HOST`` variable is set), the pod's service account is used.
    Results are cached until a kubeconfig file changes.

    Raises:
        ConfigError: no configuration could be loaded; the message says where we looked.
    """
    files = _kubeconfig_files(kubeconfig)
    existing = [p for p in files if os.path.exists(p)]
    key: tuple = (context, tuple(files), _stamp(existing))
    if not existing:  # in-cluster: the environment decides
        key += (os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT"),
                _service_account_dir(), os.environ.get("POD_NAMESPACE"))
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    if existing:
        loaded = _load_kubeconfig(existing, context)
    elif os.environ.get("KUBERNETES_SERVICE_HOST") and kubeconfig is None and context is None:
        loaded = _load_in_cluster()
    else:
        where = ", ".join(files) or "(none)"
        raise ConfigError(
            f"no Kubernetes configuration found: no kubeconfig at {where} and not running in a "
            "pod. Set KUBECONFIG, pass kubeconfig=..., or start the sandbox with "
            "`jupyter-k8stty sandbox`."
        )
    with _cache_lock:
        _cache[key] = loaded
    return loaded


def _load_kubeconfig(files: list[str], context: str | None) -> ClusterConfig:
    joined = os.pathsep.join(files)
    try:
        contexts, active = k8s_config.list_kube_config_contexts(config_file=joined)
    except Exception as exc:  # the loader raises bare Exception/ConfigException/YAML errors
        raise ConfigError(f"cannot read kubeconfig {joined}: {_first_line(exc)}") from None
    chosen = active
    if context is None and len(files) > 1:
        # kubectl: the first file that sets current-context wins (the Python loader
        # lets the last one win).
        first = _first_current_context(files)
        chosen = next((c for c in contexts or () if c.get("name") == first), active)
    if context is not None:
        chosen = next((c for c in contexts or () if c.get("name") == context), None)
        if chosen is None:
            names = ", ".join(sorted(c.get("name", "?") for c in contexts or ())) or "none"
            raise ConfigError(f"context {context!r} not found in {joined} (contexts: {names})")
    if not chosen:
        raise ConfigError(f"kubeconfig {joined} has no current-context; pass context=...")
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config(
            config_file=joined,
            context=chosen["name"],
            client_configuration=configuration,
            persist_config=False,
        )
    except Exception as exc:
        raise ConfigError(
            f"cannot load context {chosen['name']!r} from {joined}: {_first_line(exc)}"
        ) from None
    namespace = (chosen.get("context") or {}).get("namespace") or "default"

    def renew() -> None:
        k8s_config.load_kube_config(config_file=joined, context=chosen["name"],
                                    client_configuration=configuration, persist_config=False)

    return ClusterConfig(configuration, namespace, chosen["name"], renew)


def _first_current_context(files: list[str]) -> str | None:
    import yaml

    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and data.get("current-context"):
            return str(data["current-context"])
    return None


def _load_in_cluster() -> ClusterConfig:
    folder = _service_account_dir()
    configuration = k8s_client.Configuration()
    try:
        loader = k8s_config.incluster_config.InClusterConfigLoader(
            token_filename=os.path.join(folder, "token"),
            cert_filename=os.path.join(folder, "ca.crt"),
        )
        loader.load_and_set(configuration)
    except Exception as exc:
        raise ConfigError(f"cannot load the in-cluster service account: {_first_line(exc)}") from None
    # The projected token rotates (hourly by default); the loader re-reads it only once a
    # minute. Re-read it whenever the file changes instead, so every request and every
    # new session carries the current token, in kernels that live for days.
    token_file = _TokenFile(os.path.join(folder, "token"))
    configuration.refresh_api_key_hook = token_file  # type: ignore[assignment]
    # client-go's order: POD_NAMESPACE, then the service account's namespace file.
    namespace = os.environ.get("POD_NAMESPACE", "").strip()
    if not namespace:
        try:
            with open(os.path.join(folder, "namespace"), encoding="utf-8") as f:
                namespace = f.read().strip() or "default"
        except OSError:
            namespace = "default"
    return ClusterConfig(configuration, namespace, "in-cluster", lambda: token_file.reread(configuration))


class _TokenFile:
    """A ``refresh_api_key_hook`` that puts the token file's current content in the configuration.

    The file is read again when its inode, size or modification time change (a projected
    token is replaced by an atomic symlink swap). A file that cannot be read keeps the
    last good token: the API server then says whether it is still valid.
    """

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._token: str | None = None

    def reread(self, configuration: k8s_client.Configuration) -> None:
        """Read the file now, changed or not, into ``configuration``."""
        with self._lock:
            self._stamp = None
        self(configuration)

    def __call__(self, configuration: k8s_client.Configuration) -> None:
        try:
            stat = os.stat(self.path)
            stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        except OSError:
            stamp = None
        with self._lock:
            if stamp is not None and stamp != self._stamp:
                try:
                    with open(self.path, encoding="utf-8") as f:
                        token = f.read().strip()
                except OSError:
                    token = ""
                if token:
                    self._stamp, self._token = stamp, token
            current = self._token
        if current:
            configuration.api_key["BearerToken"] = f"bearer {current}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
