"""Ephemeral debug containers: each failure in one line, then the real thing against the sandbox."""

from __future__ import annotations

import pytest

from jupyter_k8stty.errors import DebugError, ExecError, shell_missing
from jupyter_k8stty.exec.debug import patch_refusal, waiting_error

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
