"""Impersonation from the Python API (kubectl --as / --as-group): headers on lookups and the upgrade."""

from __future__ import annotations

import pytest

from jupyter_k8stty import ApiError, ExecSession, ExecTarget, run, run_many
from jupyter_k8stty.exec.listing import list_pods


@pytest.fixture
def users(fresh_sandbox, tmp_path):
    """The admin's kubeconfig, plus a user 'dev' who may not impersonate."""
    fresh_sandbox.add_user("jane", ["get pods", "list pods", "create pods/exec"])
    fresh_sandbox.add_user("reader", ["get pods", "list pods"])
    fresh_sandbox.add_group("devs", ["get pods", "create pods/exec"])
    dev_token = fresh_sandbox.add_user("dev", ["get pods", "list pods", "create pods/exec"])
    dev = fresh_sandbox.write_kubeconfig(tmp_path / "dev", token=dev_token)
    return fresh_sandbox.kubeconfig_path, dev


def test_run_as_an_impersonated_user_with_her_permissions(users):
    admin, _dev = users
    result = run("demo", ["echo", "as jane"], kubeconfig=admin, impersonate="jane")
    assert result.stdout == b"as jane\n"
    # 'reader' may look the pod up but not exec: the upgrade carries the headers too
    with pytest.raises(ApiError) as info:
        run("demo", ["true"], kubeconfig=admin, impersonate="reader")
    assert info.value.status == 403
    assert str(info.value).startswith("forbidden: you cannot create pods/exec for pod default/demo")
    assert 'User "reader" cannot create resource "pods/exec"' in str(info.value)


def test_group_permissions_through_impersonated_groups(users):
    admin, _dev = users
    # an unknown user alone may do nothing; with the group 'devs' the exec is allowed
    with pytest.raises(ApiError, match='User "ghost" cannot get resource "pods"'):
        run("demo", ["true"], kubeconfig=admin, impersonate="ghost")
    target = ExecTarget("demo", kubeconfig=admin, impersonate="ghost", impersonate_groups=("devs",))
    assert run(target, ["echo", "ok"]).stdout == b"ok\n"


def test_a_user_who_may_not_impersonate_gets_kubernetes_403(users):
    _admin, dev = users
    with pytest.raises(ApiError) as info:
        run("demo", ["true"], kubeconfig=dev, impersonate="jane")
    assert info.value.status == 403
    assert 'users "jane" is forbidden: User "dev" cannot impersonate resource "users"' in str(info.value)
    with pytest.raises(ApiError, match='cannot impersonate resource "users"'):
        list_pods(kubeconfig=dev, impersonate="jane")


def test_impersonation_reaches_sessions_fanout_and_listings(users):
    admin, _dev = users
    with ExecSession("demo", ["id", "-un"], tty=False, stdin=False, kubeconfig=admin,
                     impersonate="jane") as session:
        assert session.wait(10) is not None and session.status == "exited"
    results = run_many(["demo"], ["true"], kubeconfig=admin, impersonate="reader")
    assert "cannot create resource" in results["demo"].error
    assert [p["metadata"]["name"] for p in list_pods(kubeconfig=admin, impersonate="jane")]
