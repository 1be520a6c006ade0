"""Node shells: ``node/NAME`` targets, the debug pod's refusals, then the real thing in the sandbox."""

from __future__ import annotations

import pytest

from jupyter_k8stty import ExecSession, ExecTarget
from jupyter_k8stty.errors import DebugError, TargetError
from jupyter_k8stty.exec import kinds
from jupyter_k8stty.exec.fanout_targets import is_workload_target
from jupyter_k8stty.exec.node_debug import create_refusal
from jupyter_k8stty.exec.resolve import resolve_pods

# ---- pure: the target --------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["node/gpu-1", "no/gpu-1", "nodes/gpu-1", "NODE/gpu-1"])
def test_node_targets_parse(spelling):
    target = ExecTarget(spelling)
    assert target.parsed.is_node and target.parsed.name == "gpu-1"
    assert target.pod is None and not target.spans_pods
    assert not is_workload_target(spelling)
    assert str(target.parsed) == "node gpu-1"


def test_nodes_are_cluster_scoped_and_listed_in_help():
    assert kinds.NODE.path("ignored", "gpu-1") == "/api/v1/nodes/gpu-1"
    assert kinds.NODE.path(None) == "/api/v1/nodes"
    assert kinds.kinds_help().endswith("svc/ or node/")
    with pytest.raises(TargetError, match="not a source of pods"):
        kinds.pod_selector(kinds.NODE, {"spec": {}})


def test_a_node_is_not_resolved_to_pods():
    # Fan-out and copies take pods: a node fails in one line, before any request.
    with pytest.raises(TargetError, match="node/gpu-1 is a node, not a pod"):
        resolve_pods("node/gpu-1", namespace="default", cluster=object())  # type: ignore[arg-type]


def test_a_node_session_attaches_unless_given_a_command():
    assert ExecSession("node/gpu-1").attach
    session = ExecSession("node/gpu-1", ["uname", "-r"], tty=False)
    assert not session.attach and session.command == ["uname", "-r"]


# ---- pure: refusals of the debug pod -----------------------------------------------------

WHERE = {"server": "https://10.0.0.1:6443", "context": "prod", "namespace": "ml"}


def test_pod_security_rejection_says_where_node_shells_can_run():
    message = ('pods "node-debugger-gpu-1-x2x2x" is forbidden: violates PodSecurity '
               '"baseline:latest": host namespaces (hostNetwork=true, hostPID=true, hostIPC=true)')
    text = str(create_refusal(403, {"message": message}, profile="general", **WHERE))
    assert "\n" not in text
    assert "Pod Security level of namespace ml rejects the node debug pod" in text
    assert "privileged (namespace=...)" in text and "--profile restricted" in text


def test_missing_create_permission_names_the_verbs():
    message = ('pods is forbidden: User "jane" cannot create resource "pods" in API group "" in '
               'the namespace "ml"')
    error = create_refusal(403, {"message": message, "reason": "Forbidden"}, profile="general", **WHERE)
    assert isinstance(error, DebugError) and error.status == 403
    assert str(error).startswith("forbidden: you cannot create pods in namespace ml (context prod)")
    assert "allows 'create', 'get' and 'delete' on 'pods'" in str(error)

