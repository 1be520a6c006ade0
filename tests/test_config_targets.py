"""Namespace precedence, contexts, merged KUBECONFIG, in-cluster and exec-plugin credentials."""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest

from jupyter_k8stty import ApiError, ConfigError, run
from jupyter_k8stty.exec.client import load_cluster_config
from jupyter_k8stty.exec.resolve import resolve_pods
from jupyter_k8stty.sandbox import PodSpec, Sandbox


@pytest.fixture
def two_namespaces():
    pods = [PodSpec("app", namespace="default"), PodSpec("app", namespace="team-a"),
            PodSpec("app", namespace="team-b")]
    with Sandbox(pods=pods) as sb:
        yield sb


def hostname(kubeconfig: str | None = None, **kwargs) -> str:
    result = run("app", ["sh", "-c", "basename $(dirname $PWD)"], kubeconfig=kubeconfig,
                 **kwargs)
    return result.pod


def test_namespace_precedence(two_namespaces, tmp_path, monkeypatch):
    sb = two_namespaces
    in_a = sb.write_kubeconfig(tmp_path / "a", namespace="team-a")
    no_ns = sb.write_kubeconfig(tmp_path / "none", namespace=None)
    # -n beats the context's namespace
    assert resolve_pods("app", namespace="team-b", kubeconfig=in_a)[0].namespace == "team-b"
    # the context's namespace
    assert resolve_pods("app", kubeconfig=in_a)[0].namespace == "team-a"
    assert hostname(in_a) == "team-a/app"
    # a context without one: default (in-cluster namespace only applies without a kubeconfig)
    monkeypatch.setenv("POD_NAMESPACE", "team-b")
    assert resolve_pods("app", kubeconfig=no_ns)[0].namespace == "default"


def test_context_flag_and_merged_kubeconfig_files(two_namespaces, tmp_path, monkeypatch):
    sb = two_namespaces
    first = sb.write_kubeconfig(tmp_path / "first", namespace="team-a", context="alpha")
    second = sb.write_kubeconfig(tmp_path / "second", namespace="team-b", context="beta")
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([first, second]))
    # the first file's current-context wins; both files' contexts are there
    assert load_cluster_config().context == "alpha"
    assert resolve_pods("app")[0].namespace == "team-a"
    assert resolve_pods("app", context="beta")[0].namespace == "team-b"
    assert hostname(None, context="beta") == "team-b/app"
    with pytest.raises(ConfigError, match=r"context 'gamma' not found .*contexts: alpha, beta"):
        resolve_pods("app", context="gamma")
    # an explicit kubeconfig beats KUBECONFIG
    assert resolve_pods("app", kubeconfig=second)[0].namespace == "team-b"


def _service_account(tmp_path, sb: Sandbox, namespace: str | None, token: str | None = None):
    folder = tmp_path / "serviceaccount"
    folder.mkdir()
    (folder / "token").write_text(token or sb.token)
    (folder / "ca.crt").write_bytes(sb.ca_pem)
    if namespace:
        (folder / "namespace").write_text(namespace)
    return folder


def test_in_cluster_service_account_is_detected(two_namespaces, tmp_path, monkeypatch):
    sb = two_namespaces
    folder = _service_account(tmp_path, sb, "team-b")
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    monkeypatch.setenv("K8STTY_SERVICE_ACCOUNT_DIR", str(folder))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", sb.host)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(sb.port))
    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    cluster = load_cluster_config()
    assert (cluster.context, cluster.namespace, cluster.server) == (
        "in-cluster", "team-b", sb.url)
    # TLS is verified against the service account's ca.crt, for the service host
    assert resolve_pods("app")[0].namespace == "team-b"
    assert run("app", ["true"]).exit_code == 0
    # POD_NAMESPACE beats the file, as in client-go
    monkeypatch.setenv("POD_NAMESPACE", "team-a")
    assert resolve_pods("app")[0].namespace == "team-a"


def test_in_cluster_without_namespace_file_uses_default(two_namespaces, tmp_path, monkeypatch):
    sb = two_namespaces
    folder = _service_account(tmp_path, sb, None)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("K8STTY_SERVICE_ACCOUNT_DIR", str(folder))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", sb.host)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(sb.port))
    assert resolve_pods("app")[0].namespace == "default"


def test_exec_credential_plugin(tmp_path):
    with Sandbox(pods=[PodSpec("app")]) as sb:
        plugin = tmp_path / "token-plugin.py"
        plugin.write_text(
            f"#!{sys.executable}\n"
            "import json, os, pathlib\n"
            "pathlib.Path(os.environ['CALLS']).open('a').write('x')\n"
            "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1',\n"
            "                  'kind': 'ExecCredential',\n"
            f"                  'status': {{'token': {sb.token!r}}}}}))\n")
        plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
        calls = tmp_path / "calls"
        config = json.loads(open(sb.kubeconfig_path).read())
        config["users"][0]["user"] = {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin),
            "env": [{"name": "CALLS", "value": str(calls)}], "interactiveMode": "Never"}}
        path = tmp_path / "exec-kubeconfig"
        path.write_text(json.dumps(config))
        assert resolve_pods("app", kubeconfig=str(path))[0].name == "app"
        assert run("app", ["sh", "-c", "echo ok"], kubeconfig=str(path)).stdout == b"ok\n"
        assert calls.read_text()  # the plugin really ran


def test_in_cluster_token_is_reread_when_the_file_rotates(tmp_path, monkeypatch):
    with Sandbox(pods=[PodSpec("app")]) as sb:
        reader = sb.add_user("reader", ["get pods", "list pods"])
        folder = _service_account(tmp_path, sb, "default", token=reader)
        monkeypatch.delenv("KUBECONFIG", raising=False)
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.setenv("K8STTY_SERVICE_ACCOUNT_DIR", str(folder))
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", sb.host)
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(sb.port))
        with pytest.raises(ApiError, match='User "reader" cannot create resource "pods/exec"'):
            run("app", ["true"])
        # the kubelet swaps the projected token: the next request carries the new one
        rotated = folder / "token.new"
        rotated.write_text(sb.token)
        rotated.replace(folder / "token")
        assert run("app", ["echo", "rotated"]).stdout == b"rotated\n"
        assert resolve_pods("app")[0].name == "app"
