"""The sandbox serves workloads (apps/v1, batch/v1, services) and real kubectl agrees with our picks."""

from __future__ import annotations

import os
import shutil
import subprocess

import kubernetes
import pytest

from jupyter_k8stty.exec.resolve import resolve_pods
from jupyter_k8stty.sandbox import PodSpec, Sandbox
from jupyter_k8stty.sandbox import workloads as wl

KUBECTL_TIMEOUT = 60


def kubectl(kubeconfig: str, *args: str) -> subprocess.CompletedProcess[str]:
    assert shutil.which("kubectl"), "kubectl is required: /usr/bin/kubectl"
    return subprocess.run(["kubectl", *args], env={**os.environ, "KUBECONFIG": kubeconfig},
                          capture_output=True, text=True, timeout=KUBECTL_TIMEOUT,
                          stdin=subprocess.DEVNULL)


def api(kubeconfig: str) -> kubernetes.client.ApiClient:
    return kubernetes.config.new_client_from_config(config_file=kubeconfig)


def test_discovery_lists_the_workload_groups(kubeconfig):
    client = api(kubeconfig)
    groups = kubernetes.client.ApisApi(client).get_api_versions().groups
    assert {g.name for g in groups} == {"apps", "batch"}
    apps = kubernetes.client.AppsV1Api(client).get_api_resources().resources
    assert {(r.name, tuple(r.short_names or ())) for r in apps} == {
        ("deployments", ("deploy",)), ("statefulsets", ("sts",)), ("daemonsets", ("ds",)),
        ("replicasets", ("rs",))}
    batch = kubernetes.client.BatchV1Api(client).get_api_resources().resources
    assert [r.name for r in batch] == ["jobs"]
    core = kubernetes.client.CoreV1Api(client).get_api_resources().resources
    assert ("services", ["svc"]) in [(r.name, r.short_names) for r in core]


def test_workload_objects_are_realistic(kubeconfig):
    client = api(kubeconfig)
    apps = kubernetes.client.AppsV1Api(client)
    deploy = apps.read_namespaced_deployment("web", "default")
    assert deploy.spec.selector.match_labels == {"app": "web"}
    assert (deploy.spec.replicas, deploy.status.ready_replicas) == (2, 2)
    [rs] = apps.list_namespaced_replica_set("default").items
    assert rs.metadata.owner_references[0].uid == deploy.metadata.uid
    assert rs.spec.selector.match_labels["pod-template-hash"] == rs.metadata.name.split("-")[-1]
    sts = apps.read_namespaced_stateful_set("db", "default")
    assert [c.name for c in sts.spec.template.spec.containers] == ["postgres", "metrics"]
    job = kubernetes.client.BatchV1Api(client).read_namespaced_job("backup", "default")
    uid = job.metadata.uid
    assert job.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    assert job.status.active == 1
    core = kubernetes.client.CoreV1Api(client)
    svc = core.read_namespaced_service("web", "default")
    assert svc.spec.selector == {"app": "web"} and svc.spec.ports[0].port == 80
    pods = core.list_namespaced_pod("default", label_selector="app=web").items
    assert {p.metadata.owner_references[0].name for p in pods} == {rs.metadata.name}
    job_pod = core.list_namespaced_pod(
        "default", label_selector=f"batch.kubernetes.io/controller-uid={uid}").items[0]
    assert job_pod.metadata.owner_references[0].kind == "Job"
    with pytest.raises(kubernetes.client.ApiException) as err:
        apps.read_namespaced_deployment("nope", "default")
    assert err.value.status == 404


@pytest.mark.parametrize("target", ["deploy/web", "svc/web", "sts/db", "job/backup",
                                    "rs/web-5wpwzq2zt6", "pod/demo"])
