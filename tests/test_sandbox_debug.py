"""The sandbox's debugging surface over raw HTTP: ephemeral containers, their refusals, nodes, pods.

Each answer is compared with what the real API server sends (Status bodies word for word),
since the client side of issue 11 is built against real clusters.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import websocket

from jupyter_k8stty.exec import protocol
from jupyter_k8stty.sandbox import PodSpec, Sandbox
from jupyter_k8stty.sandbox.testing import (
    api_request,
    client_context,
    open_attach,
    run_exec,
    wait_for,
)

STATUS_TIMEOUT = 10.0
SMP = "application/strategic-merge-patch+json"
DEMO = "/api/v1/namespaces/default/pods/demo"


def debug_container(name: str = "debugger-ab12c", image: str = "busybox", **extra: Any) -> dict:
    """The ephemeral container kubectl debug -it --target=main generates."""
    return {"name": name, "image": image, "resources": {}, "stdin": True, "tty": True,
            "targetContainerName": "main", "terminationMessagePolicy": "File", **extra}


def add_debug(sb: Sandbox, pod: str = "demo", namespace: str = "default",
              **container: Any) -> tuple[int, Any]:
    patch = {"spec": {"ephemeralContainers": [debug_container(**container)]}}
    return api_request(sb, "PATCH", f"/api/v1/namespaces/{namespace}/pods/{pod}/ephemeralcontainers",
                       patch, content_type=SMP)


def ephemeral_status(sb: Sandbox, name: str, pod: str = "demo",
                     namespace: str = "default") -> dict:
    code, body = api_request(sb, "GET", f"/api/v1/namespaces/{namespace}/pods/{pod}")
    assert code == 200, body
    return next(s for s in body["status"].get("ephemeralContainerStatuses", []) if s["name"] == name)


def wait_state(sb: Sandbox, name: str, predicate: Callable[[dict], bool], **where: str) -> dict:
    found = wait_for(lambda: (lambda s: s if predicate(s) else None)(ephemeral_status(sb, name, **where)),
                     STATUS_TIMEOUT)
    assert found, ephemeral_status(sb, name, **where)
    return found


@pytest.fixture
def slow_start(k8s_sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    return k8s_sandbox_factory(container_start_delay=0.5)


# ---- ephemeral containers ---------------------------------------------------------------

def test_debug_patch_adds_a_container_that_starts_and_runs_commands(slow_start: Sandbox) -> None:
    code, pod = add_debug(slow_start)
    assert code == 200, pod
    [spec] = pod["spec"]["ephemeralContainers"]
    assert spec == {**debug_container(), "terminationMessagePath": "/dev/termination-log",
                    "imagePullPolicy": "Always"}
    assert ephemeral_status(slow_start, "debugger-ab12c")["state"] == {
        "waiting": {"reason": "ContainerCreating"}}
    running = wait_state(slow_start, "debugger-ab12c", lambda s: "running" in s["state"])
    assert running["image"] == "docker.io/library/busybox:latest" and running["ready"] is False
    result = run_exec(slow_start, "demo", ["sh", "-c", "echo $KUBERNETES_CONTAINER"],
                      container="debugger-ab12c")
    assert result.stdout == b"debugger-ab12c\n" and result.status == {"metadata": {},
                                                                       "status": "Success"}


@pytest.mark.parametrize("content_type,patch", [
    ("application/json-patch+json",
     [{"op": "add", "path": "/spec/ephemeralContainers", "value": [debug_container()]}]),
    ("application/merge-patch+json", {"spec": {"ephemeralContainers": [debug_container()]}}),
])
def test_json_and_merge_patches_are_accepted(fresh_sandbox: Sandbox, content_type: str,
                                             patch: Any) -> None:
    code, pod = api_request(fresh_sandbox, "PATCH", f"{DEMO}/ephemeralcontainers", patch,
                            content_type=content_type)
    assert code == 200, pod
    assert [c["name"] for c in pod["spec"]["ephemeralContainers"]] == ["debugger-ab12c"]


def test_put_replaces_the_list_from_a_whole_pod(fresh_sandbox: Sandbox) -> None:
    code, pod = api_request(fresh_sandbox, "GET", f"{DEMO}/ephemeralcontainers")
    pod["spec"]["ephemeralContainers"] = [debug_container()]
    pod["spec"]["containers"][0]["image"] = "ignored:1"  # the subresource changes nothing else
    code, updated = api_request(fresh_sandbox, "PUT", f"{DEMO}/ephemeralcontainers", pod)
    assert code == 200, updated
    assert [c["name"] for c in updated["spec"]["ephemeralContainers"]] == ["debugger-ab12c"]
    assert updated["spec"]["containers"][0]["image"] != "ignored:1"


def test_a_second_debug_container_keeps_the_first(fresh_sandbox: Sandbox) -> None:
    assert add_debug(fresh_sandbox)[0] == 200
    # kubectl's patch for a pod that already has one names both in $setElementOrder.
    patch = {"spec": {"$setElementOrder/ephemeralContainers": [{"name": "debugger-ab12c"},
                                                                {"name": "debugger-zz999"}],
                      "ephemeralContainers": [debug_container("debugger-zz999")]}}
    code, pod = api_request(fresh_sandbox, "PATCH", f"{DEMO}/ephemeralcontainers", patch,
                            content_type=SMP)
    assert code == 200, pod
    assert [c["name"] for c in pod["spec"]["ephemeralContainers"]] == ["debugger-ab12c",
                                                                       "debugger-zz999"]


def test_ephemeral_containers_cannot_be_changed_or_removed(fresh_sandbox: Sandbox) -> None:
    assert add_debug(fresh_sandbox)[0] == 200
    code, body = api_request(fresh_sandbox, "PATCH", f"{DEMO}/ephemeralcontainers",
                             {"spec": {"ephemeralContainers": None}},
                             content_type="application/merge-patch+json")
    assert code == 422 and body["reason"] == "Invalid"
    assert body["message"] == ('Pod "demo" is invalid: spec.ephemeralContainers: Forbidden: '
                               'existing ephemeral containers "debugger-ab12c" may not be removed\n')
    code, body = add_debug(fresh_sandbox, image="alpine")
    assert code == 422
    assert body["message"].startswith('Pod "demo" is invalid: spec.ephemeralContainers: Forbidden: '
                                      'existing ephemeral containers "debugger-ab12c" may not be '
                                      'changed\n')
    assert body["details"]["causes"][0]["reason"] == "FieldValueForbidden"


def test_name_must_be_unique_and_target_must_exist(fresh_sandbox: Sandbox) -> None:
    code, body = add_debug(fresh_sandbox, name="sidecar", targetContainerName="ghost")
    assert code == 422
    assert body == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'Pod "demo" is invalid: [spec.ephemeralContainers[0].name: Duplicate value: '
                   '"sidecar", spec.ephemeralContainers[0].targetContainerName: Not found: "ghost"]',
        "reason": "Invalid",
        "details": {"name": "demo", "kind": "Pod", "causes": [
            {"reason": "FieldValueDuplicate", "message": 'Duplicate value: "sidecar"',
             "field": "spec.ephemeralContainers[0].name"},
            {"reason": "FieldValueNotFound", "message": 'Not found: "ghost"',
             "field": "spec.ephemeralContainers[0].targetContainerName"}]},
        "code": 422}
    code, body = add_debug(fresh_sandbox, ports=[{"containerPort": 80}])
    assert code == 422 and body["message"] == (
        'Pod "demo" is invalid: spec.ephemeralContainers[0].ports: Forbidden: cannot be set for '
        'an Ephemeral Container')


def test_other_patch_types_are_unsupported(fresh_sandbox: Sandbox) -> None:
    code, body = api_request(fresh_sandbox, "PATCH", f"{DEMO}/ephemeralcontainers", {"spec": {}},
                             content_type="application/apply-patch+yaml")
    assert code == 415 and body["reason"] == "UnsupportedMediaType"


def test_unpullable_image_ends_in_image_pull_backoff(fresh_sandbox: Sandbox) -> None:
    assert add_debug(fresh_sandbox, image="registry.example/does-not-exist:1.0")[0] == 200
    ref = "registry.example/does-not-exist:1.0"
    pulling = wait_state(fresh_sandbox, "debugger-ab12c",
                         lambda s: s["state"].get("waiting", {}).get("reason") == "ErrImagePull")
    assert pulling["state"]["waiting"]["message"] == (
        f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": '
        f'failed to resolve reference "{ref}": {ref}: not found')
    backoff = wait_state(fresh_sandbox, "debugger-ab12c",
                         lambda s: s["state"]["waiting"]["reason"] == "ImagePullBackOff")
    assert backoff["state"]["waiting"]["message"] == f'Back-off pulling image "{ref}"'


def test_unpullable_images_are_configurable(k8s_sandbox_factory: Callable[..., Sandbox]) -> None:
    sb = k8s_sandbox_factory(unpullable_images=("mirror.internal/",), container_start_delay=0.0)
    assert add_debug(sb, image="mirror.internal/busybox")[0] == 200
    assert add_debug(sb, name="debugger-ok", image="does-not-exist")[0] == 200
    wait_state(sb, "debugger-ab12c", lambda s: "waiting" in s["state"]
               and s["state"]["waiting"]["reason"] != "ContainerCreating")
    wait_state(sb, "debugger-ok", lambda s: "running" in s["state"])


RESTRICTED_CONTEXT = {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                      "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def test_restricted_namespace_refuses_a_container_without_the_restricted_context(
        k8s_sandbox_factory: Callable[..., Sandbox]) -> None:
    sb = k8s_sandbox_factory(pods=[PodSpec("model-0", namespace="secure-ns")],
                             pod_security={"secure-ns": "restricted"})
    code, ns = api_request(sb, "GET", "/api/v1/namespaces/secure-ns")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    code, body = add_debug(sb, pod="model-0", namespace="secure-ns")
    assert code == 403
    assert body == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'pods "model-0" is forbidden: violates PodSecurity "restricted:latest": '
                   'allowPrivilegeEscalation != false (container "debugger-ab12c" must set '
                   'securityContext.allowPrivilegeEscalation=false), unrestricted capabilities '
                   '(container "debugger-ab12c" must set securityContext.capabilities.drop=["ALL"]), '
                   'runAsNonRoot != true (pod or container "debugger-ab12c" must set '
                   'securityContext.runAsNonRoot=true), seccompProfile (pod or container '
                   '"debugger-ab12c" must set securityContext.seccompProfile.type to '
                   '"RuntimeDefault" or "Localhost")',
        "reason": "Forbidden", "details": {"name": "model-0", "kind": "pods"}, "code": 403}
    # What kubectl debug --profile=restricted sets is admitted.
    code, body = add_debug(sb, pod="model-0", namespace="secure-ns",
                           securityContext=RESTRICTED_CONTEXT)
    assert code == 200, body


def test_baseline_namespace_refuses_the_general_profiles_ptrace(
        k8s_sandbox_factory: Callable[..., Sandbox]) -> None:
    sb = k8s_sandbox_factory(pods=[PodSpec("app", namespace="team")])
    sb.set_pod_security("team", "baseline")
    code, body = add_debug(sb, pod="app", namespace="team",
                           securityContext={"capabilities": {"add": ["SYS_PTRACE"]}})
    assert code == 403
    assert body["message"] == ('pods "app" is forbidden: violates PodSecurity "baseline:latest": '
                               'non-default capabilities (container "debugger-ab12c" must not '
                               'include "SYS_PTRACE" in securityContext.capabilities.add)')


def test_a_cluster_older_than_1_23_has_no_ephemeralcontainers_subresource(
        k8s_sandbox_factory: Callable[..., Sandbox]) -> None:
    sb = k8s_sandbox_factory(kubernetes_version="v1.22.17")
    assert api_request(sb, "GET", "/version")[1]["gitVersion"] == "v1.22.17"
    code, body = add_debug(sb)
    assert (code, body) == (404, {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "the server could not find the requested resource", "reason": "NotFound",
        "details": {}, "code": 404})
    names = {r["name"] for r in api_request(sb, "GET", "/api/v1")[1]["resources"]}
    assert "pods/ephemeralcontainers" not in names and "pods/attach" in names


def test_missing_permissions_are_refused_in_rbac_words(fresh_sandbox: Sandbox) -> None:
    sb = fresh_sandbox
    jane = sb.add_user("jane", ["get pods", "list pods"])
    code, body = api_request(sb, "PATCH", f"{DEMO}/ephemeralcontainers",
                             {"spec": {"ephemeralContainers": [debug_container()]}},
                             content_type=SMP, token=jane)
    assert code == 403 and body["message"] == (
        'pods "demo" is forbidden: User "jane" cannot patch resource "pods/ephemeralcontainers" '
        'in API group "" in the namespace "default"')
    refusals = {
        ("GET", "/api/v1/nodes"): 'nodes is forbidden: User "jane" cannot list resource "nodes" '
                                  'in API group "" at the cluster scope',
        ("GET", "/api/v1/nodes/sandbox-node"): 'nodes "sandbox-node" is forbidden: User "jane" '
                                               'cannot get resource "nodes" in API group "" at the '
                                               'cluster scope',
        ("POST", "/api/v1/namespaces/default/pods"): 'pods is forbidden: User "jane" cannot '
                                                     'create resource "pods" in API group "" in '
                                                     'the namespace "default"',
        ("DELETE", DEMO): 'pods "demo" is forbidden: User "jane" cannot delete resource "pods" '
                          'in API group "" in the namespace "default"',
    }
    for (method, path), message in refusals.items():
        code, body = api_request(sb, method, path, {} if method == "POST" else None, token=jane)
        assert (code, body["message"]) == (403, message)
    with pytest.raises(websocket.WebSocketBadStatusException) as err:
        open_attach(sb, "demo", token=jane)
    assert err.value.status_code == 403
    assert 'cannot create resource "pods/attach"' in json.loads(err.value.resp_body)["message"]
    allowed = sb.add_user("debugger", ["get pods", "patch pods/ephemeralcontainers",
                                       "create pods/attach", "list nodes", "get nodes"])
    code, body = api_request(sb, "PATCH", f"{DEMO}/ephemeralcontainers",
                             {"spec": {"ephemeralContainers": [debug_container()]}},
                             content_type=SMP, token=allowed)
    assert code == 200, body
    assert api_request(sb, "GET", "/api/v1/nodes", token=allowed)[0] == 200


# ---- distroless -------------------------------------------------------------------------

def test_a_distroless_container_has_no_shell_but_a_debug_container_does(
        k8s_sandbox_factory: Callable[..., Sandbox]) -> None:
    sb = k8s_sandbox_factory(pods=[PodSpec("model-0", images={"main": "gcr.io/distroless/python3"},
                                           commands={"main": ("python3", "-c",
                                                              "import time; time.sleep(600)")})],
                             container_start_delay=0.0)
    result = run_exec(sb, "model-0", ["sh", "-c", "echo hi"])
    assert result.status is not None and result.status["reason"] == "InternalError"
    assert 'exec: "sh": executable file not found in $PATH: unknown' in result.status["message"]
    assert protocol.parse_status(json.dumps(result.status).encode()).exit_code is None
    assert run_exec(sb, "model-0", ["/bin/ls"]).status["message"].endswith(
        'exec: "/bin/ls": stat /bin/ls: no such file or directory: unknown')
    # Its own entrypoint is there.
    assert run_exec(sb, "model-0", ["python3", "-c", "print(6*7)"]).stdout == b"42\n"
    assert add_debug(sb, pod="model-0")[0] == 200
    wait_state(sb, "debugger-ab12c", lambda s: "running" in s["state"], pod="model-0")
    assert run_exec(sb, "model-0", ["sh", "-c", "echo shell"],
                    container="debugger-ab12c").stdout == b"shell\n"


def test_dockershim_reported_a_missing_shell_as_exit_code_126(
        k8s_sandbox_factory: Callable[..., Sandbox]) -> None:
    sb = k8s_sandbox_factory(pods=[PodSpec("model-0", images={"main": "gcr.io/distroless/static"})],
                             container_runtime="docker")
    result = run_exec(sb, "model-0", ["sh"])
    assert result.stderr == (b'OCI runtime exec failed: exec failed: unable to start container '
                             b'process: exec: "sh": executable file not found in $PATH: unknown\r\n')
    assert protocol.parse_status(json.dumps(result.status).encode()).exit_code == 126


# ---- nodes, pod create and delete, watch ---------------------------------------------------

def test_nodes_are_listed_with_their_labels(fresh_sandbox: Sandbox) -> None:
    code, nodes = api_request(fresh_sandbox, "GET", "/api/v1/nodes")
    assert code == 200 and nodes["kind"] == "NodeList"
    names = [n["metadata"]["name"] for n in nodes["items"]]
    assert names == ["sandbox-node", "sandbox-worker", "sandbox-gpu"]
    labels = nodes["items"][1]["metadata"]["labels"]
    assert labels["kubernetes.io/os"] == "linux"
    assert labels["kubernetes.io/hostname"] == "sandbox-worker"
    code, node = api_request(fresh_sandbox, "GET", "/api/v1/nodes/sandbox-gpu")
    assert node["status"]["capacity"]["nvidia.com/gpu"] == "1"
    code, table = api_request(fresh_sandbox, "GET", "/api/v1/nodes",
                              headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    assert [r["cells"][:3] for r in table["rows"]][0] == ["sandbox-node", "Ready", "control-plane"]
    code, body = api_request(fresh_sandbox, "GET", "/api/v1/nodes/ghost")
    assert (code, body["message"]) == (404, 'nodes "ghost" not found')
    code, pods = api_request(fresh_sandbox, "GET",
                             "/api/v1/pods?fieldSelector=spec.nodeName%3Dsandbox-node")
    assert len(pods["items"]) > 0


def node_debug_pod(name: str = "node-debugger-sandbox-worker-x1y2z") -> dict:
    """The pod kubectl debug node/sandbox-worker -it --image=busybox creates (legacy profile)."""
    return {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": name},
            "spec": {"volumes": [{"name": "host-root", "hostPath": {"path": "/"}}],
                     "containers": [{"name": "debugger", "image": "busybox", "resources": {},
                                     "volumeMounts": [{"name": "host-root", "mountPath": "/host"}],
                                     "terminationMessagePolicy": "File", "stdin": True,
                                     "tty": True}],
                     "restartPolicy": "Never", "nodeName": "sandbox-worker", "hostNetwork": True,
                     "hostPID": True, "hostIPC": True,
                     "tolerations": [{"operator": "Exists"}]},
            "status": {}}


def pod_phase(sb: Sandbox, name: str) -> str | None:
    code, pod = api_request(sb, "GET", f"/api/v1/namespaces/default/pods/{name}")
    return pod["status"]["phase"] if code == 200 else None


def test_a_node_debug_pod_runs_a_shell_with_the_host_root_and_is_deleted(
        fresh_sandbox: Sandbox) -> None:
    sb = fresh_sandbox
    name = "node-debugger-sandbox-worker-x1y2z"
    code, pod = api_request(sb, "POST", "/api/v1/namespaces/default/pods", node_debug_pod())
    assert code == 201, pod
    assert pod["status"]["phase"] == "Pending" and pod["spec"]["nodeName"] == "sandbox-worker"
    assert pod["spec"]["hostPID"] is True and pod["spec"]["restartPolicy"] == "Never"
    assert wait_for(lambda: pod_phase(sb, name) == "Running", STATUS_TIMEOUT)
    code, pod = api_request(sb, "GET", f"/api/v1/namespaces/default/pods/{name}")
    assert pod["status"]["podIP"] == "10.0.0.2"  # the host's network
    result = run_exec(sb, name, ["sh", "-c", "cat host/etc/hostname; echo $HOSTNAME"])
    assert result.stdout.decode().splitlines() == [open("/etc/hostname").read().strip(),
                                                   "sandbox-worker"]
    code, again = api_request(sb, "POST", "/api/v1/namespaces/default/pods", node_debug_pod())
    assert (code, again["reason"], again["message"]) == (409, "AlreadyExists",
                                                         f'pods "{name}" already exists')
    code, deleted = api_request(sb, "DELETE", f"/api/v1/namespaces/default/pods/{name}")
    assert code == 200 and deleted["kind"] == "Pod" and "deletionTimestamp" in deleted["metadata"]
    assert wait_for(lambda: pod_phase(sb, name) is None, STATUS_TIMEOUT)
    code, body = api_request(sb, "DELETE", f"/api/v1/namespaces/default/pods/{name}")
    assert (code, body["message"]) == (404, f'pods "{name}" not found')


def test_pod_create_is_validated_and_admitted(k8s_sandbox_factory: Callable[..., Sandbox]) -> None:
    sb = k8s_sandbox_factory(pod_security={"secure-ns": "restricted"})
    code, body = api_request(sb, "POST", "/api/v1/namespaces/default/pods",
                             {"metadata": {"name": "empty"}, "spec": {"containers": []}})
    assert (code, body["message"]) == (422, 'Pod "empty" is invalid: spec.containers: Required value')
    elsewhere = node_debug_pod("x")
    elsewhere["metadata"]["namespace"] = "team-a"
    code, body = api_request(sb, "POST", "/api/v1/namespaces/default/pods", elsewhere)
    assert (code, body["message"]) == (400, "the namespace of the provided object does not match "
                                             "the namespace sent on the request")
    code, body = api_request(sb, "POST", "/api/v1/namespaces/secure-ns/pods", node_debug_pod("nd"))
    assert code == 403
    assert body["message"] == (
        'pods "nd" is forbidden: violates PodSecurity "restricted:latest": host namespaces '
        '(hostNetwork=true, hostPID=true, hostIPC=true), allowPrivilegeEscalation != false '
        '(container "debugger" must set securityContext.allowPrivilegeEscalation=false), '
        'unrestricted capabilities (container "debugger" must set '
        'securityContext.capabilities.drop=["ALL"]), restricted volume types (volume "host-root" '
        'uses restricted volume type "hostPath"), runAsNonRoot != true (pod or container '
        '"debugger" must set securityContext.runAsNonRoot=true), seccompProfile (pod or '
        'container "debugger" must set securityContext.seccompProfile.type to "RuntimeDefault" '
        'or "Localhost")')


def test_a_pod_on_an_unknown_node_stays_pending(fresh_sandbox: Sandbox) -> None:
    pod = node_debug_pod("nowhere")
    pod["spec"]["nodeName"] = "ghost-node"
    assert api_request(fresh_sandbox, "POST", "/api/v1/namespaces/default/pods", pod)[0] == 201
    time.sleep(0.8)
    assert pod_phase(fresh_sandbox, "nowhere") == "Pending"


def watch_events(sb: Sandbox, query: str, until: Callable[[list[dict]], bool]) -> list[dict]:
    """Read a pod watch until ``until(events)`` holds."""
    conn = http.client.HTTPSConnection(sb.host, sb.port, context=client_context(sb), timeout=10)
    conn.request("GET", f"/api/v1/namespaces/default/pods?watch=true&{query}",
                 headers={"Authorization": f"Bearer {sb.token}"})
    resp = conn.getresponse()
    assert resp.status == 200
    events: list[dict] = []
    try:
        while not until(events):
            line = resp.readline()
            if not line:
                break
            events.append(json.loads(line))
    finally:
        conn.close()
    return events


def test_watch_follows_a_pod_from_creation_to_deletion(fresh_sandbox: Sandbox) -> None:
    sb = fresh_sandbox
    name = "node-debugger-sandbox-worker-x1y2z"
    selector = f"fieldSelector=metadata.name%3D{name}"
    code, listed = api_request(sb, "GET", f"/api/v1/namespaces/default/pods?{selector}")
    version = listed["metadata"]["resourceVersion"]
    assert api_request(sb, "POST", "/api/v1/namespaces/default/pods", node_debug_pod())[0] == 201
    assert wait_for(lambda: pod_phase(sb, name) == "Running", STATUS_TIMEOUT)
    api_request(sb, "DELETE", f"/api/v1/namespaces/default/pods/{name}")
    events = watch_events(sb, f"{selector}&resourceVersion={version}",
                          lambda ev: bool(ev) and ev[-1]["type"] == "DELETED")
    kinds = [e["type"] for e in events]
    assert kinds[0] == "ADDED" and kinds[-1] == "DELETED" and "MODIFIED" in kinds
    assert {e["object"]["metadata"]["name"] for e in events} == {name}
    phases = [e["object"]["status"]["phase"] for e in events]
    assert phases[0] == "Pending" and "Running" in phases
    too_old = watch_events(sb, "resourceVersion=1", lambda ev: bool(ev))
    assert too_old[0]["type"] == "ERROR" and too_old[0]["object"]["code"] == 410


def test_protobuf_pod_bodies_are_decoded(fresh_sandbox: Sandbox) -> None:
    def field(number: int, payload: bytes | int | str) -> bytes:
        def varint(n: int) -> bytes:
            out = b""
            while True:
                out += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
                n >>= 7
                if not n:
                    return out
        if isinstance(payload, int):
            return varint(number << 3) + varint(payload)
        data = payload.encode() if isinstance(payload, str) else payload
        return varint(number << 3 | 2) + varint(len(data)) + data

    context = field(7, 0) + field(5, 1)  # allowPrivilegeEscalation=false, runAsNonRoot=true
    container = (field(1, "debugger") + field(2, "busybox") + field(15, context) + field(16, 1)
                 + field(18, 1) + field(13, "") + field(14, ""))
    spec = field(2, container) + field(10, "sandbox-worker") + field(12, 1) + field(3, "Never")
    pod = field(1, field(1, "pb-pod")) + field(2, spec)
    body = b"k8s\x00" + field(1, field(1, "v1") + field(2, "Pod")) + field(2, pod)
    code, created = api_request(fresh_sandbox, "POST", "/api/v1/namespaces/default/pods", body,
                                content_type="application/vnd.kubernetes.protobuf")
    assert code == 201, created
    [container_json] = created["spec"]["containers"]
    assert container_json["securityContext"] == {"allowPrivilegeEscalation": False,
                                                 "runAsNonRoot": True}
    assert container_json["stdin"] is True and container_json["imagePullPolicy"] == "Always"
    assert created["spec"]["hostPID"] is True and "hostNetwork" not in created["spec"]


# ---- logs --------------------------------------------------------------------------------

def test_logs_show_the_main_process_output(k8s_sandbox_factory: Callable[..., Sandbox]) -> None:
    sb = k8s_sandbox_factory(pods=[PodSpec("ticker", commands={
        "main": ("sh", "-c", "echo started; sleep 600")})])
    assert wait_for(lambda: api_request(sb, "GET", "/api/v1/namespaces/default/pods/ticker/log")[1]
                    == b"started\n", STATUS_TIMEOUT)
