"""Debug containers as kubectl makes them: patch bodies, names, profiles and images (pure).

The expected patches are kubectl's own, recorded from ``kubectl debug -v=2`` (which logs
"generated strategic merge patch for debug container") against the sandbox.
"""

from __future__ import annotations

import json
import re

import pytest

from jupyter_k8stty.errors import ArgumentError
from jupyter_k8stty.exec import profiles
from jupyter_k8stty.exec.profiles import (
    NAME_ALPHABET,
    PROFILES,
    DebugSpec,
    check_image,
    debug_container_name,
    ephemeral_container,
    ephemeral_container_patch,
    node_debug_pod,
    node_debug_pod_name,
)

# kubectl v1.32 `kubectl debug demo --image=busybox --target=main --profile=P -it -v=2`.
KUBECTL_PATCHES = {
    "general": '{"spec":{"ephemeralContainers":[{"image":"busybox","name":"debugger-s2njs",'
               '"resources":{},"securityContext":{"capabilities":{"add":["SYS_PTRACE"]}},'
               '"stdin":true,"targetContainerName":"main","terminationMessagePolicy":"File",'
               '"tty":true}]}}',
    "baseline": '{"spec":{"ephemeralContainers":[{"image":"busybox","name":"debugger-s2njs",'
                '"resources":{},"stdin":true,"targetContainerName":"main",'
                '"terminationMessagePolicy":"File","tty":true}]}}',
    "restricted": '{"spec":{"ephemeralContainers":[{"image":"busybox","name":"debugger-s2njs",'
                  '"resources":{},"securityContext":{"allowPrivilegeEscalation":false,'
                  '"capabilities":{"drop":["ALL"]},"runAsNonRoot":true,'
                  '"seccompProfile":{"type":"RuntimeDefault"}},"stdin":true,'
                  '"targetContainerName":"main","terminationMessagePolicy":"File","tty":true}]}}',
    "netadmin": '{"spec":{"ephemeralContainers":[{"image":"busybox","name":"debugger-s2njs",'
                '"resources":{},"securityContext":{"capabilities":{"add":["NET_ADMIN","NET_RAW"]}},'
                '"stdin":true,"targetContainerName":"main","terminationMessagePolicy":"File",'
                '"tty":true}]}}',
    "sysadmin": '{"spec":{"ephemeralContainers":[{"image":"busybox","name":"debugger-s2njs",'
                '"resources":{},"securityContext":{"privileged":true},"stdin":true,'
                '"targetContainerName":"main","terminationMessagePolicy":"File","tty":true}]}}',
}

POD = {"metadata": {"name": "demo", "namespace": "default"},
       "spec": {"containers": [{"name": "main"}, {"name": "sidecar"}]}}


def compact(body: dict) -> str:
    return json.dumps(body, separators=(",", ":"))


@pytest.mark.parametrize("profile", list(KUBECTL_PATCHES))
def test_patch_is_byte_for_byte_kubectls(profile, monkeypatch):
    monkeypatch.delenv(profiles.DEBUG_IMAGE_ENV, raising=False)
    spec = DebugSpec(target_container="main", profile=profile)
    body = ephemeral_container_patch(POD, ephemeral_container(spec, "debugger-s2njs"))
    assert compact(body) == KUBECTL_PATCHES[profile]


def test_patch_with_a_command_and_no_target_is_kubectls():
    # kubectl debug demo --image=registry.example.com/tools/busybox:1.36 -it -- sh -c 'echo hi'
    expected = ('{"spec":{"ephemeralContainers":[{"command":["sh","-c","echo hi"],'
                '"image":"registry.example.com/tools/busybox:1.36","name":"debugger-rdsbd",'
                '"resources":{},"securityContext":{"capabilities":{"add":["SYS_PTRACE"]}},'
                '"stdin":true,"terminationMessagePolicy":"File","tty":true}]}}')
    spec = DebugSpec("registry.example.com/tools/busybox:1.36", command=["sh", "-c", "echo hi"])
    assert compact(ephemeral_container_patch(POD, ephemeral_container(spec, "debugger-rdsbd"))) == expected


