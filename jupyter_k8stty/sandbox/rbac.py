"""Who may do what in the sandbox: tokens, users, groups, RBAC-shaped rules and impersonation.

The order is the API server's. The bearer token names a user and its groups. Each
``Impersonate-User`` / ``Impersonate-Group`` / ``Impersonate-Uid`` / ``Impersonate-Extra-*``
header is an ``impersonate`` request of its own that this user must be allowed; after
them the request runs as the impersonated user and groups (plus ``system:authenticated``).
Then the request itself is authorized against the rules bound to that user name and to
each of its groups; ``system:masters`` may do everything. Refusals are the API server's
``Status`` bodies, word for word.

A rule is a string ``"VERB RESOURCE [named NAME,...] [in NAMESPACE]"``. RESOURCE is
``plural[/subresource][.group]``: ``pods``, ``pods/exec``, ``deployments.apps``,
``users``, ``groups``, ``serviceaccounts``, ``uids.authentication.k8s.io``; ``*`` matches
any verb or resource. Examples: ``"list pods in team-a"``, ``"impersonate users named jane"``,
``"impersonate groups"``.
"""

from __future__ import annotations

import hmac
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from urllib.parse import unquote

from jupyter_k8stty.sandbox.apistatus import HTTPError, status_body

__all__ = [
    "ADMIN_USER",
    "AUTHENTICATED",
    "MASTERS",
    "Attributes",
    "Policy",
    "Rule",
    "UserInfo",
    "forbidden",
]

#: The user the sandbox's own token belongs to; it is in :data:`MASTERS`.
ADMIN_USER = "k8stty-admin"
#: The group that may do everything, as on a real cluster (no rule can narrow it).
MASTERS = "system:masters"
#: Every authenticated user is in this group.
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
#: The API group of the ``uids`` and ``userextras`` impersonation resources.
AUTHENTICATION_GROUP = "authentication.k8s.io"
_AUTHENTICATION_V1 = f"{AUTHENTICATION_GROUP}/v1"
_SA_PREFIX = "system:serviceaccount:"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_EXTRA_PREFIX = "impersonate-extra-"


@dataclass(frozen=True)
class UserInfo:
    """Who a request runs as: a user name and its groups."""

    name: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attributes:
    """What a request asks, as the API server's authorizer sees it.

    Attributes:
        verb: ``get``, ``list``, ``create``, ``impersonate`` ...
        resource: the plural resource name (``pods``, ``users``).
        subresource: ``exec``, ``log`` ... or ``""``.
        group: the API group, ``""`` for the core group.
        namespace: the namespace, ``None`` at the cluster scope.
        name: the object's name, ``None`` for a collection.
    """

    verb: str
    resource: str
    subresource: str = ""
    group: str = ""
    namespace: str | None = None
    name: str | None = None

    @property
    def rule_resource(self) -> str:
        """The resource as rules spell it: ``plural[/subresource][.group]``."""
        res = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        return f"{res}.{self.group}" if self.group else res


@dataclass(frozen=True)
class Rule:
    """One allow rule, parsed from ``"VERB RESOURCE [named NAME,...] [in NAMESPACE]"``."""

    verb: str
    resource: str
    names: frozenset[str] = frozenset()
    namespace: str | None = None

    @classmethod
    def parse(cls, text: str) -> Rule:
        """Parse a rule string.

        Raises:
            ValueError: the text is not ``VERB RESOURCE [named NAME,...] [in NAMESPACE]``.
        """
        words = text.split()
        namespace = None
        if len(words) >= 4 and words[-2] == "in":
            namespace, words = words[-1], words[:-2]
        names: frozenset[str] = frozenset()
        if len(words) == 4 and words[2] == "named":
            names, words = frozenset(n for n in words[3].split(",") if n), words[:2]
        if len(words) != 2:
            raise ValueError(f"rule {text!r} is not 'VERB RESOURCE [named NAME,...] [in NAMESPACE]'")
        return cls(words[0], words[1], names, namespace)

    def allows(self, verb: str, resource: str, namespace: str | None, name: str | None) -> bool:
        """Whether the rule allows ``verb`` on ``resource`` (rule spelling) in ``namespace``."""
        if self.verb not in ("*", verb) or self.resource not in ("*", resource):
            return False
        if self.names and name not in self.names:
            return False
        # A namespaced rule (a Role) never grants cluster-scoped requests.
        return self.namespace is None or self.namespace == namespace


