"""The sandbox honours Impersonate-* headers as the API server does, with real kubectl too."""

from __future__ import annotations

import http.client
import json

import pytest
import websocket

from jupyter_k8stty.sandbox import Sandbox
from jupyter_k8stty.sandbox.testing import client_context, collect, open_exec
from tests.test_kubectl_conformance import kubectl


@pytest.fixture
def sb(fresh_sandbox: Sandbox) -> Sandbox:
    """A sandbox where jane may get pods and the group devs may list pods and exec."""
    fresh_sandbox.add_user("jane", allow=["get pods"])
    fresh_sandbox.add_group("devs", allow=["list pods", "create pods/exec"])
    return fresh_sandbox


def get(sb: Sandbox, path: str, token: str, headers: list[tuple[str, str]]) -> tuple[int, dict]:
    conn = http.client.HTTPSConnection(sb.host, sb.port, context=client_context(sb), timeout=10)
    try:
        conn.putrequest("GET", path)
        conn.putheader("Authorization", f"Bearer {token}")
        for name, value in headers:  # repeated names stay separate lines, as kubectl sends them
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def forbidden(message: str, details: dict) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": "Forbidden", "details": details, "code": 403}


def test_kubectl_as_user_and_group_gets_their_rules(sb: Sandbox) -> None:
    result = kubectl(sb.kubeconfig_path, "--as", "jane", "--as-group", "devs", "get", "pods",
                     "-o", "name")
    assert result.returncode == 0, result.stderr
    assert "pod/demo" in result.stdout.split()
    assert kubectl(sb.kubeconfig_path, "--as", "jane", "get", "pod", "demo", "-o",
                   "name").stdout.strip() == "pod/demo"
    result = kubectl(sb.kubeconfig_path, "--as", "jane", "get", "pods")
    assert result.returncode != 0
    assert ('pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the '
            'namespace "default"') in result.stderr


def test_kubectl_exec_as_user_and_group(sb: Sandbox) -> None:
    result = kubectl(sb.kubeconfig_path, "--as", "jane", "--as-group", "devs", "exec", "demo",
                     "--", "sh", "-c", "echo $KUBERNETES_POD_NAME")
    assert (result.returncode, result.stdout) == (0, "demo\n"), result.stderr
    result = kubectl(sb.kubeconfig_path, "--as", "jane", "exec", "demo", "--", "true")
    assert result.returncode != 0
    assert ('pods "demo" is forbidden: User "jane" cannot create resource "pods/exec" in API '
            'group "" in the namespace "default"') in result.stderr


def test_unknown_user_and_masters_group(sb: Sandbox) -> None:
    result = kubectl(sb.kubeconfig_path, "--as", "bob", "get", "pods")
    assert result.returncode != 0
    assert 'pods is forbidden: User "bob" cannot list resource "pods"' in result.stderr
    result = kubectl(sb.kubeconfig_path, "--as", "bob", "--as-group", "system:masters", "exec",
                     "demo", "--", "echo", "root")
    assert (result.returncode, result.stdout) == (0, "root\n"), result.stderr


def test_restricted_user_may_not_impersonate(sb: Sandbox, tmp_path) -> None:
    token = sb.add_user("dev", allow=["* pods"])
    path = sb.write_kubeconfig(tmp_path / "dev", token=token)
    # Discovery is refused too, and kubectl reports a refused discovery as "Forbidden:
    # unknown", as against a real API server: let the admin fill kubectl's discovery cache.
    assert kubectl(sb.kubeconfig_path, "get", "pods").returncode == 0
    result = kubectl(path, "--as", "jane", "--as-group", "devs", "get", "pods")
    assert result.returncode != 0
    assert ('Error from server (Forbidden): users "jane" is forbidden: User "dev" cannot '
            'impersonate resource "users" in API group "" at the cluster scope') in result.stderr
    result = kubectl(path, "--as", "jane", "exec", "demo", "--", "true")
    assert result.returncode != 0
    assert 'users "jane" is forbidden: User "dev" cannot impersonate' in result.stderr


def test_impersonation_rules_name_who_may_be_impersonated(sb: Sandbox, tmp_path) -> None:
    token = sb.add_user("lead", allow=["impersonate users named jane"])
    path = sb.write_kubeconfig(tmp_path / "lead", token=token)
    assert kubectl(sb.kubeconfig_path, "get", "pods").returncode == 0  # discovery cache
    assert kubectl(path, "--as", "jane", "get", "pod", "demo").returncode == 0
    result = kubectl(path, "--as", "bob", "get", "pod", "demo")
    assert 'users "bob" is forbidden: User "lead" cannot impersonate resource "users"' in \
        result.stderr
    result = kubectl(path, "--as", "jane", "--as-group", "devs", "get", "pods")
    assert ('groups "devs" is forbidden: User "lead" cannot impersonate resource "groups" in '
            'API group "" at the cluster scope') in result.stderr
    sb.add_group("leads", allow=["impersonate groups"])
    token = sb.add_user("lead2", allow=["impersonate users"], groups=["leads"])
    path = sb.write_kubeconfig(tmp_path / "lead2", token=token)
    result = kubectl(path, "--as", "jane", "--as-group", "devs", "get", "pods", "-o", "name")
    assert result.returncode == 0, result.stderr