def test_patch_keeps_the_order_of_earlier_debug_containers():
    # What kubectl sends to a pod that already has debugger-aaaaa (recorded from a fake server).
    expected = ('{"spec":{"$setElementOrder/ephemeralContainers":[{"name":"debugger-aaaaa"},'
                '{"name":"debugger-dzpk2"}],"ephemeralContainers":[{"image":"busybox",'
                '"name":"debugger-dzpk2","resources":{},"securityContext":{"capabilities":'
                '{"add":["SYS_PTRACE"]}},"stdin":true,"targetContainerName":"main",'
                '"terminationMessagePolicy":"File","tty":true}]}}')
    pod = {**POD, "spec": {**POD["spec"], "ephemeralContainers": [{"name": "debugger-aaaaa"}]}}
    spec = DebugSpec("busybox", target_container="main")
    assert compact(ephemeral_container_patch(pod, ephemeral_container(spec, "debugger-dzpk2"))) == expected


def test_debug_container_names_use_the_kubernetes_alphabet():
    names = {debug_container_name(POD) for _ in range(200)}
    assert all(re.fullmatch(rf"debugger-[{NAME_ALPHABET}]{{5}}", n) for n in names)
    assert len(names) > 190  # random, not a counter
    assert not set("aeiou013") & set("".join(n[9:] for n in names))


def test_debug_container_name_avoids_every_container_of_the_pod(monkeypatch):
    suffixes = iter(["taken", "inits", "fresh"])
    monkeypatch.setattr(profiles, "random_suffix", lambda length=5: next(suffixes))
    pod = {"spec": {"containers": [{"name": "main"}], "initContainers": [{"name": "debugger-inits"}],
                    "ephemeralContainers": [{"name": "debugger-taken"}]}}
    assert debug_container_name(pod) == "debugger-fresh"


def test_node_debug_pod_name_pattern():
    assert re.fullmatch(rf"node-debugger-ip-10-0-0-1\.ec2\.internal-[{NAME_ALPHABET}]{{5}}",
                        node_debug_pod_name("ip-10-0-0-1.ec2.internal"))


def test_node_debug_pod_with_the_general_profile_gets_the_host():
    pod = node_debug_pod(DebugSpec("busybox"), "gpu-1", "node-debugger-gpu-1-x2x2x")
    assert pod["metadata"] == {"name": "node-debugger-gpu-1-x2x2x",
                               "labels": {"app.kubernetes.io/managed-by": "kubectl-debug"}}
    spec = pod["spec"]
    assert (spec["hostPID"], spec["hostNetwork"], spec["hostIPC"]) == (True, True, True)
    assert spec["nodeName"] == "gpu-1" and spec["restartPolicy"] == "Never"
    assert spec["tolerations"] == [{"operator": "Exists"}]
    assert spec["volumes"] == [{"name": "host-root", "hostPath": {"path": "/"}}]
    (container,) = spec["containers"]
    assert container == {"name": "debugger", "image": "busybox", "resources": {},
                         "volumeMounts": [{"name": "host-root", "mountPath": "/host"}],
                         "terminationMessagePolicy": "File", "stdin": True, "tty": True}