def forbidden(user: str, attrs: Attributes, reason: str = "") -> HTTPError:
    """Return the API server's 403 for ``user`` asking ``attrs`` (``responsewriters.Forbidden``)."""
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    where = f' in the namespace "{attrs.namespace}"' if attrs.namespace else " at the cluster scope"
    message = (f'User "{user}" cannot {attrs.verb} resource "{resource}" in API group '
               f'"{attrs.group}"{where}')
    if reason:
        message += f": {reason}"
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    subject = f'{qualified} "{attrs.name}"' if attrs.name else qualified
    details = {k: v for k, v in (("name", attrs.name), ("group", attrs.group),
                                 ("kind", attrs.resource)) if v}
    return HTTPError(403, status_body(403, f"{subject} is forbidden: {message}", "Forbidden",
                                      details))


@dataclass(frozen=True)
class _Ref:
    """One thing to impersonate, printed as Go prints a ``v1.ObjectReference`` with ``%v``."""

    kind: str
    name: str
    namespace: str = ""
    api_version: str = ""
    field_path: str = ""

    def __str__(self) -> str:
        # Kind Namespace Name UID APIVersion ResourceVersion FieldPath
        return "{" + " ".join((self.kind, self.namespace, self.name, "", self.api_version, "",
                               self.field_path)) + "}"

    def attributes(self) -> Attributes:
        if self.kind == "ServiceAccount":
            return Attributes("impersonate", "serviceaccounts", namespace=self.namespace,
                              name=self.name)
        if self.kind == "UserExtra":
            return Attributes("impersonate", "userextras", self.field_path,
                              AUTHENTICATION_GROUP, name=self.name)
        if self.kind == "UID":
            return Attributes("impersonate", "uids", group=AUTHENTICATION_GROUP, name=self.name)
        return Attributes("impersonate", "users" if self.kind == "User" else "groups",
                          name=self.name)


def _split_service_account(user: str) -> tuple[str, str] | None:
    if not user.startswith(_SA_PREFIX):
        return None
    parts = user[len(_SA_PREFIX):].split(":")
    if len(parts) != 2 or not _DNS_LABEL.match(parts[0]) or not _DNS_SUBDOMAIN.match(parts[1]):
        return None
    return parts[0], parts[1]


def _impersonation_requests(headers: Message) -> list[_Ref]:
    """Return what the ``Impersonate-*`` headers ask for, in the API server's order.

    Raises:
        HTTPError: groups, a uid or extras without a user (400, as the API server answers).
    """
    refs: list[_Ref] = []
    user = headers.get("Impersonate-User") or ""
    if user:
        account = _split_service_account(user)
        refs.append(_Ref("ServiceAccount", account[1], account[0]) if account else _Ref("User", user))
    groups = headers.get_all("Impersonate-Group") or []
    refs.extend(_Ref("Group", g) for g in groups)
    extras: dict[str, list[str]] = {}
    for header, value in headers.items():
        if header.lower().startswith(_EXTRA_PREFIX):
            extras.setdefault(unquote(header[len(_EXTRA_PREFIX):].lower()), []).append(value)
    refs.extend(_Ref("UserExtra", v, api_version=_AUTHENTICATION_V1, field_path=key)
                for key, values in extras.items() for v in values)
    uid = headers.get("Impersonate-Uid") or ""
    if uid:
        refs.append(_Ref("UID", uid, api_version=_AUTHENTICATION_V1))
    if (groups or extras or uid) and not user:
        listed = "[" + " ".join(str(r) for r in refs) + "]"
        raise HTTPError(400, status_body(
            400, f"requested {listed} without impersonating a user", "BadRequest"))
    return refs


