"""Talking to the API server: one cached client per configuration, requests, and error texts.

Lookups are plain GETs, and the few writes (the ephemeral-container patch, a node
debug pod's create and delete) go through :func:`api_request`: one ``ApiClient`` per
loaded cluster configuration, the target's headers, a connect timeout so an
unreachable cluster fails fast, and a read timeout.
:func:`refusal` is the one place an HTTP refusal (401, 403, 404 ...) becomes the
message a user reads, for lookups and for the exec upgrade alike.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from urllib3 import HTTPHeaderDict

from ..errors import ApiError
from .client import ClusterConfig

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "JSON",
    "READ_TIMEOUT",
    "STRATEGIC_MERGE_PATCH",
    "api_get",
    "api_request",
    "refusal",
    "release_connections",
]

#: Seconds to wait for TCP connect, TLS and the upgrade answer.
DEFAULT_CONNECT_TIMEOUT: float = 10.0
#: Seconds to wait for an answer once connected (GETs are small).
READ_TIMEOUT: float = 30.0

#: Extra request headers, as ``(name, value)`` pairs; a name may repeat.
Headers = Sequence[tuple[str, str]]

#: Content types of request bodies.
JSON: str = "application/json"
STRATEGIC_MERGE_PATCH: str = "application/strategic-merge-patch+json"

_METHODS = frozenset({"GET", "POST", "PATCH", "DELETE"})

_clients: dict[int, tuple[ClusterConfig, k8s_client.ApiClient]] = {}
_clients_lock = threading.Lock()


#: SOCKS proxy schemes, and the packages that tunnel through them (urllib3 for lookups,
#: websocket-client for exec).
SOCKS_SCHEMES = ("socks4", "socks4a", "socks5", "socks5h")
_SOCKS_PACKAGES = {"socks": "pysocks", "python_socks": "python-socks"}


def check_proxy(configuration: k8s_client.Configuration) -> None:
    """Raise a clear :class:`ApiError` when the proxy cannot be used for both lookups and exec.

    A SOCKS proxy (kubeconfig ``proxy-url`` or ``HTTPS_PROXY`` ``socks5://...``) needs
    PySocks (urllib3, for lookups) and python-socks (websocket-client, for exec).
    """
    proxy = configuration.proxy or ""
    scheme = proxy.split("://", 1)[0].lower()
    if scheme not in SOCKS_SCHEMES:
        return
    missing = []
    for module, package in _SOCKS_PACKAGES.items():
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    if missing:
        host = proxy.split("@")[-1]
        raise ApiError(f"the proxy {scheme}://{host} is a SOCKS proxy, which needs "
                       f"{' and '.join(missing)}: pip install {' '.join(missing)}", status=None)


def _api_client(cluster: ClusterConfig) -> k8s_client.ApiClient:
    """One ``ApiClient`` per loaded configuration: its connection pool is reused."""
    check_proxy(cluster.configuration)
    key = id(cluster)
    with _clients_lock:
        entry = _clients.get(key)
        if entry is not None and entry[0] is cluster:
            return entry[1]
        configuration = copy.copy(cluster.configuration)
        # Fail fast on an unreachable server: no silent connect retries.
        configuration.retries = urllib3.Retry(total=2, connect=0, read=0, redirect=2, status=0)
        # Credentials come from the cluster's configuration, whose source may be run again
        # (ClusterConfig.renew_credentials): never from what this copy held when made.
        configuration.refresh_api_key_hook = _follow_credentials(cluster.configuration)  # type: ignore[assignment]
        api = k8s_client.ApiClient(configuration)
        _clients[key] = (cluster, api)
        return api


def _follow_credentials(original: k8s_client.Configuration) -> Callable[[k8s_client.Configuration], None]:
    def refresh(configuration: k8s_client.Configuration) -> None:
        hook = original.refresh_api_key_hook
        if hook is not None:
            hook(original)
        configuration.api_key = original.api_key

    return refresh


def release_connections(cluster: ClusterConfig) -> None:
    """Close the idle keep-alive connections to the cluster.

    A resolution reuses one connection for its few GETs, then lets it go, so no socket
    outlives the work (a closed terminal leaves nothing open). Connections in use by
    another thread are closed when that request finishes.
    """
    with _clients_lock:
        entry = _clients.get(id(cluster))
    if entry is not None and entry[0] is cluster:
        try:
            entry[1].rest_client.pool_manager.clear()
        except Exception:  # closing is best effort
            pass


def api_get(
    cluster: ClusterConfig,
    path: str,
    query: list[tuple[str, str]] | None = None,
    *,
    headers: Headers = (),
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
) -> tuple[int, Any]:
    """GET ``path`` on the cluster; return ``(status, parsed JSON or None)``.

    The arguments are :func:`api_request`'s.

    Raises:
        ApiError: the server could not be reached (``status`` ``None``).
    """
    return api_request(cluster, "GET", path, query, headers=headers,
                       connect_timeout=connect_timeout, read_timeout=read_timeout)


def api_request(
    cluster: ClusterConfig,
    method: str,
    path: str,
    query: list[tuple[str, str]] | None = None,
    *,
    body: Any = None,
    content_type: str = JSON,
    headers: Headers = (),
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
) -> tuple[int, Any]:
    """Send ``method`` to ``path`` on the cluster; return ``(status, parsed JSON or None)``.

    Args:
        cluster: the loaded configuration (server and credentials).
        method: ``GET``, ``POST``, ``PATCH`` or ``DELETE``.
        path: the API path, e.g. ``/api/v1/namespaces/default/pods/web/ephemeralcontainers``.
        query: query parameters.
        body: a JSON-serialisable body (sent compact, as kubectl's JSON is), or ``None``.
        content_type: the body's type: :data:`JSON`, or :data:`STRATEGIC_MERGE_PATCH`
            for a ``PATCH`` as ``kubectl debug`` sends it.
        headers: extra headers such as ``Impersonate-User``; a name may repeat.
        connect_timeout: seconds for TCP and TLS.
        read_timeout: seconds for the answer once connected.

    Returns:
        The HTTP status and the parsed JSON answer (``None`` when it is not JSON): a
        refusal is an answer too; turn it into an error with :func:`refusal`.

    Raises:
        ApiError: the server could not be reached (``status`` ``None``).
    """
    if method not in _METHODS:
        raise ValueError(f"unsupported method {method!r}")
    args = (cluster, method, path, query, body, content_type, headers, connect_timeout, read_timeout)
    status, parsed, used = _send(*args)
    if status == 401 and cluster.renew_credentials(used):  # revoked early: the new ones may do
        status, parsed, _ = _send(*args)
    return status, parsed


def _send(cluster: ClusterConfig, method: str, path: str, query: list[tuple[str, str]] | None,
          body: Any, content_type: str, headers: Headers, connect_timeout: float,
          read_timeout: float) -> tuple[int, Any, str]:
    """Send one request; return the status, the parsed answer and the credentials' stamp."""
    api = _api_client(cluster)
    try:
        method, url, header_params, _, _ = api.param_serialize(
            method=method,
            resource_path=path,
            query_params=list(query or []),
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        used = cluster.credentials_stamp()  # after auth_settings() ran the refresh hook
        # param_serialize turns headers into a plain dict; Impersonate-Group may repeat.
        all_headers = HTTPHeaderDict(header_params)
        for name, value in headers:
            all_headers.add(name, value)
        response: Any
        if body is None:
            response = api.call_api(method, url, all_headers, None, None,
                                    _request_timeout=(connect_timeout, read_timeout))
            response.read()
        else:
            all_headers["Content-Type"] = content_type
            data = json.dumps(body, separators=(",", ":")).encode("utf-8")
            # The pool itself: the REST client would serialise the body again, with spaces.
            response = api.rest_client.pool_manager.request(
                method, url, body=data, headers=all_headers, preload_content=True,
                timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout))
    except Exception as exc:  # urllib3/ssl/socket errors, or ApiException(status=0)
        raise ApiError(
            f"cannot reach the Kubernetes API server at {cluster.server} "
            f"(context {cluster.context}): {_reason(exc)}",
            status=None,
        ) from None
    try:
        parsed = json.loads(response.data) if response.data else None
    except ValueError:
        parsed = None
    return response.status, parsed, used


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    text = str(reason if reason else exc).strip()
    if "timed out" in text.lower() or "timeout" in type(exc).__name__.lower():
        return "timed out"
    text = re.sub(r"<urllib3\.[^>]*>:?\s*", "", text)
    return (text.splitlines() or [type(exc).__name__])[0][:300]


def status_fields(body: Any) -> tuple[str | None, str | None]:
    """``(message, reason)`` of a ``metav1.Status`` body (``None`` for what is missing)."""
    if isinstance(body, dict):
        message, reason = body.get("message"), body.get("reason")
        return (message if isinstance(message, str) else None,
                reason if isinstance(reason, str) else None)
    return None, None


def refusal(status: int, body: Any, *, server: str, context: str | None, action: str) -> ApiError:
    """Return the error for an HTTP refusal of ``action`` (``get deployments.apps in namespace x``).

    401 names the server and context (never the credential); 403 says what was not
    allowed, then the server's own words (which name the user and the missing
    permission); anything else is the server's message, else the action and the code.
    """
    message, reason = status_fields(body)
    in_context = f" (context {context})" if context else ""
    if status == 401:
        who = f" of context {context}" if context else ""
        return ApiError(
            f"the API server {server} rejected the credentials{who} (401 Unauthorized): the "
            "token or certificate is invalid or expired",
            status=401, reason=reason or "Unauthorized",
        )
    if status == 403:
        text = f"forbidden: you cannot {action}{in_context}"
        if message:
            text += f": {message}"
        return ApiError(text, status=403, reason=reason or "Forbidden")
    return ApiError(message or f"{action} failed (HTTP {status})", status=status, reason=reason)
