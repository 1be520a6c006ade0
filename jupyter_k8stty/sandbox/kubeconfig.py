"""Write the kubeconfig that points ``kubectl`` and client libraries at a sandbox."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

DEFAULT_CONTEXT = "k8stty-sandbox"


def default_kubeconfig_path() -> Path:
    """Return where the CLI puts the kubeconfig when none is given.

    A fixed name lets users keep ``KUBECONFIG`` set across sandbox restarts.
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "jupyter-k8stty" / "sandbox.kubeconfig"


def render_kubeconfig(server: str, ca_pem: bytes, token: str,
                      context: str = DEFAULT_CONTEXT, namespace: str = "default") -> str:
    """Return kubeconfig text with one cluster, user and context, the context current.

    JSON is valid YAML, so no YAML library is needed to write it.
    """
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{
            "name": context,
            "cluster": {
                "server": server,
                "certificate-authority-data": base64.b64encode(ca_pem).decode("ascii"),
            },
        }],
        "users": [{"name": f"{context}-user", "user": {"token": token}}],
        "contexts": [{
            "name": context,
            "context": {"cluster": context, "user": f"{context}-user", "namespace": namespace},
        }],
        "current-context": context,
    }
    return json.dumps(config, indent=2) + "\n"


def write_kubeconfig(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` with mode 0600, creating parent directories.

    The file holds a bearer token, so it is created private from the start
    rather than chmod-ed after the token is already on disk.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path
