"""The sandbox's REST API, checked with the official Kubernetes Python client and raw HTTPS."""

from __future__ import annotations

import http.client
import json
import os
import stat
import threading
import time

import kubernetes
import pytest
import websocket
from kubernetes.client.rest import ApiException

from jupyter_k8stty.exec import protocol
from jupyter_k8stty.sandbox import PodSpec, Sandbox
from jupyter_k8stty.sandbox.testing import RawExecClient, client_context, exec_path, open_exec

STOP_DEADLINE = 2.5


def core(kubeconfig_path: str) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(
        kubernetes.config.new_client_from_config(config_file=kubeconfig_path))


def raw_get(sb: Sandbox, path: str, headers: dict[str, str] | None = None,
            method: str = "GET", token: str | None = "default") -> tuple[int, bytes]:
    conn = http.client.HTTPSConnection(sb.host, sb.port, context=client_context(sb), timeout=10)
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["Authorization"] = f"Bearer {sb.token if token == 'default' else token}"
    try:
        conn.request(method, path, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_kubeconfig_file(sandbox: Sandbox, kubeconfig: str) -> None:
    assert stat.S_IMODE(os.stat(kubeconfig).st_mode) == 0o600
    config = json.loads(open(kubeconfig).read())
    assert config["current-context"] == sandbox.context_name
    assert config["clusters"][0]["cluster"]["server"] == sandbox.url
    assert config["users"][0]["user"]["token"] == sandbox.token
    assert config["contexts"][0]["context"]["namespace"] == "default"


def test_version_and_discovery(kubeconfig: str) -> None:
    api = kubernetes.config.new_client_from_config(config_file=kubeconfig)
    info = kubernetes.client.VersionApi(api).get_code()
    assert (info.git_version, info.major, info.minor) == ("v1.32.0", "1", "32")
    assert kubernetes.client.CoreApi(api).get_api_versions().versions == ["v1"]
    resources = {r.name for r in kubernetes.client.CoreV1Api(api).get_api_resources().resources}
    assert {"pods", "pods/exec", "pods/log", "namespaces"} <= resources
    groups = kubernetes.client.ApisApi(api).get_api_versions().groups
    assert [(g.name, g.preferred_version.group_version) for g in groups] == [
        ("apps", "apps/v1"), ("batch", "batch/v1")]
    assert "services" in resources


def test_get_pod_is_realistic(kubeconfig: str) -> None:
    pod = core(kubeconfig).read_namespaced_pod("demo", "default")
    assert pod.metadata.labels == {"app": "demo"}
    assert pod.metadata.annotations["kubectl.kubernetes.io/default-container"] == "main"
    assert pod.metadata.uid and pod.metadata.resource_version and pod.metadata.creation_timestamp
    assert [c.name for c in pod.spec.containers] == ["main", "sidecar"]
    assert pod.status.phase == "Running"
    assert pod.status.pod_ip and pod.status.start_time
    assert all(cs.ready and cs.started and cs.state.running for cs in
               pod.status.container_statuses)
    assert {c.type for c in pod.status.conditions} >= {"Ready", "ContainersReady"}


def test_list_and_selectors(kubeconfig: str) -> None:
    api = core(kubeconfig)

    def names(**kwargs: str) -> list[str]:
        return [p.metadata.name for p in api.list_namespaced_pod("default", **kwargs).items]

    # The default workloads (deploy/web, sts/db, job/backup) own pods in "default" too.
    workload_pods = ["backup-fzr9p", "db-0", "web-5wpwzq2zt6-abcde", "web-5wpwzq2zt6-x2kqp"]
    assert names() == sorted(["demo", "finished", "worker-0", "worker-1", "worker-2",
                              *workload_pods])
    assert names(label_selector="app=worker") == ["worker-0", "worker-1", "worker-2"]
    assert names(label_selector="app!=worker") == sorted(["demo", "finished", *workload_pods])
    assert names(label_selector="app in (demo,finished)") == ["demo", "finished"]
    assert names(label_selector="app notin (demo,worker,web,db,backup)") == ["finished"]
    assert names(label_selector="app") == names()
    assert names(label_selector="!app") == []
    assert names(label_selector="app=worker,app!=worker") == []
    assert names(field_selector="metadata.name=demo") == ["demo"]
    assert names(field_selector="status.phase=Succeeded") == ["finished"]
    assert names(field_selector="status.phase!=Running") == ["finished"]
    everywhere = api.list_pod_for_all_namespaces()
    assert ("team-a", "analytics") in {(p.metadata.namespace, p.metadata.name)
                                       for p in everywhere.items}
    assert [p.metadata.name for p in api.list_namespaced_pod("team-a").items] == ["analytics"]
    assert api.list_namespaced_pod("nowhere").items == []


def test_bad_selectors_are_bad_requests(kubeconfig: str) -> None:
    api = core(kubeconfig)
    with pytest.raises(ApiException) as err:
        api.list_namespaced_pod("default", field_selector="spec.bogus=1")
    assert err.value.status == 400
    assert json.loads(err.value.body)["message"] == "field label not supported: spec.bogus"
    with pytest.raises(ApiException) as err:
        api.list_namespaced_pod("default", label_selector="a in (b")
    assert err.value.status == 400


def test_namespaces(kubeconfig: str) -> None:
    api = core(kubeconfig)
    names = {n.metadata.name for n in api.list_namespace().items}
    assert {"default", "team-a", "kube-system"} <= names
    assert api.read_namespace("team-a").status.phase == "Active"
    with pytest.raises(ApiException) as err:
        api.read_namespace("nope")
    assert err.value.status == 404
    assert json.loads(err.value.body)["message"] == 'namespaces "nope" not found'


def test_missing_pod_is_404_status(kubeconfig: str) -> None:
    with pytest.raises(ApiException) as err:
        core(kubeconfig).read_namespaced_pod("nope", "default")
    assert err.value.status == 404
    body = json.loads(err.value.body)
    assert body["kind"] == "Status" and body["reason"] == "NotFound"
    assert body["message"] == 'pods "nope" not found'


def test_table_output(sandbox: Sandbox) -> None:
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    code, body = raw_get(sandbox, "/api/v1/namespaces/default/pods?labelSelector=app%3Dworker",
                         {"Accept": accept})
    assert code == 200
    table = json.loads(body)
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    columns = [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]
    assert columns == ["Name", "Ready", "Status", "Restarts", "Age"]
    rows = table["rows"]
    assert [r["cells"][:4] for r in rows] == [[f"worker-{i}", "1/1", "Running", "0"]
                                              for i in range(3)]
    assert rows[0]["object"]["kind"] == "PartialObjectMetadata"
    code, body = raw_get(sandbox, "/api/v1/namespaces/default/pods/finished", {"Accept": accept})
    assert json.loads(body)["rows"][0]["cells"][1:3] == ["0/1", "Completed"]


def test_unauthorized_without_or_with_wrong_token(sandbox: Sandbox) -> None:
    expected = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
    for token in (None, "wrong"):
        code, body = raw_get(sandbox, "/api/v1/namespaces/default/pods", token=token)
        assert (code, json.loads(body)) == (401, expected)
    with pytest.raises(websocket.WebSocketBadStatusException) as err:
        open_exec(sandbox, "demo", ["true"], token="wrong")
    assert err.value.status_code == 401


def test_unknown_path_and_method(sandbox: Sandbox) -> None:
    code, body = raw_get(sandbox, "/apis/apps/v1/cronthings")
    assert code == 404 and json.loads(body)["reason"] == "NotFound"
    code, body = raw_get(sandbox, "/apis/policy/v1")
    assert code == 404 and json.loads(body)["reason"] == "NotFound"
    # DELETE and POST of pods are real operations now (node shells create and delete pods)
    code, body = raw_get(sandbox, "/api/v1/namespaces/default/pods/demo", method="PUT")
    assert code == 405 and json.loads(body)["kind"] == "Status"


def exec_refusal(sb: Sandbox, pod: str, **kwargs: object) -> tuple[int, dict]:
    with pytest.raises(websocket.WebSocketBadStatusException) as err:
        open_exec(sb, pod, ["true"], **kwargs)
    return err.value.status_code, json.loads(err.value.resp_body)


def test_exec_refusals_match_the_real_server(sandbox: Sandbox) -> None:
    code, body = exec_refusal(sandbox, "nope")
    assert (code, body["reason"], body["message"]) == (404, "NotFound", 'pods "nope" not found')
    code, body = exec_refusal(sandbox, "demo", container="nope")
    assert (code, body["reason"], body["message"]) == (
        400, "BadRequest", "container nope is not valid for pod demo")
    code, body = exec_refusal(sandbox, "finished")
    assert (code, body["reason"], body["message"]) == (
        400, "BadRequest",
        "cannot exec into a container in a completed pod; current phase is Succeeded")
    code, body = exec_refusal(sandbox, "demo", protocols=["v3.channel.k8s.io"])
    assert code == 403 and "not supported" in body["message"]


def test_spdy_exec_is_refused_with_an_explanation(sandbox: Sandbox) -> None:
    code, body = raw_get(sandbox, exec_path("default", "demo", ["true"]),
                         {"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                          "X-Stream-Protocol-Version": "v4.channel.k8s.io"}, method="POST")
    status = json.loads(body)
    assert code == 400 and status["reason"] == "BadRequest"
    assert "only supports exec over websockets" in status["message"]


def test_exec_defaults_to_first_container(sandbox: Sandbox) -> None:
    ws = open_exec(sandbox, "demo", ["sh", "-c", "echo $KUBERNETES_CONTAINER"])
    try:
        assert ws.subprotocol == protocol.V5_PROTOCOL
        frames = []
        while True:
            opcode, data = ws.recv_data()
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                break
            frames.append(data)
    finally:
        ws.close()
    assert frames[0] == b"\x01"  # the empty frame Kubernetes sends first
    assert b"".join(f[1:] for f in frames if f[:1] == b"\x01") == b"main\n"


def test_runtime_pod_changes(fresh_sandbox: Sandbox) -> None:
    sb = fresh_sandbox
    sb.add_pod(PodSpec("late", labels={"app": "late"}, phase="Pending"))
    api = core(sb.kubeconfig_path)
    assert api.read_namespaced_pod("late", "default").status.phase == "Pending"
    code, body = exec_refusal(sb, "late")
    assert code == 500 and "container not found" in body["message"]
    sb.set_phase("default", "late", "Running")
    pod = api.read_namespaced_pod("late", "default")
    assert pod.status.phase == "Running" and pod.status.container_statuses[0].ready
    ws = open_exec(sb, "late", ["true"])
    ws.close()


def test_stop_is_fast_with_busy_connections_and_kills_processes(fresh_sandbox: Sandbox) -> None:
    sb = fresh_sandbox
    # One stream floods output that nobody reads; another holds an idle shell.
    flood = RawExecClient(sb, exec_path("default", "demo", ["sh", "-c", "echo $$; exec yes"]))
    idle = open_exec(sb, "worker-0", ["sh", "-c", "echo $$; exec sleep 600"])
    try:
        pids = []
        first: list[tuple[int, bytes]] = []
        while not first:
            flood.buf += flood.sock.recv(65536)
            first = [f for f in flood.parse_frames() if f[1][:1] == b"\x01" and len(f[1]) > 1]
        pids.append(int(first[0][1][1:].split(b"\n")[0]))
        while True:
            _, data = idle.recv_data()
            if data[1:].strip():
                pids.append(int(data[1:]))
                break
        started = time.monotonic()
        sb.stop()
        assert time.monotonic() - started < STOP_DEADLINE
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        flood.close()
        idle.close()


def test_malformed_client_frames_do_not_break_the_server(fresh_sandbox: Sandbox) -> None:
    sb = fresh_sandbox
    threads_before = threading.active_count()
    # An unmasked frame, an unknown opcode, garbage, and a resize with bad JSON.
    for junk in (b"\x82\x02\x00x", b"\x83\x80abcd", b"\xff" * 64):
        client = RawExecClient(sb, exec_path("default", "demo", ["cat"], stdin=True))
        client.sock.sendall(junk)
        client.count_stdout_until_close()
        client.close()
    ws = open_exec(sb, "demo", ["sh", "-c", "read x; echo got $x"], stdin=True)
    ws.send_binary(b"\x04{not json")
    ws.send_binary(b"\x09unknown channel")
    ws.send_binary(b"\x00hi\n")
    out = b""
    while True:
        opcode, data = ws.recv_data()
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            break
        out += data[1:] if data[:1] == b"\x01" else b""
    ws.close()
    assert out == b"got hi\n"
    # Abrupt disconnects in the middle of a stream.
    for _ in range(3):
        ws = open_exec(sb, "demo", ["sleep", "600"])
        ws.sock.close()
    deadline = time.monotonic() + 5
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= threads_before
    assert core(sb.kubeconfig_path).read_namespaced_pod("demo", "default").metadata.name == "demo"