def test_kubectl_exec_picks_the_same_pod(kubeconfig, target):
    result = kubectl(kubeconfig, "exec", target, "--", "sh", "-c", "echo $HOSTNAME")
    assert result.returncode == 0, result.stderr
    ours = resolve_pods(target, kubeconfig=kubeconfig)[0]
    assert result.stdout.strip() == ours.name
    if ours.note:  # kubectl prints the same note on stderr
        assert ours.note in result.stderr


def test_kubectl_and_we_agree_on_a_daemonset_and_a_pending_pod(tmp_path):
    # web-x: two pods, the older one Pending; both kubectl and we prefer the Running one.
    pods = wl.deployment("mixed", 2, pod_suffixes=("aaaaa", "bbbbb"), ages=(60.0, 9000.0))
    pods[1].pods[1].phase = "Pending"
    with Sandbox(pods=[], workloads=[pods, wl.daemonset("agent")]) as sb:
        for target in ("deploy/mixed", "ds/agent"):
            result = kubectl(sb.kubeconfig_path, "exec", target, "--", "sh", "-c",
                             "echo $HOSTNAME")
            assert result.returncode == 0, result.stderr
            assert result.stdout.strip() == resolve_pods(target,
                                                         kubeconfig=sb.kubeconfig_path)[0].name
        assert resolve_pods("deploy/mixed", kubeconfig=sb.kubeconfig_path)[0].name.endswith(
            "-aaaaa")


def test_kubectl_get_workloads(kubeconfig):
    result = kubectl(kubeconfig, "get", "deploy,sts,job,svc", "-o", "name")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["deployment.apps/web", "statefulset.apps/db",
                                     "job.batch/backup", "service/web"]


def test_restricted_user_gets_rbac_shaped_403(fresh_sandbox, tmp_path):
    token = fresh_sandbox.add_user("dev", allow=["get pods", "list pods in team-a"])
    path = fresh_sandbox.write_kubeconfig(tmp_path / "dev", token=token)
    assert kubectl(path, "get", "pod", "demo", "-o", "name").stdout.strip() == "pod/demo"
    result = kubectl(path, "get", "pods")
    assert result.returncode != 0
    assert ('pods is forbidden: User "dev" cannot list resource "pods" in API group "" in the '
            'namespace "default"') in result.stderr
    assert kubectl(path, "get", "pods", "-n", "team-a", "-o", "name").stdout.split() == [
        "pod/analytics"]
    result = kubectl(path, "exec", "demo", "--", "true")
    assert result.returncode != 0
    assert 'cannot create resource "pods/exec"' in result.stderr


def test_set_phase_drives_workload_status(fresh_sandbox):
    client = api(fresh_sandbox.kubeconfig_path)
    apps = kubernetes.client.AppsV1Api(client)
    fresh_sandbox.set_phase("default", "db-0", "Pending")
    assert not apps.read_namespaced_stateful_set("db", "default").status.ready_replicas
    fresh_sandbox.add_pod(PodSpec("extra", labels={"app": "db"}))
    assert [r.name for r in resolve_pods("sts/db", kubeconfig=fresh_sandbox.kubeconfig_path,
                                         all_pods=True)] == ["extra"]


def test_discovery_serves_every_registry_kind(kubeconfig):
    import json

    from jupyter_k8stty.exec.kinds import KINDS

    def raw(path: str) -> dict:
        result = kubectl(kubeconfig, "get", "--raw", path)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    served = {("", r["name"]): r for r in raw("/api/v1")["resources"]}
    for group in raw("/apis")["groups"]:
        for version in group["versions"]:
            served.update({(group["name"], r["name"]): r
                           for r in raw(f"/apis/{version['groupVersion']}")["resources"]})
    for kind in KINDS:
        res = served[(kind.group, kind.plural)]
        assert (res["kind"], res["singularName"], tuple(res.get("shortNames", ()))) == (
            kind.kind, kind.singular, kind.short)
    result = kubectl(kubeconfig, "get", "--raw", "/apis/apps/v1/jobs")
    assert result.returncode != 0 and "NotFound" in result.stderr
