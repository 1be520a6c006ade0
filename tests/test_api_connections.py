"""Lookups reuse their connection and do not repeat what cannot change.

Before an exec, a session GETs the pod (phase, container) and, when the pod's spec does
not say its OS, its node (the ``kubernetes.io/os`` label decides the shell). Counted at the
sandbox: the GETs of one start share one keep-alive connection (each new one costs a TCP
and TLS handshake, a round trip or two on a remote cluster), and a node is read once.
"""

from __future__ import annotations

import pytest

from jupyter_k8stty import ExecSession, run, run_many
from jupyter_k8stty.exec.endpoint import forget_node_labels
from jupyter_k8stty.sandbox import PodSpec


@pytest.fixture(autouse=True)
def _no_node_remembered():
    # A new sandbox may get the port, hence the URL, of an earlier one with the same nodes.
    forget_node_labels()


def _delta(before: dict, after: dict) -> dict:
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def test_one_start_uses_one_connection_for_its_lookups(k8s_sandbox_factory):
    sandbox = k8s_sandbox_factory(pods=[PodSpec("solo")])
    conns, requests = sandbox.connections_accepted, sandbox.requests_served
    session = ExecSession("solo", ["true"], tty=False, stdin=False, kubeconfig=sandbox.kubeconfig_path)
    assert session.start().wait(10) == 0
    seen = _delta(requests, sandbox.requests_served)
    assert seen == {("GET", "pod"): 1, ("GET", "node"): 1, ("GET", "exec"): 1}
    # The pod and the node on one connection, the exec's websocket on another.
    assert sandbox.connections_accepted - conns == 2


def test_a_node_is_read_once_however_many_commands_run_on_it(k8s_sandbox_factory):
    pods = [PodSpec(f"w-{i}", node="sandbox-worker") for i in range(6)]
    sandbox = k8s_sandbox_factory(pods=pods)
    kubeconfig = sandbox.kubeconfig_path
    before = sandbox.requests_served
    assert run("w-0", ["true"], kubeconfig=kubeconfig).ok
    assert run("w-0", ["true"], kubeconfig=kubeconfig).ok
    results = run_many([f"w-{i}" for i in range(6)], ["sh", "-c", "echo $HOSTNAME"], kubeconfig=kubeconfig)
    assert [r.stdout for r in results.values()] == [f"w-{i}\n".encode() for i in range(6)]
    seen = _delta(before, sandbox.requests_served)
    assert seen[("GET", "exec")] == 8
    assert seen[("GET", "node")] == 1, seen


def test_a_refused_node_read_is_asked_again_and_not_an_error(k8s_sandbox_factory, tmp_path):
    sandbox = k8s_sandbox_factory(pods=[PodSpec("solo", node="sandbox-gpu")])
    token = sandbox.add_user("no-nodes", allow=["get pods", "create pods/exec"])
    kubeconfig = tmp_path / "kubeconfig"
    sandbox.write_kubeconfig(kubeconfig, token=token)
    before = sandbox.requests_served
    for _ in range(2):
        assert run("solo", ["true"], kubeconfig=str(kubeconfig)).ok
    seen = _delta(before, sandbox.requests_served)
    # A refusal is not remembered: another user (or a changed role) may read the node.
    assert seen[("GET", "node")] == 2 and seen[("GET", "exec")] == 2
