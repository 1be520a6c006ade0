"""Short-lived, rotating credentials, the way real clusters hand them out.

A :class:`TokenRotator` issues a new bearer token for one user on each
:meth:`~TokenRotator.rotate` (or every ``period`` seconds in the background), each
accepted for ``lifetime`` seconds only, and publishes the current one as:

* a projected service-account token file (replaced atomically, as the kubelet does),
  for in-cluster clients;
* an ``ExecCredential`` for a kubeconfig ``exec`` plugin: ``python -m
  jupyter_k8stty.sandbox.credentials FILE`` prints the current token with its
  ``expirationTimestamp`` (see :meth:`TokenRotator.write_plugin_kubeconfig`).
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_k8stty.sandbox import kubeconfig

if TYPE_CHECKING:
    from jupyter_k8stty.sandbox.server import Sandbox

__all__ = ["TokenRotator"]

_EXEC_API = "client.authentication.k8s.io/v1beta1"


class TokenRotator:
    """Rotating tokens for user ``name`` of a sandbox.

    Args:
        sandbox: the running sandbox that accepts the tokens.
        name: the user the tokens authenticate as.
        groups: its groups (``system:masters`` for an admin).
        lifetime: seconds each token is accepted.
        folder: where the token file (``token``) and the credential file
            (``credential.json``) are written.
    """

    def __init__(self, sandbox: Sandbox, name: str, *, groups: tuple[str, ...] = (),
                 lifetime: float = 60.0, folder: str | os.PathLike[str]):
        self.sandbox = sandbox
        self.name = name
        self.groups = groups
        self.lifetime = lifetime
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.token_path = self.folder / "token"
        self.credential_path = self.folder / "credential.json"
        #: Tokens issued so far, oldest first.
        self.issued: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rotate()

    @property
    def token(self) -> str:
        """The current token."""
        return self.issued[-1]

    def rotate(self) -> str:
        """Issue a new token valid for ``lifetime`` seconds and publish it; return it."""
        token = secrets.token_urlsafe(32)
        expires = time.time() + self.lifetime
        self.sandbox.policy.add_token(token, self.name, self.groups, expires=expires)
        self.issued.append(token)
        _replace(self.token_path, token)
        stamp = datetime.datetime.fromtimestamp(expires, datetime.timezone.utc)
        _replace(self.credential_path, json.dumps({
            "token": token, "expirationTimestamp": stamp.strftime("%Y-%m-%dT%H:%M:%SZ")}))
        return token

    def revoke(self) -> str:
        """Refuse the current token before its expiry and publish a new one; return the new one."""
        self.sandbox.policy.revoke_token(self.token)
        return self.rotate()

    def start(self, period: float) -> TokenRotator:
        """Rotate every ``period`` seconds on a daemon thread until :meth:`stop`; returns ``self``."""
        def loop() -> None:
            while not self._stop.wait(period):
                self.rotate()

        self._thread = threading.Thread(target=loop, name=f"sandbox-rotate-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop background rotation."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def write_plugin_kubeconfig(self, path: str | os.PathLike[str]) -> str:
        """Write a kubeconfig whose user runs this module as an ``exec`` credential plugin."""
        data = json.loads(kubeconfig.render_kubeconfig(self.sandbox.url, self.sandbox.ca_pem, "unused",
                                                       self.sandbox.context_name))
        data["users"][0]["user"] = {"exec": {
            "apiVersion": _EXEC_API,
            "command": sys.executable,
            "args": ["-m", "jupyter_k8stty.sandbox.credentials", str(self.credential_path)],
            "interactiveMode": "Never",
        }}
        return str(kubeconfig.write_kubeconfig(path, json.dumps(data, indent=2) + "\n"))


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (readers see the old or the new content)."""
    fresh = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(fresh, path)


def _plugin_main(argv: list[str]) -> int:
    """Print the ``ExecCredential`` for the credential file ``argv[0]``."""
    with open(argv[0], encoding="utf-8") as f:
        credential = json.load(f)
    print(json.dumps({"apiVersion": _EXEC_API, "kind": "ExecCredential", "status": credential}))
    return 0


if __name__ == "__main__":
    sys.exit(_plugin_main(sys.argv[1:]))
