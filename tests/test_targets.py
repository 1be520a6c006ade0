"""Targets resolve to pods and containers the way kubectl does (issue 6), on the sandbox."""

from __future__ import annotations

import threading
import time

import pytest

from jupyter_k8stty import ApiError, ExecSession, run
from jupyter_k8stty.errors import TargetError
from jupyter_k8stty.exec.kinds import parse_target
from jupyter_k8stty.exec.resolve import PodRef, most_active, resolve_pods
from jupyter_k8stty.sandbox import PodSpec, Sandbox
from jupyter_k8stty.sandbox import workloads as wl

WEB_OLD = "web-5wpwzq2zt6-x2kqp"  # ready for 2 h: kubectl's pick
WEB_NEW = "web-5wpwzq2zt6-abcde"  # ready for 5 min


@pytest.mark.parametrize("target", ["deploy/web", "deployment/web", "deployments/web",
                                    "deployment.apps/web", "svc/web", "service/web",
                                    "rs/web-5wpwzq2zt6", "replicaset/web-5wpwzq2zt6"])
def test_web_targets_pick_the_longest_ready_pod(kubeconfig, target):
    assert resolve_pods(target, kubeconfig=kubeconfig) == [
        PodRef(WEB_OLD, "default", "main", None)]


@pytest.mark.parametrize("target,pod", [("sts/db", "db-0"), ("statefulset/db", "db-0"),
                                        ("job/backup", "backup-fzr9p"),
                                        ("pod/demo", "demo"), ("po/demo", "demo"),
                                        ("demo", "demo")])
def test_each_kind_resolves(kubeconfig, target, pod):
    [ref] = resolve_pods(target, kubeconfig=kubeconfig)
    assert (ref.name, ref.namespace) == (pod, "default")


def test_daemonset_and_match_expressions():
    ds = wl.daemonset("agent", namespace="ops", containers=("agent", "exporter"))
    expr = wl.statefulset("cache", 2, labels={"app": "cache"})
    expr.selector = {}
    expr.match_expressions = [{"key": "app", "operator": "In", "values": ["cache", "x"]},
                              {"key": "tier", "operator": "DoesNotExist"}]
    with Sandbox(pods=[], workloads=[ds, expr]) as sb:
        [ref] = resolve_pods("ds/agent", namespace="ops", kubeconfig=sb.kubeconfig_path)
        assert ref.name.startswith("agent-") and ref.container == "agent"
        assert ref.note == 'Defaulted container "agent" out of: agent, exporter'
        refs = resolve_pods("sts/cache", kubeconfig=sb.kubeconfig_path, all_pods=True)
        assert [r.name for r in refs] == ["cache-0", "cache-1"]
        # kubectl's pick among equals: ready longest (cache-0 is one second older)
        assert resolve_pods("sts/cache", kubeconfig=sb.kubeconfig_path)[0].name == "cache-0"


def test_selector_and_fan_out(kubeconfig):
    assert resolve_pods(selector="app=web", kubeconfig=kubeconfig)[0].name == WEB_OLD
    refs = resolve_pods("deploy/web", kubeconfig=kubeconfig, all_pods=True)
    assert [r.name for r in refs] == [WEB_NEW, WEB_OLD]
    refs = resolve_pods(selector="app in (worker,finished)", kubeconfig=kubeconfig,
                        all_pods=True)
    assert [r.name for r in refs] == ["worker-0", "worker-1", "worker-2"]  # Running only
    with pytest.raises(ApiError, match="no pods found for label selector 'app=nothing'"):
        resolve_pods(selector="app=nothing", kubeconfig=kubeconfig)
    with pytest.raises(TargetError, match="invalid label selector"):
        resolve_pods(selector="a in (b", kubeconfig=kubeconfig)


def test_activeness_order_matches_kubectl():
    def pod(name, phase="Running", ready="2024-01-01T00:00:00Z", restarts=0,
            created="2024-01-01T00:00:00Z", node="n1"):
        conds = [{"type": "Ready", "status": "True" if ready else "False",
                  "lastTransitionTime": ready or created}]
        return {"metadata": {"name": name, "creationTimestamp": created},
                "spec": {"nodeName": node},
                "status": {"phase": phase, "conditions": conds,
                           "containerStatuses": [{"restartCount": restarts}]}}

    pods = [pod("unscheduled", node=""), pod("pending", "Pending", ready=None),
            pod("unknown", "Unknown", ready=None), pod("notready", ready=None),
            pod("young", ready="2024-01-02T00:00:00Z"), pod("restarted", restarts=3),
            pod("old"), pod("old-twin")]
    order = [p["metadata"]["name"] for p in most_active(pods)]
    assert order == ["old", "old-twin", "restarted", "young", "notready", "unknown", "pending",
                     "unscheduled"]