@pytest.mark.parametrize("profile, host, root, context", [
    ("general", True, True, None),
    ("baseline", False, False, None),
    ("restricted", False, False, {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                  "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}),
    ("netadmin", True, False, {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}}),
    ("sysadmin", True, True, {"privileged": True}),
])
def test_node_debug_pod_follows_kubectls_profiles(profile, host, root, context):
    # As kubectl's profiles.go: baseline and restricted give up the host to pass Pod Security.
    spec = node_debug_pod(DebugSpec("busybox", profile=profile), "n1", "p")["spec"]
    assert spec.get("hostPID", False) == spec.get("hostNetwork", False) == spec.get("hostIPC", False) == host
    assert ("volumes" in spec) == root
    assert ("volumeMounts" in spec["containers"][0]) == root
    assert spec["containers"][0].get("securityContext") == context


def test_profiles_hand_out_copies():
    first = ephemeral_container(DebugSpec("busybox"), "debugger-bbbbb")
    first["securityContext"]["capabilities"]["add"].append("SYS_ADMIN")
    again = ephemeral_container(DebugSpec("busybox"), "debugger-ccccc")
    assert again["securityContext"] == {"capabilities": {"add": ["SYS_PTRACE"]}}
    assert set(PROFILES) == {"general", "baseline", "restricted", "netadmin", "sysadmin"}


def test_node_debug_pod_refuses_a_target_container():
    with pytest.raises(ArgumentError, match="pods, not to a node"):
        node_debug_pod(DebugSpec("busybox", target_container="main"), "n1", "p")


def test_default_image_is_busybox_unless_the_environment_says(monkeypatch):
    monkeypatch.delenv(profiles.DEBUG_IMAGE_ENV, raising=False)
    assert DebugSpec().image == "busybox"
    monkeypatch.setenv(profiles.DEBUG_IMAGE_ENV, "mirror.corp:5000/tools/busybox:1.36")
    assert DebugSpec().image == "mirror.corp:5000/tools/busybox:1.36"
    assert DebugSpec("alpine:3").image == "alpine:3"
    monkeypatch.setenv(profiles.DEBUG_IMAGE_ENV, "Not An Image")
    with pytest.raises(ArgumentError, match="JUPYTER_K8STTY_DEBUG_IMAGE: invalid debug image"):
        DebugSpec()


@pytest.mark.parametrize("image", [
    "busybox", "busybox:1.36", "library/busybox", "registry.example.com:5000/team/busybox:1.36",
    "localhost/tools", "[::1]:5000/busybox", "busybox@sha256:" + "a" * 64,
    "ghcr.io/nicolaka/netshoot:v0.13", "gcr.io/distroless/base-debian12:debug",
])
def test_valid_images_pass(image):
    assert check_image(image) == image


@pytest.mark.parametrize("image", ["", "Busybox", "busy box", ":1.36", "busybox:", "a//b",
                                   "busybox@sha256:short", "-busybox", "busybox\n", 3])
def test_invalid_images_are_refused_before_any_request(image):
    with pytest.raises(ArgumentError, match="debug image"):
        check_image(image)


def test_unknown_profile_lists_the_five():
    with pytest.raises(ArgumentError, match="general, baseline, restricted, netadmin, sysadmin"):
        DebugSpec("busybox", profile="legacy")


def test_debug_spec_of_what_debug_accepts(monkeypatch):
    monkeypatch.delenv(profiles.DEBUG_IMAGE_ENV, raising=False)
    assert DebugSpec.of(None) is None and DebugSpec.of(False) is None
    assert DebugSpec.of(True) == DebugSpec("busybox")
    assert DebugSpec.of("alpine", target_container="main", profile="restricted") == \
        DebugSpec("alpine", target_container="main", profile="restricted")
    base = DebugSpec("alpine", command=("sh",))
    assert DebugSpec.of(base, profile="sysadmin") == DebugSpec("alpine", profile="sysadmin", command=("sh",))
    with pytest.raises(ArgumentError, match="needs debug="):
        DebugSpec.of(None, profile="restricted")
    with pytest.raises(ArgumentError, match="debug= takes"):
        DebugSpec.of(3)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="container name"):
        DebugSpec("busybox", target_container="Main")
    with pytest.raises(ArgumentError, match="list of arguments"):
        DebugSpec("busybox", command="sh")  # type: ignore[arg-type]
