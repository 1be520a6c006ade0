"""Ephemeral debug containers: each failure in one line, then the real thing against the sandbox."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Callable

import pytest

from jupyter_k8stty import ApiError, ExecSession, StreamError, run
from jupyter_k8stty.errors import DebugError, ExecError, shell_missing
from jupyter_k8stty.exec.debug import patch_refusal, waiting_error
from jupyter_k8stty.exec.profiles import DEBUG_IMAGE_ENV, DebugSpec
from jupyter_k8stty.sandbox import PodSpec, Sandbox
from jupyter_k8stty.sandbox.pods import default_pods
from jupyter_k8stty.sandbox.testing import api_request

from .helpers import EXPECT_TIMEOUT, OutputCollector, wait_until

#: Seconds a debug session may take to start in the sandbox.
START_TIMEOUT = 15.0

# ---- pure: what each refusal says -------------------------------------------------------

WHERE = {"server": "https://10.0.0.1:6443", "context": "prod", "namespace": "ml", "pod": "model-0"}


def one_line(error: Exception) -> str:
    text = str(error)
    assert "\n" not in text
    return text


def test_old_cluster_404_says_ephemeral_containers_need_1_23():
    # No such subresource: a 404 whose details name nothing (what kubectl checks).
    body = {"kind": "Status", "status": "Failure", "message": "the server could not find the "
            "requested resource", "reason": "NotFound", "details": {}, "code": 404}
    error = patch_refusal(404, body, **WHERE)
    assert isinstance(error, DebugError) and error.status == 404
    assert "need Kubernetes 1.23 or newer" in one_line(error)


def test_a_vanished_pod_is_not_an_old_cluster():
    body = {"kind": "Status", "message": 'pods "model-0" not found', "reason": "NotFound",
            "details": {"name": "model-0", "kind": "pods"}, "code": 404}
    assert one_line(patch_refusal(404, body, **WHERE)) == 'pods "model-0" not found'


def test_pod_security_rejection_suggests_the_restricted_profile():
    message = ('pods "model-0" is forbidden: violates PodSecurity "baseline:latest": non-default '
               'capabilities (container "debugger-x2x2x" must not include "SYS_PTRACE" in '
               "securityContext.capabilities.add)")
    error = patch_refusal(403, {"message": message, "reason": "Forbidden", "code": 403}, **WHERE)
    text = one_line(error)
    assert "Pod Security level of namespace ml rejects the debug container" in text
    assert 'violates PodSecurity "baseline:latest"' in text
    assert text.endswith("use --profile restricted (debug profile 'restricted')")


def test_missing_permission_names_the_verb_and_resource():
    message = ('pods "model-0" is forbidden: User "jane" cannot patch resource '
               '"pods/ephemeralcontainers" in API group "" in the namespace "ml"')
    text = one_line(patch_refusal(403, {"message": message, "reason": "Forbidden"}, **WHERE))
    assert text.startswith("forbidden: you cannot patch pods/ephemeralcontainers in namespace ml "
                           "(context prod)")
    assert "User \"jane\" cannot patch" in text
    assert "allows the verb 'patch' on 'pods/ephemeralcontainers'" in text


def test_unauthorized_never_shows_a_credential():
    text = one_line(patch_refusal(401, {"message": "Unauthorized"}, **WHERE))
    assert "401" in text and "rejected the credentials" in text


@pytest.mark.parametrize("reason", ["ErrImagePull", "ImagePullBackOff", "InvalidImageName",
                                    "ErrImageNeverPull"])
def test_unpullable_image_names_it_and_the_mirror_variable(reason):
    error = waiting_error(reason, 'Back-off pulling image "busybox"', what="debug container debugger-x",
                          image="busybox")
    assert isinstance(error, DebugError) and error.reason == reason
    text = one_line(error)
    assert "cannot pull its image 'busybox'" in text and "JUPYTER_K8STTY_DEBUG_IMAGE" in text


def test_non_root_refusal_explains_the_restricted_profile():
    message = "container has runAsNonRoot and image will run as root (pod: \"model-0\", container: x)"
    text = one_line(waiting_error("CreateContainerConfigError", message, what="debug container x",
                                  image="busybox"))
    assert "cannot start (CreateContainerConfigError" in text
    assert "restricted profile needs an image that runs as a non-root user" in text


def test_ordinary_waiting_is_not_an_error():
    for reason in ("ContainerCreating", "PodInitializing", None):
        assert waiting_error(reason, None, what="debug container x", image="busybox") is None


# ---- pure: no shell -----------------------------------------------------------------------


def test_missing_shell_is_told_apart_from_a_missing_command():
    assert shell_missing(["sh", "-c", "ls"], 'exec: "sh": executable file not found in $PATH')
    assert shell_missing(["/bin/bash"], 'OCI runtime exec failed: exec failed: unable to start '
                         'container process: exec: "/bin/bash": stat /bin/bash: no such file or directory')
    assert not shell_missing(["bash", "-c", "/x"], "bash: line 1: /x: No such file or directory")
    assert not shell_missing(["python"], 'exec: "python": executable file not found in $PATH')


def test_exec_error_126_from_a_missing_shell_suggests_debug():
    stderr = b'OCI runtime exec failed: exec: "sh": executable file not found in $PATH: unknown\n'
    error = ExecError(126, b"", stderr, command=["sh", "-c", "ls"])
    assert str(error).endswith("open a debug container next to it with --debug (debug=True)")
    assert str(ExecError(127, b"", b"sh: nope: not found\n", command=["sh", "-c", "nope"])) == \
        "command ['sh', '-c', 'nope'] exited with code 127"


# ---- against the sandbox ------------------------------------------------------------------

DISTROLESS = PodSpec("model", images={"main": "gcr.io/distroless/python3-debian12"},
                     labels={"app": "model"})


@pytest.fixture
def sb(k8s_sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    return k8s_sandbox_factory(pods=[*default_pods(), DISTROLESS])


def pod_json(sandbox: Sandbox, name: str, namespace: str = "default") -> dict:
    code, body = api_request(sandbox, "GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
    assert code == 200, body
    return body


def ephemeral(sandbox: Sandbox, pod: str, namespace: str = "default") -> dict[str, dict]:
    return {c["name"]: c for c in pod_json(sandbox, pod, namespace)["spec"].get("ephemeralContainers", [])}


def debug_session(sandbox: Sandbox, target: str = "demo", **kw) -> tuple[ExecSession, OutputCollector, list]:
    notes: list[tuple[str, str | None]] = []
    session = ExecSession(target, kubeconfig=sandbox.kubeconfig_path, **kw)
    session.on_wait(lambda s: notes.append((s.status, s.phase_note)))
    out = OutputCollector()
    session.on_output(out)
    return session, out, notes


def user_kubeconfig(sandbox: Sandbox, tmp_path, name: str, allow: list[str]) -> str:
    return sandbox.write_kubeconfig(tmp_path / f"{name}.kubeconfig", token=sandbox.add_user(name, allow))


def test_debug_container_starts_then_its_shell_answers(sb, monkeypatch):
    monkeypatch.delenv(DEBUG_IMAGE_ENV, raising=False)
    session, out, notes = debug_session(sb, debug=DebugSpec(target_container="main"))
    with session.start(deadline=time.monotonic() + START_TIMEOUT):
        name = session.debug_container
        assert re.fullmatch(r"debugger-[bcdfghjklmnpqrstvwxz2456789]{5}", name)
        assert ("waiting", f"starting debug container {name} (busybox)") in notes
        assert session.status == "connected" and session.attach and session.container == name
        assert session.note.startswith(f"debug container {name} (busybox) added to pod demo")
        session.write(b"echo answer=$((6 * 7))\r")
        out.expect(rb"answer=42")
    spec = ephemeral(sb, "demo")[name]
    assert (spec["image"], spec["targetContainerName"], spec["stdin"], spec["tty"]) == (
        "busybox", "main", True, True)
    assert spec["securityContext"] == {"capabilities": {"add": ["SYS_PTRACE"]}}


def test_kubectl_sees_the_debug_containers_we_add(sb):
    names = []
    for _ in range(2):
        session, _, _ = debug_session(sb, debug=True)
        session.start(deadline=time.monotonic() + START_TIMEOUT).close()
        names.append(session.debug_container)
    result = subprocess.run(["kubectl", "--kubeconfig", sb.kubeconfig_path, "get", "pod", "demo", "-o",
                             "jsonpath={.spec.ephemeralContainers[*].name}"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == names


def test_container_names_the_container_to_debug(sb):
    session, _, _ = debug_session(sb, container="sidecar", debug="busybox:1.36")
    session.start(deadline=time.monotonic() + START_TIMEOUT).close()
    spec = ephemeral(sb, "demo")[session.debug_container]
    assert (spec["image"], spec["targetContainerName"]) == ("busybox:1.36", "sidecar")


def test_a_workload_is_debugged_in_the_pod_kubectl_would_pick(k8s_sandbox_factory):
    sandbox = k8s_sandbox_factory()
    session, _, _ = debug_session(sandbox, "deploy/web", debug=True)
    session.start(deadline=time.monotonic() + START_TIMEOUT).close()
    assert session.pod == "web-5wpwzq2zt6-x2kqp"  # ready for longer: kubectl's pick
    assert list(ephemeral(sandbox, session.pod)) == [session.debug_container]


def test_default_image_comes_from_the_environment(sb, monkeypatch):
    monkeypatch.setenv(DEBUG_IMAGE_ENV, "mirror.corp.example/tools/busybox:1.36")
    session, _, notes = debug_session(sb, debug=True)
    session.start(deadline=time.monotonic() + START_TIMEOUT).close()
    assert ephemeral(sb, "demo")[session.debug_container]["image"] == "mirror.corp.example/tools/busybox:1.36"
    assert notes[0][1].endswith("(mirror.corp.example/tools/busybox:1.36)")


def test_a_command_runs_in_the_debug_container(sb):
    session, out, _ = debug_session(sb, command=["sh", "-c", "echo in-debug; hostname"], tty=False,
                                    debug=True)
    session.start(deadline=time.monotonic() + START_TIMEOUT)
    assert session.wait(EXPECT_TIMEOUT) == 0
    assert not session.attach and out.data().startswith(b"in-debug\n")


def test_detaching_leaves_the_debug_shell_to_reattach(sb):
    session, out, _ = debug_session(sb, debug=True)
    with session.start(deadline=time.monotonic() + START_TIMEOUT):
        session.write(b"export MARK=kept-$((40 + 2))\r")
        out.expect(rb"export MARK")  # echoed: the shell's terminal has it
    again, out2, _ = debug_session(sb, attach=True, container=session.debug_container)
    with again.start(deadline=time.monotonic() + START_TIMEOUT):
        again.write(b"echo $MARK\r")
        out2.expect(rb"kept-42")


def test_no_shell_is_reported_and_debug_gets_one(sb):
    session, _, _ = debug_session(sb, target="model")
    session.start(deadline=time.monotonic() + START_TIMEOUT)
    assert session.wait(EXPECT_TIMEOUT) is None
    assert session.status == "error" and session.no_shell
    assert "executable file not found" in session.error and "--debug" in session.error
    debug, out, _ = debug_session(sb, target="model", debug=True)
    with debug.start(deadline=time.monotonic() + START_TIMEOUT):
        debug.write(b"echo shell=ok\r")
        out.expect(rb"shell=ok")


def test_run_in_a_distroless_container_suggests_debug(sb):
    with pytest.raises(StreamError, match=r"executable file not found.*--debug \(debug=True\)"):
        run("model", ["sh", "-c", "ls"], kubeconfig=sb.kubeconfig_path, timeout=START_TIMEOUT)
    # A missing program that is not a shell is just that.
    with pytest.raises(StreamError) as info:
        run("model", ["python3", "-V"], kubeconfig=sb.kubeconfig_path, timeout=START_TIMEOUT)
    assert "--debug" not in str(info.value)


def test_dockershim_exit_126_suggests_debug(k8s_sandbox_factory):
    sandbox = k8s_sandbox_factory(pods=[DISTROLESS], container_runtime="docker")
    result = run("model", ["sh", "-c", "ls"], kubeconfig=sandbox.kubeconfig_path, timeout=START_TIMEOUT)
    assert result.exit_code == 126
    with pytest.raises(ExecError, match=r"exited with code 126: the container has no shell"):
        result.check_returncode()
    session = ExecSession("model", ["sh"], tty=False, kubeconfig=sandbox.kubeconfig_path)
    assert session.start().wait(EXPECT_TIMEOUT) == 126 and session.no_shell


def test_unpullable_image_ends_in_one_line(sb):
    started = time.monotonic()
    session, _, _ = debug_session(sb, debug="registry.example.com/does-not-exist/busybox:1")
    with pytest.raises(DebugError) as info:
        session.start(deadline=time.monotonic() + START_TIMEOUT)
    text = one_line(info.value)
    assert info.value.reason in ("ErrImagePull", "ImagePullBackOff")
    assert "cannot pull its image 'registry.example.com/does-not-exist/busybox:1'" in text
    assert "set JUPYTER_K8STTY_DEBUG_IMAGE" in text
    assert session.status == "error" and time.monotonic() - started < START_TIMEOUT


def test_restricted_namespace_refuses_general_and_takes_restricted(k8s_sandbox_factory):
    sandbox = k8s_sandbox_factory(pods=[PodSpec("app", namespace="secure")],
                                  pod_security={"secure": "restricted"})
    session, _, _ = debug_session(sandbox, "app", namespace="secure", debug=True)
    with pytest.raises(DebugError) as info:
        session.start(deadline=time.monotonic() + START_TIMEOUT)
    text = one_line(info.value)
    assert info.value.status == 403 and 'violates PodSecurity "restricted:latest"' in text
    assert text.endswith("use --profile restricted (debug profile 'restricted')")
    assert ephemeral(sandbox, "app", "secure") == {}
    ok, out, _ = debug_session(sandbox, "app", namespace="secure",
                               debug=DebugSpec(profile="restricted"))
    with ok.start(deadline=time.monotonic() + START_TIMEOUT):
        ok.write(b"echo allowed\r")
        out.expect(rb"allowed")


def test_cluster_older_than_1_23_is_named(k8s_sandbox_factory):
    sandbox = k8s_sandbox_factory(kubernetes_version="v1.22.17")
    session, _, _ = debug_session(sandbox, debug=True)
    with pytest.raises(DebugError, match=r"ephemeral containers \(no pods/ephemeralcontainers "
                                         r"subresource\): they need Kubernetes 1.23 or newer$"):
        session.start(deadline=time.monotonic() + START_TIMEOUT)


def test_missing_patch_permission_names_the_verb(sb, tmp_path):
    kubeconfig = user_kubeconfig(sb, tmp_path, "jane", ["get pods", "list pods", "create pods/attach"])
    session = ExecSession("demo", debug=True, kubeconfig=kubeconfig)
    with pytest.raises(DebugError) as info:
        session.start(deadline=time.monotonic() + START_TIMEOUT)
    text = one_line(info.value)
    assert info.value.status == 403
    assert text.startswith("forbidden: you cannot patch pods/ephemeralcontainers in namespace default")
    assert 'User "jane" cannot patch resource "pods/ephemeralcontainers"' in text
    assert ephemeral(sb, "demo") == {}


def test_a_slow_debug_container_is_bounded_by_the_pod_running_timeout(k8s_sandbox_factory):
    sandbox = k8s_sandbox_factory(container_start_delay=30.0)
    started = time.monotonic()
    session, _, _ = debug_session(sandbox, debug=True, pod_running_timeout=1.0)
    with pytest.raises(DebugError, match=r"is not running after 1 s \(ContainerCreating\); raise "
                                         "pod_running_timeout"):
        session.start()
    assert time.monotonic() - started < 5.0
    session, _, _ = debug_session(sandbox, debug=True)
    started = time.monotonic()
    with pytest.raises(ApiError):
        session.start(deadline=time.monotonic() + 1.0)
    assert time.monotonic() - started < 5.0


def test_closing_while_the_debug_container_starts_ends_closed(k8s_sandbox_factory):
    sandbox = k8s_sandbox_factory(container_start_delay=30.0)
    session, _, notes = debug_session(sandbox, debug=True)
    starter = threading.Thread(target=session.start, daemon=True)
    starter.start()
    assert wait_until(lambda: session.status == "waiting")
    session.close()
    starter.join(EXPECT_TIMEOUT)
    assert not starter.is_alive() and session.status == "closed"