def test_default_container_rules(kubeconfig):
    # the annotation wins, silently
    assert resolve_pods("demo", kubeconfig=kubeconfig)[0] == PodRef("demo", "default", "main")
    # no annotation, several containers: the first, with kubectl's note
    [ref] = resolve_pods("db-0", kubeconfig=kubeconfig)
    assert (ref.container, ref.note) == ("postgres",
                                         'Defaulted container "postgres" out of: postgres, metrics')
    # explicit -c
    assert resolve_pods("db-0", container="metrics", kubeconfig=kubeconfig)[0].container == "metrics"
    # an unknown container is refused before any exec, naming the valid ones
    with pytest.raises(ApiError, match=r"container ghost is not valid for pod db-0 .*"
                                       r"valid containers: postgres, metrics") as info:
        resolve_pods("db-0", container="ghost", kubeconfig=kubeconfig)
    assert info.value.status == 400


def test_annotation_naming_a_missing_container_falls_back_with_a_note():
    spec = PodSpec("odd", containers=("a", "b"),
                   annotations={"kubectl.kubernetes.io/default-container": "gone"})
    with Sandbox(pods=[spec]) as sb:
        [ref] = resolve_pods("odd", kubeconfig=sb.kubeconfig_path)
        assert ref.container == "a"
        assert ref.note.endswith('Defaulted container "a" out of: a, b')
        assert '"gone"' in ref.note


def test_run_and_session_accept_targets(kubeconfig):
    result = run("deploy/web", ["sh", "-c", "echo $HOSTNAME"], kubeconfig=kubeconfig)
    assert result.stdout.decode().strip() == WEB_OLD
    assert result.pod == f"default/{WEB_OLD}"
    result = run(None, ["sh", "-c", "echo $HOSTNAME"], selector="app=worker",
                 kubeconfig=kubeconfig)
    assert result.stdout.decode().strip() == "worker-0"
    session = ExecSession("sts/db", ["true"], tty=False, stdin=False, kubeconfig=kubeconfig)
    assert session.start().wait(10) == 0
    assert (session.pod, session.container) == ("db-0", "postgres")
    assert session.note == 'Defaulted container "postgres" out of: postgres, metrics'


@pytest.mark.parametrize("target,message", [
    ("Demo", "invalid pod name 'Demo'"),
    ("demo_1", "invalid pod name"),
    ("-demo", "invalid pod name"),
    ("cronjob/x", "unknown kind 'cronjob'"),
    ("deploy/", "invalid Deployment name ''"),
    ("deploy/a/b", "expected KIND/NAME"),
    ("", "no pod given"),
])
def test_invalid_targets_are_rejected_before_any_request(target, message, tmp_path):
    missing = str(tmp_path / "no-kubeconfig")  # any request would fail differently
    with pytest.raises(TargetError, match=message):
        resolve_pods(target, kubeconfig=missing)
    with pytest.raises(ValueError, match=message):
        ExecSession(target, ["true"], kubeconfig=missing)
    with pytest.raises(ValueError, match="invalid namespace"):
        resolve_pods("demo", namespace="Team_A", kubeconfig=missing)
    assert parse_target("deploy/web").kind.plural == "deployments"


def test_not_found_suggests_close_names(kubeconfig):
    with pytest.raises(ApiError) as info:
        resolve_pods("demo1", kubeconfig=kubeconfig)
    assert str(info.value) == 'pods "demo1" not found; did you mean demo?'
    assert info.value.status == 404
    with pytest.raises(ApiError, match=r'deployments.apps "wbe" not found; did you mean web\?'):
        resolve_pods("deploy/wbe", kubeconfig=kubeconfig)
    with pytest.raises(ApiError) as info:
        run("zzz", ["true"], kubeconfig=kubeconfig)
    assert str(info.value) == 'pods "zzz" not found'


def test_completed_pod_is_a_clear_error(kubeconfig):
    with pytest.raises(ApiError, match="cannot exec into a container in a completed pod; "
                                       "current phase is Succeeded"):
        resolve_pods("finished", kubeconfig=kubeconfig)


def test_pending_pod_is_waited_for_until_running(fresh_sandbox):
    fresh_sandbox.add_pod(PodSpec("late", phase="Pending"))
    timer = threading.Timer(0.8, fresh_sandbox.set_phase, ("default", "late", "Running"))
    seen: list[tuple[str, str | None]] = []
    session = ExecSession("late", ["sh", "-c", "echo up"], tty=False, stdin=False,
                          kubeconfig=fresh_sandbox.kubeconfig_path)
    session.on_wait(lambda s: seen.append((s.status, s.phase_note)))
    timer.start()
    try:
        started = time.monotonic()
        assert session.start().wait(10) == 0
        waited = time.monotonic() - started
    finally:
        timer.cancel()
    assert seen and seen[0] == ("waiting", "Pending")
    assert 0.7 < waited < 5
    assert session.phase_note is None