def test_forbidden_impersonation_is_a_status(sb: Sandbox) -> None:
    dev = sb.add_user("dev", allow=["* pods", "* deployments.apps"])
    code, body = get(sb, "/api/v1/namespaces/default/pods", dev, [("Impersonate-User", "jane")])
    assert (code, body) == (403, forbidden(
        'users "jane" is forbidden: User "dev" cannot impersonate resource "users" in API '
        'group "" at the cluster scope', {"name": "jane", "kind": "users"}))
    sb.add_group("impersonators", allow=["impersonate users"])
    dev = sb.add_user("dev2", groups=["impersonators"])
    code, body = get(sb, "/api", dev, [("Impersonate-User", "jane"),
                                       ("Impersonate-Group", "devs")])
    assert (code, body) == (403, forbidden(
        'groups "devs" is forbidden: User "dev2" cannot impersonate resource "groups" in API '
        'group "" at the cluster scope', {"name": "devs", "kind": "groups"}))
    code, body = get(sb, "/api/v1/pods", dev, [("Impersonate-User",
                                                "system:serviceaccount:team-a:builder")])
    assert (code, body) == (403, forbidden(
        'serviceaccounts "builder" is forbidden: User "dev2" cannot impersonate resource '
        '"serviceaccounts" in API group "" in the namespace "team-a"',
        {"name": "builder", "kind": "serviceaccounts"}))
    code, body = get(sb, "/api/v1/pods", dev, [("Impersonate-User", "jane"),
                                               ("Impersonate-Uid", "1234")])
    assert (code, body) == (403, forbidden(
        'uids.authentication.k8s.io "1234" is forbidden: User "dev2" cannot impersonate '
        'resource "uids" in API group "authentication.k8s.io" at the cluster scope',
        {"name": "1234", "group": "authentication.k8s.io", "kind": "uids"}))
    code, body = get(sb, "/api/v1/pods", dev, [("Impersonate-User", "jane"),
                                               ("Impersonate-Extra-Scopes", "view")])
    assert (code, body["message"]) == (403, (
        'userextras.authentication.k8s.io "view" is forbidden: User "dev2" cannot impersonate '
        'resource "userextras/scopes" in API group "authentication.k8s.io" at the cluster scope'))


def test_groups_without_a_user_are_a_bad_request(sb: Sandbox) -> None:
    code, body = get(sb, "/api/v1/namespaces/default/pods", sb.token,
                     [("Impersonate-Group", "devs"), ("Impersonate-Group", "ops")])
    assert code == 400
    assert (body["reason"], body["message"]) == (
        "BadRequest", "requested [{Group  devs    } {Group  ops    }] without impersonating a user")


def test_impersonated_request_runs_as_that_user(sb: Sandbox) -> None:
    code, body = get(sb, "/api/v1/namespaces/default/pods", sb.token,
                     [("Impersonate-User", "jane"), ("Impersonate-Group", "devs")])
    assert code == 200 and body["kind"] == "PodList"
    code, body = get(sb, "/api/v1/namespaces/default/pods", sb.token,
                     [("Impersonate-User", "jane")])
    assert code == 403 and 'User "jane" cannot list' in body["message"]
    # Impersonating the admin by name gives none of its power: that comes from its group.
    code, body = get(sb, "/api/v1/namespaces/default/pods", sb.token,
                     [("Impersonate-User", "k8stty-admin")])
    assert code == 403
    # A rule for every verb on every resource includes impersonation, as in RBAC.
    anything = sb.add_user("root", allow=["* *"])
    code, body = get(sb, "/api/v1/namespaces/default/pods", anything,
                     [("Impersonate-User", "jane"), ("Impersonate-Group", "devs")])
    assert code == 200


def test_exec_upgrade_honours_impersonation(sb: Sandbox) -> None:
    ws = open_exec(sb, "demo", ["sh", "-c", "echo as-jane"],
                   headers=["Impersonate-User: jane", "Impersonate-Group: devs"])
    try:
        assert collect(ws).stdout == b"as-jane\n"
    finally:
        ws.close()
    with pytest.raises(websocket.WebSocketBadStatusException) as err:
        open_exec(sb, "demo", ["true"], headers=["Impersonate-User: jane"])
    assert err.value.status_code == 403
    assert json.loads(err.value.resp_body)["message"] == (
        'pods "demo" is forbidden: User "jane" cannot create resource "pods/exec" in API group '
        '"" in the namespace "default"')
    dev = sb.add_user("dev", allow=["create pods/exec"])
    with pytest.raises(websocket.WebSocketBadStatusException) as err:
        open_exec(sb, "demo", ["true"], token=dev, headers=["Impersonate-User: jane"])
    assert err.value.status_code == 403
    assert json.loads(err.value.resp_body)["message"].startswith(
        'users "jane" is forbidden: User "dev" cannot impersonate resource "users"')


def test_malformed_rules_are_refused_at_once(fresh_sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="is not 'VERB RESOURCE"):
        fresh_sandbox.add_user("x", allow=["impersonate"])
    with pytest.raises(ValueError, match="is not 'VERB RESOURCE"):
        fresh_sandbox.add_group("g", allow=["get pods in"])
