"""Node shells: ``node/NAME`` targets, the debug pod's refusals, then the real thing in the sandbox."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time

import pytest

from jupyter_k8stty import ApiError, ExecSession, ExecTarget, run
from jupyter_k8stty.errors import ArgumentError, DebugError, TargetError
from jupyter_k8stty.exec import kinds
from jupyter_k8stty.exec.fanout_targets import is_workload_target
from jupyter_k8stty.exec.node_debug import create_refusal, list_node_names
from jupyter_k8stty.exec.profiles import DEBUG_IMAGE_ENV, DebugSpec
from jupyter_k8stty.exec.resolve import resolve_pods
from jupyter_k8stty.sandbox import Sandbox
from jupyter_k8stty.sandbox.testing import api_request

from .helpers import EXPECT_TIMEOUT, OutputCollector, wait_until

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


def test_missing_create_permission_message_names_the_verbs():
    message = ('pods is forbidden: User "jane" cannot create resource "pods" in API group "" in '
               'the namespace "ml"')
    error = create_refusal(403, {"message": message, "reason": "Forbidden"}, profile="general", **WHERE)
    assert isinstance(error, DebugError) and error.status == 403
    assert str(error).startswith("forbidden: you cannot create pods in namespace ml (context prod)")
    assert "allows 'create', 'get' and 'delete' on 'pods'" in str(error)



# ---- against the sandbox ------------------------------------------------------------------

#: Seconds a node shell may take to start in the sandbox.
START_TIMEOUT = 15.0


def pod_or_none(sandbox: Sandbox, name: str, namespace: str = "default") -> dict | None:
    code, body = api_request(sandbox, "GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
    assert code in (200, 404), body
    return body if code == 200 else None


def deleted(sandbox: Sandbox, name: str, namespace: str = "default") -> bool:
    """Gone, or being deleted (a graceful deletion still shows the pod for a while)."""
    pod = pod_or_none(sandbox, name, namespace)
    return pod is None or bool(pod["metadata"].get("deletionTimestamp"))


def debug_pods(sandbox: Sandbox, namespace: str = "default") -> list[str]:
    code, body = api_request(sandbox, "GET", f"/api/v1/namespaces/{namespace}/pods?labelSelector="
                             "app.kubernetes.io%2Fmanaged-by%3Dkubectl-debug")
    assert code == 200, body
    return [p["metadata"]["name"] for p in body["items"] if not p["metadata"].get("deletionTimestamp")]


def node_session(sandbox: Sandbox, target: str = "node/sandbox-gpu", *args, **kw):
    notes: list[tuple[str, str | None]] = []
    session = ExecSession(target, *args, kubeconfig=sandbox.kubeconfig_path, **kw)
    session.on_wait(lambda s: notes.append((s.status, s.phase_note)))
    out = OutputCollector()
    session.on_output(out)
    return session, out, notes


def test_node_shell_runs_in_a_debug_pod_on_the_node_and_is_deleted_on_close(k8s_sandbox, monkeypatch):
    monkeypatch.delenv(DEBUG_IMAGE_ENV, raising=False)
    session, out, notes = node_session(k8s_sandbox)
    with session.start(deadline=time.monotonic() + START_TIMEOUT):
        pod = session.debug_pod
        assert re.fullmatch(r"node-debugger-sandbox-gpu-[bcdfghjklmnpqrstvwxz2456789]{5}", pod)
        assert session.pod == pod and session.container == "debugger" and session.attach
        assert ("waiting", f"starting debug pod {pod} on node sandbox-gpu (busybox)") in notes
        assert session.note == (f"debug pod {pod} on node sandbox-gpu (busybox); the host's / is "
                                "at /host; deleted when this ends. If you don't see a command "
                                "prompt, try pressing enter.")
        spec = pod_or_none(k8s_sandbox, pod)["spec"]
        assert (spec["nodeName"], spec["hostPID"], spec["hostNetwork"], spec["hostIPC"]) == (
            "sandbox-gpu", True, True, True)
        session.write(b"test -d /host/etc && echo host=yes\r")
        out.expect(rb"host=yes")
    assert session.status == "closed" and session.cleanup_error is None
    assert deleted(k8s_sandbox, pod) and debug_pods(k8s_sandbox) == []


def test_exit_in_the_node_shell_deletes_the_pod(k8s_sandbox):
    session, _, _ = node_session(k8s_sandbox, "node/sandbox-worker")
    session.start(deadline=time.monotonic() + START_TIMEOUT)
    session.write(b"exit\r")
    session.wait(EXPECT_TIMEOUT)
    assert session.done and deleted(k8s_sandbox, session.debug_pod)


def test_run_on_a_node_execs_in_the_debug_pod_then_deletes_it(k8s_sandbox):
    result = run("node/sandbox-worker", ["sh", "-c", "echo on-node; exit 3"],
                 kubeconfig=k8s_sandbox.kubeconfig_path, timeout=START_TIMEOUT)
    assert (result.exit_code, result.stdout) == (3, b"on-node\n")
    assert result.pod.startswith("default/node-debugger-sandbox-worker-")
    assert debug_pods(k8s_sandbox) == []


def test_profile_baseline_gives_a_node_pod_without_the_host(k8s_sandbox):
    session, _, _ = node_session(k8s_sandbox, debug=DebugSpec(profile="baseline"))
    with session.start(deadline=time.monotonic() + START_TIMEOUT):
        spec = pod_or_none(k8s_sandbox, session.debug_pod)["spec"]
        assert not any(spec.get(k) for k in ("hostPID", "hostNetwork", "hostIPC", "volumes"))
        assert "/host" not in session.note


def test_unknown_node_has_close_matches_and_creates_nothing(k8s_sandbox):
    session, _, _ = node_session(k8s_sandbox, "node/sandbox-wroker")
    with pytest.raises(ApiError, match=r'nodes "sandbox-wroker" not found; did you mean sandbox-worker '):
        session.start(deadline=time.monotonic() + START_TIMEOUT)
    assert debug_pods(k8s_sandbox) == []


def test_a_container_does_not_apply_to_a_node(k8s_sandbox):
    session, _, _ = node_session(k8s_sandbox, container="main")
    with pytest.raises(ArgumentError, match="a node has no containers"):
        session.start()
    assert debug_pods(k8s_sandbox) == []


def test_unpullable_image_deletes_the_pod_it_created(k8s_sandbox):
    session, _, _ = node_session(k8s_sandbox, debug="registry.example.com/does-not-exist:1")
    with pytest.raises(DebugError, match=r"cannot pull its image 'registry.example.com/does-not-exist:1'"):
        session.start(deadline=time.monotonic() + START_TIMEOUT)
    assert debug_pods(k8s_sandbox) == []


def test_pod_security_refusal_says_where_node_shells_run(k8s_sandbox_factory):
    sandbox = k8s_sandbox_factory(pod_security={"default": "baseline"})
    session, _, _ = node_session(sandbox)
    with pytest.raises(DebugError) as info:
        session.start(deadline=time.monotonic() + START_TIMEOUT)
    assert info.value.status == 403 and 'violates PodSecurity "baseline:latest"' in str(info.value)
    assert "privileged (namespace=...)" in str(info.value)
    ok, _, _ = node_session(sandbox, debug=DebugSpec(profile="baseline"))
    ok.start(deadline=time.monotonic() + START_TIMEOUT).close()
    assert ok.status == "closed" and deleted(sandbox, ok.debug_pod)


def test_missing_create_permission_names_the_verbs(k8s_sandbox, tmp_path):
    token = k8s_sandbox.add_user("jane", ["get nodes", "list nodes", "get pods"])
    kubeconfig = k8s_sandbox.write_kubeconfig(tmp_path / "jane", token=token)
    session = ExecSession("node/sandbox-gpu", kubeconfig=kubeconfig)
    with pytest.raises(DebugError, match=r'^forbidden: you cannot create pods in namespace default .*'
                                         r"allows 'create', 'get' and 'delete' on 'pods'$"):
        session.start(deadline=time.monotonic() + START_TIMEOUT)


def test_closing_while_the_pod_starts_deletes_it(k8s_sandbox_factory):
    sandbox = k8s_sandbox_factory(container_start_delay=30.0)
    session, _, _ = node_session(sandbox)
    starter = threading.Thread(target=session.start, daemon=True)
    starter.start()
    assert wait_until(lambda: session.status == "waiting")
    created = session.pod
    session.close()
    starter.join(EXPECT_TIMEOUT)
    assert not starter.is_alive() and session.status == "closed"
    assert created.startswith("node-debugger-") and deleted(sandbox, created)


def test_node_pods_left_open_are_deleted_when_the_interpreter_exits(k8s_sandbox):
    # What a kernel shutdown does: the process exits with the terminal still open.
    script = ("import sys, time\n"
              "from jupyter_k8stty import ExecSession\n"
              "s = ExecSession('node/sandbox-gpu').start(deadline=time.monotonic() + 15)\n"
              "print(s.debug_pod, flush=True)\n"
              "sys.exit(0)\n")
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=60, env={**os.environ, "KUBECONFIG": k8s_sandbox.kubeconfig_path})
    assert child.returncode == 0, child.stderr
    pod = child.stdout.strip()
    assert pod.startswith("node-debugger-sandbox-gpu-")
    assert deleted(k8s_sandbox, pod) and debug_pods(k8s_sandbox) == []


def test_kubectl_debug_node_and_ours_make_the_same_pod(k8s_sandbox):
    # The spec, that is: kubectl before 1.34 (installed: 1.32) does not label its pod yet.
    result = subprocess.run(["kubectl", "--kubeconfig", k8s_sandbox.kubeconfig_path, "debug",
                             "node/sandbox-worker", "--image=busybox", "--profile=general", "-it",
                             "--attach=false"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # "Creating debugging pod NAME with container debugger on node sandbox-worker."
    name = re.search(r"Creating debugging pod (\S+) with container", result.stdout).group(1)
    theirs = pod_or_none(k8s_sandbox, name)["spec"]
    session, _, _ = node_session(k8s_sandbox, "node/sandbox-worker")
    with session.start(deadline=time.monotonic() + START_TIMEOUT):
        ours = pod_or_none(k8s_sandbox, session.debug_pod)["spec"]
    keys = ("nodeName", "hostPID", "hostNetwork", "hostIPC", "restartPolicy", "tolerations", "volumes")
    assert {k: ours.get(k) for k in keys} == {k: theirs.get(k) for k in keys}
    strip = ("name", "imagePullPolicy", "terminationMessagePath")
    assert [{k: v for k, v in c.items() if k not in strip} for c in ours["containers"]] == \
        [{k: v for k, v in c.items() if k not in strip} for c in theirs["containers"]]


def test_node_names_for_completion(k8s_sandbox):
    assert list_node_names(kubeconfig=k8s_sandbox.kubeconfig_path) == [
        "sandbox-gpu", "sandbox-node", "sandbox-worker"]