class Policy:
    """The sandbox's tokens, users, group rules and authorization decisions (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, UserInfo] = {}
        self._expiry: dict[str, float] = {}  # token -> time.time() after which it is refused
        self._rules: dict[str, frozenset[Rule]] = {}        # user name -> rules
        self._group_rules: dict[str, frozenset[Rule]] = {}  # group name -> rules

    # ---- users and groups ---------------------------------------------------

    def add_token(self, token: str, name: str, groups: Iterable[str] = (), *,
                  expires: float | None = None) -> None:
        """Accept ``token`` as user ``name`` in ``groups`` (and ``system:authenticated``).

        With ``expires`` (a ``time.time()``), the token is refused from then on (401), as
        an expired service-account or OIDC token is; open streams are not cut.
        """
        info = UserInfo(name, (*dict.fromkeys(groups), AUTHENTICATED))
        with self._lock:
            self._tokens[token] = info
            if expires is not None:
                self._expiry[token] = expires
            self._rules.setdefault(name, frozenset())

    def revoke_token(self, token: str) -> None:
        """Refuse ``token`` from now on (401), whatever expiry it was given.

        As a cluster does for a deleted service account's token or a revoked OIDC
        session: the client's credential still says it is valid.
        """
        with self._lock:
            if token in self._tokens:
                self._expiry[token] = time.time()

    def add_user(self, name: str, allow: Iterable[str] = (), groups: Iterable[str] = ()) -> str:
        """Create a token for user ``name`` in ``groups``, allowed ``allow``; return the token.

        Rules given for the same name again add to its rules, as more role bindings would.

        Raises:
            ValueError: a rule is malformed.
        """
        rules = frozenset(Rule.parse(r) for r in allow)
        token = secrets.token_urlsafe(32)
        self.add_token(token, name, groups)
        with self._lock:
            self._rules[name] = self._rules[name] | rules
        return token

    def add_group(self, name: str, allow: Iterable[str] = ()) -> None:
        """Bind rules to group ``name`` (adding to any it has).

        Raises:
            ValueError: a rule is malformed.
        """
        rules = frozenset(Rule.parse(r) for r in allow)
        with self._lock:
            self._group_rules[name] = self._group_rules.get(name, frozenset()) | rules

    def tokens(self) -> list[tuple[str, str]]:
        """``(token, user)`` pairs accepted."""
        with self._lock:
            return [(token, info.name) for token, info in self._tokens.items()]

    def groups_of(self, name: str) -> tuple[str, ...]:
        """Return the groups user ``name`` has when it authenticates with its own token."""
        with self._lock:
            for info in self._tokens.values():
                if info.name == name:
                    return info.groups
        return (AUTHENTICATED,)

    # ---- decisions ----------------------------------------------------------

    def authenticate(self, authorization: str) -> UserInfo | None:
        """Return who the ``Authorization`` header's bearer token belongs to, or ``None``."""
        scheme, _, credential = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":  # the scheme is case-insensitive (the in-cluster
            return None                 # loader of the Python client sends "bearer")
        given = credential.strip().encode()
        found = None
        now = time.time()
        with self._lock:
            tokens = [(t, i) for t, i in self._tokens.items() if self._expiry.get(t, now + 1) > now]
        for token, info in tokens:  # compare with every token: no early exit to time
            if hmac.compare_digest(given, token.encode()):
                found = info
        return found

    def allows(self, user: UserInfo, verb: str, resource: str, namespace: str | None = None,
               name: str | None = None) -> bool:
        """Whether ``user`` may ``verb`` ``resource`` (rule spelling, e.g. ``pods/exec``)."""
        if MASTERS in user.groups:
            return True
        with self._lock:
            rules = set(self._rules.get(user.name, ()))
            for group in user.groups:
                rules |= self._group_rules.get(group, frozenset())
        return any(r.allows(verb, resource, namespace, name) for r in rules)

    def authorize(self, user: UserInfo, attrs: Attributes) -> None:
        """Return if ``user`` may do ``attrs``.

        Raises:
            HTTPError: 403, worded as RBAC's refusal.
        """
        if not self.allows(user, attrs.verb, attrs.rule_resource, attrs.namespace, attrs.name):
            raise forbidden(user.name, attrs)

    def impersonate(self, requester: UserInfo, headers: Message) -> UserInfo:
        """Apply the ``Impersonate-*`` headers: return who the request runs as.

        Returns ``requester`` when there are none.

        Raises:
            HTTPError: 400 for groups, a uid or extras without a user; 403 when
                ``requester`` may not impersonate one of them.
        """
        refs = _impersonation_requests(headers)
        if not refs:
            return requester
        groups_given = bool(headers.get_all("Impersonate-Group"))
        name, groups = "", []
        for ref in refs:
            self.authorize(requester, ref.attributes())
            if ref.kind == "ServiceAccount":
                name = f"{_SA_PREFIX}{ref.namespace}:{ref.name}"
                if not groups_given:
                    groups = ["system:serviceaccounts", f"system:serviceaccounts:{ref.namespace}"]
            elif ref.kind == "User":
                name = ref.name
            elif ref.kind == "Group":
                groups.append(ref.name)
        if name != ANONYMOUS:
            if AUTHENTICATED not in groups and UNAUTHENTICATED not in groups:
                groups.append(AUTHENTICATED)
        elif UNAUTHENTICATED not in groups:
            groups.append(UNAUTHENTICATED)
        return UserInfo(name, tuple(groups))
