"""Open the exec (or attach) websocket: URL, credentials, TLS options and the handshake.

``pods/NAME/exec`` runs a new process; ``pods/NAME/attach`` joins the container's
main process (``kubectl attach``). Both speak the same channel protocol.

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
from urllib.parse import quote, unquote, urlencode, urlparse, urlunparse

import websocket
from kubernetes.client import Configuration
from websocket import _url as ws_url

from ..errors import ApiError
from .api import DEFAULT_CONNECT_TIMEOUT, Headers, check_proxy, refusal
from .client import ClusterConfig
from .protocol import CLIENT_PROTOCOLS

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "attach_url", "exec_url", "open_exec_websocket"]


def _pod_url(host: str, namespace: str, pod: str, subresource: str,
             query: list[tuple[str, str]]) -> str:
    parsed = urlparse(host)
    scheme = {"https": "wss", "http": "ws"}.get(parsed.scheme, parsed.scheme)
    path = (
        f"{parsed.path.rstrip('/')}/api/v1/namespaces/{quote(namespace, safe='')}"
        f"/pods/{quote(pod, safe='')}/{subresource}"
    )
    return urlunparse((scheme, parsed.netloc, path, "", urlencode(query), ""))


def attach_url(host: str, namespace: str, pod: str, *, container: str | None, tty: bool,
               stdin: bool) -> str:
    """Return the ``ws(s)://`` URL of the attach subresource for ``pod``.

    The query is ``kubectl attach``'s (``PodAttachOptions``): ``container``, then only
    the flags that are true (stderr is merged into the TTY when there is one).
    """
    query: list[tuple[str, str]] = [("container", container)] if container else []
    flags = (("stdin", stdin), ("stdout", True), ("stderr", not tty), ("tty", tty))
    query += [(name, "true") for name, value in flags if value]
    return _pod_url(host, namespace, pod, "attach", query)


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
    query: list[tuple[str, str]] = [("command", arg) for arg in command]
    if container:
        query.append(("container", container))
    query += [
        ("stdin", _flag(stdin)),
        ("stdout", "true"),
        ("stderr", _flag(not tty)),
        ("tty", _flag(tty)),
    ]
    return _pod_url(host, namespace, pod, "exec", query)


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


#: Proxy schemes websocket-client can tunnel through (SOCKS needs the python-socks package).
_PROXY_TYPES = {"http": "http", "https": "http", "socks4": "socks4", "socks4a": "socks4a",
                "socks5": "socks5", "socks5h": "socks5h"}


def _proxy_options(configuration: Configuration) -> dict[str, Any]:
    """websocket-client options for the proxy the REST client uses for this host.

    The configuration's proxy is kubeconfig's ``proxy-url``, else ``HTTPS_PROXY`` /
    ``HTTP_PROXY`` from the environment (the ``kubernetes`` client reads them), with
    ``NO_PROXY`` exceptions, as kubectl does. No proxy: websocket-client is told so
    explicitly, since it would otherwise read the environment on its own.

    Raises:
        ApiError: an unsupported proxy scheme, or SOCKS without python-socks.
    """
    proxy = configuration.proxy
    no_proxy = [h.strip() for h in (configuration.no_proxy or "").split(",") if h.strip()]
    if not proxy or _bypasses(configuration.host, no_proxy):
        return {"http_proxy_host": None, "http_no_proxy": ["*"]}
    parsed = urlparse(proxy)
    proxy_type = _PROXY_TYPES.get(parsed.scheme)
    if proxy_type is None or not parsed.hostname:
        raise ApiError(f"unsupported proxy {_safe_url(proxy)}: use http://, https://, socks4:// or "
                       "socks5:// (kubeconfig proxy-url or HTTPS_PROXY)", status=None)
    check_proxy(configuration)
    options: dict[str, Any] = {
        "http_proxy_host": parsed.hostname,
        "http_proxy_port": parsed.port or (1080 if proxy_type.startswith("socks") else 80),
        "proxy_type": proxy_type,
    }
    if parsed.username:
        options["http_proxy_auth"] = (unquote(parsed.username), unquote(parsed.password or ""))
    return options


def _bypasses(host: str, no_proxy: list[str]) -> bool:
    return ws_url._is_no_proxy_host(urlparse(host).hostname or "", no_proxy) if no_proxy else False


def _safe_url(url: str) -> str:
    """``url`` without its password (proxy URLs may carry credentials)."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    netloc = f"{parsed.username}:***@{parsed.hostname}" + (f":{parsed.port}" if parsed.port else "")
    return urlunparse(parsed._replace(netloc=netloc))


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
    command: list[str] | None,
    *,
    container: str | None = None,
    tty: bool = True,
    stdin: bool = True,
    headers: Headers = (),
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    deadline: float | None = None,
) -> websocket.WebSocket:
    """Perform the exec handshake (attach when ``command`` is ``None``); return the websocket.

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
    if command is None:
        url = attach_url(configuration.host, namespace, pod, container=container, tty=tty,
                         stdin=stdin)
    else:
        url = exec_url(configuration.host, namespace, pod, command, container=container,
                       tty=tty, stdin=stdin)
    where = f"pod {namespace}/{pod}"
    subresource = "exec" if command is not None else "attach"
    try:
        return _handshake(cluster, url, where, headers, connect_timeout, deadline)
    except _Refused as refused:
        if refused.status_code != 401 or not cluster.renew_credentials(refused.used):
            raise _refusal(refused.exc, cluster, where, subresource) from None
    # Revoked before its expiry: the credential source ran again and gave new credentials.
    try:
        return _handshake(cluster, url, where, headers, connect_timeout, deadline)
    except _Refused as refused:
        raise _refusal(refused.exc, cluster, where, subresource) from None


class _Refused(Exception):
    """The server answered the upgrade with an HTTP error, to these credentials."""

    def __init__(self, exc: websocket.WebSocketBadStatusException, used: str):
        super().__init__(exc.status_code)
        self.exc, self.used, self.status_code = exc, used, exc.status_code


def _handshake(cluster: ClusterConfig, url: str, where: str, headers: Headers,
               connect_timeout: float, deadline: float | None) -> websocket.WebSocket:
    """Connect once; raise :class:`_Refused` on an HTTP refusal, :class:`ApiError` else."""
    configuration = cluster.configuration
    timeout = connect_timeout
    if deadline is not None:
        timeout = min(timeout, deadline - time.monotonic())
        if timeout <= 0:
            raise ApiError(f"timed out before connecting to {where}", status=None)
    ws = websocket.WebSocket(
        sslopt=_ssl_options(configuration, url),
        skip_utf8_validation=True,  # frames are binary; never validate text on the hot path
        enable_multithread=True,  # serialises sends: stdin, resize, pings and pongs share it
    )
    auth = _auth_headers(configuration)
    used = cluster.credentials_stamp()  # after _auth_headers ran the refresh hook
    options: dict = {
        "header": auth + [f"{name}: {value}" for name, value in headers],
        "subprotocols": list(CLIENT_PROTOCOLS),
        "timeout": timeout,
    }
    options.update(_proxy_options(configuration))
    try:
        ws.connect(url, **options)
    except websocket.WebSocketBadStatusException as exc:
        raise _Refused(exc, used) from None
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


def _refusal(exc: websocket.WebSocketBadStatusException, cluster: ClusterConfig, where: str,
             subresource: str) -> ApiError:
    body = getattr(exc, "resp_body", None) or b""
    try:
        parsed = json.loads(body)
    except (ValueError, TypeError):
        text = body.decode("utf-8", "replace").strip() if isinstance(body, bytes) else str(body)
        parsed = {"message": text.splitlines()[0][:300]} if text else None
    return refusal(exc.status_code, parsed, server=cluster.server, context=cluster.context,
                   action=f"create pods/{subresource} for {where}")
