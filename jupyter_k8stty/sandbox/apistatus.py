"""``metav1.Status`` bodies that the sandbox returns for HTTP errors, shaped as the real server's."""

from __future__ import annotations

import json
from typing import Any

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    413: "RequestEntityTooLarge",
    500: "InternalError",
}


class HTTPError(Exception):
    """An error the handler answers with HTTP ``code`` and the ``Status`` JSON ``body``."""

    def __init__(self, code: int, body: bytes):
        super().__init__(code)
        self.code = code
        self.body = body


def status_body(code: int, message: str, reason: str | None = None,
                details: dict[str, Any] | None = None) -> bytes:
    """Return the JSON ``Status`` for an error response with HTTP ``code``."""
    status: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or _REASONS.get(code, "Unknown"),
    }
    if details is not None:  # an empty one is kept: clients read details.name
        status["details"] = details
    status["code"] = code
    return json.dumps(status, separators=(",", ":")).encode()


def not_found(kind: str, name: str, group: str = "") -> bytes:
    """Return the ``NotFound`` status for resource ``kind`` (plural, e.g. ``pods``) ``name``.

    ``group`` is the API group (``apps``); the message names ``deployments.apps`` then.
    """
    qualified = f"{kind}.{group}" if group else kind
    details = {"name": name, "group": group, "kind": kind} if group else {"name": name,
                                                                           "kind": kind}
    return status_body(404, f'{qualified} "{name}" not found', "NotFound", details)


def unauthorized() -> bytes:
    """Return the status the API server sends for a request without valid credentials."""
    return status_body(401, "Unauthorized", "Unauthorized")