def test_pending_pod_times_out_with_its_state(fresh_sandbox):
    fresh_sandbox.add_pod(PodSpec("stuck", phase="Pending"))
    started = time.monotonic()
    with pytest.raises(ApiError, match=r"pod default/stuck is not running after 0.5 s "
                                       r"\(phase Pending, container main waiting: "
                                       r"ContainerCreating\)"):
        resolve_pods("stuck", kubeconfig=fresh_sandbox.kubeconfig_path, pod_running_timeout=0.5)
    assert time.monotonic() - started < 3


def test_closing_a_waiting_session_stops_the_wait(fresh_sandbox):
    fresh_sandbox.add_pod(PodSpec("never", phase="Pending"))
    session = ExecSession("never", ["true"], tty=False, stdin=False,
                          kubeconfig=fresh_sandbox.kubeconfig_path)
    thread = threading.Thread(target=session.start)
    thread.start()
    deadline = time.monotonic() + 5
    while session.status != "waiting" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert session.status == "waiting"
    session.close()
    thread.join(3)
    assert not thread.is_alive() and session.status == "closed"


def test_workload_waits_for_a_pending_pod(fresh_sandbox):
    fresh_sandbox.add_workload(wl.deployment("slow", 1, phase="Pending"))
    pod = fresh_sandbox.workloads.get("replicasets", "default", next(
        w.name for w in fresh_sandbox.workloads.list("replicasets")
        if w.name.startswith("slow-"))).pods[0].name
    timer = threading.Timer(0.5, fresh_sandbox.set_phase, ("default", pod, "Running"))
    timer.start()
    try:
        assert resolve_pods("deploy/slow", kubeconfig=fresh_sandbox.kubeconfig_path)[0].name == pod
    finally:
        timer.cancel()


def test_forbidden_names_the_missing_permission(fresh_sandbox, tmp_path):
    viewer = fresh_sandbox.add_user("viewer", allow=["get pods", "list pods"])
    path = fresh_sandbox.write_kubeconfig(tmp_path / "viewer", token=viewer)
    # the preflight GET is allowed; the exec is not
    with pytest.raises(ApiError) as info:
        run("demo", ["true"], kubeconfig=path)
    assert info.value.status == 403
    assert str(info.value).startswith("forbidden: you cannot create pods/exec for pod "
                                      "default/demo")
    assert 'User "viewer" cannot create resource "pods/exec"' in str(info.value)
    # no permission to read deployments: said before any exec
    with pytest.raises(ApiError) as info:
        resolve_pods("deploy/web", kubeconfig=path)
    assert info.value.status == 403
    assert str(info.value).startswith(
        "forbidden: you cannot get deployments.apps in namespace default (context "
        "k8stty-sandbox)")
    nobody = fresh_sandbox.add_user("nobody")
    path = fresh_sandbox.write_kubeconfig(tmp_path / "nobody", token=nobody)
    with pytest.raises(ApiError, match="forbidden: you cannot get pods in namespace default"):
        resolve_pods("demo", kubeconfig=path)


def test_rejected_credentials_name_the_context(fresh_sandbox, tmp_path):
    path = fresh_sandbox.write_kubeconfig(tmp_path / "bad", token="wrong", context="prod")
    with pytest.raises(ApiError) as info:
        resolve_pods("demo", kubeconfig=path)
    assert info.value.status == 401
    assert "rejected the credentials of context prod" in str(info.value)
    assert "wrong" not in str(info.value)


def test_unreachable_cluster_fails_within_the_connect_timeout(tmp_path):
    import socket

    # A listening socket that never accepts: TCP connects, TLS never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(0)
        with Sandbox(pods=[]) as sb:
            path = sb.write_kubeconfig(tmp_path / "kc",
                                       server=f"https://127.0.0.1:{silent.getsockname()[1]}")
        started = time.monotonic()
        with pytest.raises(ApiError, match="cannot reach the Kubernetes API server") as info:
            resolve_pods("demo", kubeconfig=path, connect_timeout=0.5)
        assert info.value.status is None
        assert time.monotonic() - started < 5
    # nothing listening at all: refused at once
    with Sandbox(pods=[]) as sb:
        path = sb.write_kubeconfig(tmp_path / "kc2", server="https://127.0.0.1:9")
    started = time.monotonic()
    with pytest.raises(ApiError, match="cannot reach the Kubernetes API server"):
        resolve_pods("demo", kubeconfig=path)
    assert time.monotonic() - started < 5


def test_preflight_is_fast_and_leaves_no_socket(kubeconfig, sandbox):
    import psutil

    resolve_pods("demo", kubeconfig=kubeconfig)  # warm: config loaded, client built
    started = time.monotonic()
    for _ in range(10):
        resolve_pods("deploy/web", kubeconfig=kubeconfig)
    assert (time.monotonic() - started) / 10 < 0.1
    open_to_sandbox = [c for c in psutil.Process().net_connections(kind="tcp")
                       if c.raddr and c.raddr.port == sandbox.port and c.status == "ESTABLISHED"]
    assert open_to_sandbox == []
