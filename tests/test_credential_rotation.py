"""Credentials that rotate and expire, in processes that live for days (issue 14 item 1).

The sandbox accepts each token for five seconds only; the client must pick up the
current one for every new session, keep open sessions running past expiry (as
kubectl does), and reconnect after expiry.
"""

from __future__ import annotations

import time

import pytest

from jupyter_k8stty import ApiError, ExecSession, run
from jupyter_k8stty.sandbox import PodSpec, Sandbox

from .helpers import OutputCollector

LIFETIME = 5.0  # long enough for a loaded machine to start the plugin and connect


@pytest.fixture
def rotating(tmp_path):
    with Sandbox(pods=[PodSpec("demo")]) as sb:
        rotator = sb.rotating_tokens("notebook-sa", ["get pods", "list pods", "create pods/exec"],
                                     lifetime=LIFETIME, folder=tmp_path / "serviceaccount")
        (rotator.folder / "ca.crt").write_bytes(sb.ca_pem)
        (rotator.folder / "namespace").write_text("default")
        yield sb, rotator


def _shell(**where) -> tuple[ExecSession, OutputCollector]:
    out = OutputCollector()
    session = ExecSession("demo", ["sh"], tty=True, rows=24, cols=80, **where)
    session.on_output(out)
    return session.start(), out


def _two_rotations_later(sb, rotator, tmp_path) -> None:
    """Rotate twice, as the kubelet does before expiry, until the first token has expired."""
    first = rotator.token
    for _ in range(2):
        time.sleep(LIFETIME * 0.6)
        rotator.rotate()
    stale = sb.write_kubeconfig(tmp_path / "stale", token=first)
    with pytest.raises(ApiError) as info:
        run("demo", ["true"], kubeconfig=stale)
    assert info.value.status == 401


def test_expired_tokens_are_refused(rotating, tmp_path):
    sb, rotator = rotating
    old = sb.write_kubeconfig(tmp_path / "old", token=rotator.token)
    assert run("demo", ["true"], kubeconfig=old).exit_code == 0
    time.sleep(LIFETIME + 0.2)
    with pytest.raises(ApiError) as info:
        run("demo", ["true"], kubeconfig=old)
    assert info.value.status == 401


def test_in_cluster_terminal_after_two_rotations(rotating, tmp_path, monkeypatch):
    sb, rotator = rotating
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("K8STTY_SERVICE_ACCOUNT_DIR", str(rotator.folder))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", sb.host)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(sb.port))
    opened, out = _shell()
    _two_rotations_later(sb, rotator, tmp_path)
    # the session opened before expiry keeps running
    opened.write(b"echo still-$((40+2))\n")
    out.expect(rb"still-42")
    # a terminal opened now carries the current token
    session, fresh = _shell()
    session.write(b"echo fresh-$((6*7))\n")
    fresh.expect(rb"fresh-42")
    for s in (opened, session):
        s.close()


def test_exec_plugin_terminal_after_two_rotations_and_reconnect(rotating, tmp_path):
    sb, rotator = rotating
    kubeconfig = rotator.write_plugin_kubeconfig(tmp_path / "plugin-kubeconfig")
    opened, out = _shell(kubeconfig=kubeconfig)
    _two_rotations_later(sb, rotator, tmp_path)
    opened.write(b"echo open-$((40+2))\n")
    out.expect(rb"open-42")
    opened.close()
    # the reconnect after expiry runs the plugin again and gets the current token
    again, fresh = _shell(kubeconfig=kubeconfig)
    again.write(b"echo again-$((6*7))\n")
    fresh.expect(rb"again-42")
    again.close()
    assert run("demo", ["true"], kubeconfig=kubeconfig).exit_code == 0


def test_a_token_revoked_before_its_expiry_runs_the_plugin_again(tmp_path):
    # The plugin's credential says it is good for an hour; the cluster revokes it after a
    # minute. client-go runs the plugin again on the 401, so kubectl carries on: so must we.
    with Sandbox(pods=[PodSpec("demo")]) as sb:
        rotator = sb.rotating_tokens("notebook-sa", ["get pods", "list pods", "create pods/exec"],
                                     lifetime=3600, folder=tmp_path / "plugin")
        kubeconfig = rotator.write_plugin_kubeconfig(tmp_path / "plugin-kubeconfig")
        assert run("demo", ["true"], kubeconfig=kubeconfig).exit_code == 0
        rotator.revoke()
        # A lookup, then the exec websocket: the lookup's 401 renews the credentials.
        assert run("demo", ["echo", "renewed"], kubeconfig=kubeconfig).stdout == b"renewed\n"

        # The exec websocket's own 401 (revoked between the lookup and the upgrade).
        from jupyter_k8stty import ExecTarget
        from jupyter_k8stty.exec.connect import open_exec_websocket

        cluster = ExecTarget("demo", kubeconfig=kubeconfig).cluster()
        rotator.revoke()
        ws = open_exec_websocket(cluster, "default", "demo", ["true"], tty=False, stdin=False)
        ws.close()

        # A plugin that keeps handing out the revoked token: the 401 stands, said plainly.
        stuck = rotator.token
        sb.policy.revoke_token(stuck)
        with pytest.raises(ApiError) as info:
            run("demo", ["true"], kubeconfig=kubeconfig)
        assert info.value.status == 401
        assert stuck not in str(info.value)
