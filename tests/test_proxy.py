"""Proxies as kubectl honours them: kubeconfig proxy-url, HTTPS_PROXY/NO_PROXY, for lookups and exec.

The sandbox listens on 127.0.0.3 while the kubeconfig names 127.0.0.2, where nothing
listens: only a proxy that routes 127.0.0.2 to 127.0.0.3 reaches it, so every success
below went through the proxy.
"""

from __future__ import annotations

import json
import sys

import pytest

from jupyter_k8stty import ApiError, run
from jupyter_k8stty.exec.listing import list_pod_names
from jupyter_k8stty.sandbox import Sandbox

from .connect_proxy import ConnectProxy


@pytest.fixture(scope="module")
def hidden_sandbox():
    with Sandbox(host="127.0.0.3") as sb:
        yield sb


def _kubeconfig(sandbox: Sandbox, path, **cluster: str) -> str:
    written = sandbox.write_kubeconfig(path, server=f"https://127.0.0.2:{sandbox.port}")
    with open(written, encoding="utf-8") as f:
        data = json.load(f)
    data["clusters"][0]["cluster"].update({"tls-server-name": "localhost", **cluster})
    with open(written, "w", encoding="utf-8") as f:
        json.dump(data, f)
    return written


def test_direct_connections_cannot_reach_the_sandbox(hidden_sandbox, tmp_path):
    kubeconfig = _kubeconfig(hidden_sandbox, tmp_path / "kc")
    with pytest.raises(ApiError, match="cannot reach the Kubernetes API server"):
        run("demo", ["true"], kubeconfig=kubeconfig, timeout=5)


def test_kubeconfig_proxy_url_carries_lookups_and_exec(hidden_sandbox, tmp_path):
    with ConnectProxy({"127.0.0.2": "127.0.0.3"}) as proxy:
        kubeconfig = _kubeconfig(hidden_sandbox, tmp_path / "kc", **{"proxy-url": proxy.url})
        assert "demo" in list_pod_names(kubeconfig=kubeconfig)
        assert run("demo", ["echo", "via proxy"], kubeconfig=kubeconfig).stdout == b"via proxy\n"
    target = f"127.0.0.2:{hidden_sandbox.port}"
    assert proxy.requests.count(target) >= 2  # the lookup GET and the exec upgrade


def test_https_proxy_and_no_proxy_from_the_environment(hidden_sandbox, tmp_path, monkeypatch):
    with ConnectProxy({"127.0.0.2": "127.0.0.3"}) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        kubeconfig = _kubeconfig(hidden_sandbox, tmp_path / "env")
        assert run("demo", ["echo", "env proxy"], kubeconfig=kubeconfig).stdout == b"env proxy\n"
        assert proxy.requests
        # NO_PROXY names the server: straight to 127.0.0.2, where nothing listens
        monkeypatch.setenv("NO_PROXY", "127.0.0.2")
        before = len(proxy.requests)
        bypassing = _kubeconfig(hidden_sandbox, tmp_path / "bypass")
        with pytest.raises(ApiError, match="cannot reach"):
            run("demo", ["true"], kubeconfig=bypassing, timeout=5)
        assert len(proxy.requests) == before


def test_socks_proxy_without_its_packages_is_a_clear_error(hidden_sandbox, tmp_path, monkeypatch):
    # Neither PySocks (urllib3's SOCKS support) nor python-socks (websocket-client's).
    monkeypatch.setitem(sys.modules, "socks", None)
    monkeypatch.setitem(sys.modules, "python_socks", None)
    kubeconfig = _kubeconfig(hidden_sandbox, tmp_path / "socks",
                             **{"proxy-url": "socks5://user:secret@127.0.0.1:1"})
    with pytest.raises(ApiError) as info:
        run("demo", ["true"], kubeconfig=kubeconfig, timeout=5)
    assert str(info.value) == ("the proxy socks5://127.0.0.1:1 is a SOCKS proxy, which needs pysocks and "
                               "python-socks: pip install pysocks python-socks")
