"""Open the exec websocket: URL, credentials, TLS options and the handshake.

We build the request from the official client's ``Configuration`` (server, bearer
token or client certificate, CA, proxy) and let ``websocket-client`` (the library
the ``kubernetes`` package itself uses) do the handshake. We do not go through
``kubernetes.stream.stream()`` because it temporarily swaps ``call_api`` on a shared
``ApiClient`` (unsafe when several sessions start at once) and offers no connect
timeout, so an unreachable cluster would hang for minutes.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from typing import Any
from urllib.parse import quote, urlencode, urlparse, urlunparse

import websocket
from kubernetes.client import Configuration
from kubernetes.stream import ws_client

from ..errors import ApiError
from .api import DEFAULT_CONNECT_TIMEOUT, Headers, refusal
from .client import ClusterConfig
from .protocol import CLIENT_PROTOCOLS

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "exec_url", "open_exec_websocket"]


def exec_url(
    host: str,
    namespace: str,
    pod: str,
    command: list[str],
    *,
    container: str | None,
    tty: bool,
    stdin: bool,
) -> str:
    """Return the ``ws(s)://`` URL of the exec subresource for ``pod``."""
    parsed = urlparse(host)
    scheme = {"https": "wss", "http": "ws"}.get(parsed.scheme, parsed.scheme)
    path = (
        f"{parsed.path.rstrip('/')}/api/v1/namespaces/{quote(namespace, safe='')}"
        f"/pods/{quote(pod, safe='')}/exec"
    )
    query: list[tuple[str, str]] = [("command", arg) for arg in command]
    if container:
        query.append(("container", container))
    query += [
        ("stdin", _flag(stdin)),
        ("stdout", "true"),
        ("stderr", _flag(not tty)),
        ("tty", _flag(tty)),
    ]
    return urlunparse((scheme, parsed.netloc, path, "", urlencode(query), ""))


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _auth_headers(configuration: Configuration) -> list[str]:
    # auth_settings() runs the refresh hook of exec credential plugins, so
    # short-lived tokens are fresh for every new session.
    headers = []
    settings: Any = configuration.auth_settings()
    for setting in settings.values():
        if setting.get("in") == "header" and setting.get("value"):
            headers.append(f"{setting['key']}: {setting['value']}")
    return headers


def _ssl_options(configuration: Configuration, url: str) -> dict:
    # Mirrors kubernetes.stream.ws_client.create_websocket so TLS behaves exactly
    # as in the official client: verification stays on unless the kubeconfig
    # itself says insecure-skip-tls-verify.
    if url.startswith("wss://") and configuration.verify_ssl:
        opts: dict = {"cert_reqs": ssl.CERT_REQUIRED}
        if configuration.ssl_ca_cert:
            opts["ca_certs"] = configuration.ssl_ca_cert
        else:
            import certifi

            opts["ca_certs"] = certifi.where()
        if configuration.assert_hostname is not None:
            opts["check_hostname"] = configuration.assert_hostname
    else:
        opts = {"cert_reqs": ssl.CERT_NONE, "check_hostname": False}
    if configuration.cert_file:
        opts["certfile"] = configuration.cert_file
    if configuration.key_file:
        opts["keyfile"] = configuration.key_file
    if configuration.tls_server_name:
        opts["server_hostname"] = configuration.tls_server_name
    return opts


def open_exec_websocket(
    cluster: ClusterConfig,
    namespace: str,
    pod: str,
    command: list[str],
    *,
    container: str | None = None,
    tty: bool = True,
    stdin: bool = True,
    headers: Headers = (),
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    deadline: float | None = None,
) -> websocket.WebSocket:
    """Perform the exec handshake and return the open websocket.

    The socket is left in blocking mode (no timeout): the session's reader thread
    blocks on it. ``ws.subprotocol`` names the negotiated protocol (v5 or v4).
    ``headers`` (impersonation) are sent with the upgrade request. Each step (TCP,
    TLS, the upgrade answer) waits at most ``connect_timeout`` seconds, and no longer
    than ``deadline`` (a ``time.monotonic()`` time) allows.

    Raises:
        ApiError: the server refused (``status`` is the HTTP code, the message is the
            server's own) or could not be reached (``status`` is ``None``).
    """
    configuration = cluster.configuration
    url = exec_url(
        configuration.host, namespace, pod, command, container=container, tty=tty, stdin=stdin
    )
    timeout = connect_timeout
    if deadline is not None:
        timeout = min(timeout, deadline - time.monotonic())
        if timeout <= 0:
            raise ApiError(f"timed out before connecting to pod {namespace}/{pod}", status=None)
    ws = websocket.WebSocket(
        sslopt=_ssl_options(configuration, url),
        skip_utf8_validation=True,  # frames are binary; never validate text on the hot path
        enable_multithread=True,  # serialises sends: stdin, resize, pings and pongs share it
    )
    options: dict = {
        "header": _auth_headers(configuration) + [f"{name}: {value}" for name, value in headers],
        "subprotocols": list(CLIENT_PROTOCOLS),
        "timeout": timeout,
    }
    if configuration.proxy or getattr(configuration, "proxy_headers", None):
        options = ws_client.websocket_proxycare(options, configuration, url, None)
    where = f"pod {namespace}/{pod}"
    try:
        ws.connect(url, **options)
    except websocket.WebSocketBadStatusException as exc:
        raise _refusal(exc, cluster, where) from None
    except ssl.SSLCertVerificationError as exc:
        raise ApiError(
            f"TLS verification of the API server {configuration.host} failed: "
            f"{exc.verify_message or exc}",
            status=None,
        ) from None
    except (OSError, websocket.WebSocketException) as exc:
        timed_out = isinstance(exc, (socket.timeout, websocket.WebSocketTimeoutException))
        reason = "timed out" if timed_out else str(exc) or type(exc).__name__
        raise ApiError(
            f"cannot reach the Kubernetes API server at {configuration.host}: {reason}",
            status=None,
        ) from None
    ws.settimeout(None)
    return ws


def _refusal(exc: websocket.WebSocketBadStatusException, cluster: ClusterConfig, where: str) -> ApiError:
    body = getattr(exc, "resp_body", None) or b""
    try:
        parsed = json.loads(body)
    except (ValueError, TypeError):
        text = body.decode("utf-8", "replace").strip() if isinstance(body, bytes) else str(body)
        parsed = {"message": text.splitlines()[0][:300]} if text else None
    return refusal(exc.status_code, parsed, server=cluster.server, context=cluster.context,
                   action=f"create pods/exec for {where}")
