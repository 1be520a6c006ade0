"""The real kubectl against the sandbox: get, exec, an interactive terminal, debug and attach under tmux."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jupyter_k8stty.sandbox import PodSpec, Sandbox

KUBECTL_TIMEOUT = 60
PANE_TIMEOUT = 20
POLL_INTERVAL = 0.05

# kubectl and tmux are part of the test environment (scripts/dev.sh installs tmux):
# a missing one is a failure, not a skip.


def kubectl(kubeconfig: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", *args], env={**os.environ, "KUBECONFIG": kubeconfig},
                          capture_output=True, text=True, timeout=KUBECTL_TIMEOUT,
                          stdin=subprocess.DEVNULL)


def test_kubectl_picks_a_websocket_capable_version(kubeconfig: str) -> None:
    assert shutil.which("kubectl"), "kubectl is required: /usr/bin/kubectl"
    result = kubectl(kubeconfig, "version")
    assert result.returncode == 0, result.stderr
    assert "Server Version: v1.32.0" in result.stdout


def test_get_pods(kubeconfig: str) -> None:
    result = kubectl(kubeconfig, "get", "pods")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    rows = {line.split()[0]: line.split()[1:3] for line in lines[1:]}
    assert rows["demo"] == ["2/2", "Running"]
    assert rows["finished"] == ["0/1", "Completed"]
    assert {"worker-0", "worker-1", "worker-2"} <= set(rows)
    assert "analytics" not in rows


def test_get_pods_all_namespaces_with_selector(kubeconfig: str) -> None:
    result = kubectl(kubeconfig, "get", "pods", "-A", "-l", "app in (analytics,demo)",
                     "-o", "name")
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.split()) == ["pod/analytics", "pod/demo"]


def test_exec_exit_code(kubeconfig: str) -> None:
    result = kubectl(kubeconfig, "exec", "demo", "--", "sh", "-c", "echo out; exit 3")
    assert result.returncode == 3
    assert result.stdout == "out\n"


def test_exec_in_named_container(kubeconfig: str) -> None:
    result = kubectl(kubeconfig, "exec", "demo", "-c", "sidecar", "--", "sh", "-c",
                     "echo $KUBERNETES_CONTAINER")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "sidecar\n"


def test_exec_with_piped_stdin(kubeconfig: str) -> None:
    result = subprocess.run(["kubectl", "exec", "-i", "worker-1", "--", "wc", "-l"],
                            env={**os.environ, "KUBECONFIG": kubeconfig}, input="a\nb\nc\n",
                            capture_output=True, text=True, timeout=KUBECTL_TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3"


def test_exec_into_completed_pod_fails(kubeconfig: str) -> None:
    result = kubectl(kubeconfig, "exec", "finished", "--", "true")
    assert result.returncode != 0
    assert "cannot exec into a container in a completed pod; current phase is Succeeded" in \
        result.stderr


def test_exec_unknown_pod_and_container(kubeconfig: str) -> None:
    result = kubectl(kubeconfig, "exec", "ghost", "--", "true")
    assert result.returncode != 0 and 'pods "ghost" not found' in result.stderr
    result = kubectl(kubeconfig, "exec", "demo", "-c", "ghost", "--", "true")
    assert result.returncode != 0
    assert "container ghost is not valid for pod demo" in result.stderr


class Tmux:
    """A tmux server on a private socket, so tests never touch a user's sessions."""

    def __init__(self) -> None:
        self.socket = f"k8stty-test-{uuid.uuid4().hex[:12]}"

    def __call__(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True,
                              capture_output=True, text=True, timeout=10).stdout

    def pane(self) -> str:
        return self("capture-pane", "-p", "-t", "main")

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + PANE_TIMEOUT
        while True:
            screen = self.pane()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not appear on the pane:\n{screen}")
            time.sleep(POLL_INTERVAL)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       timeout=10)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    assert shutil.which("tmux"), "tmux is required for the interactive kubectl test"
    server = Tmux()
    try:
        yield server
    finally:
        server.kill()


def test_interactive_terminal_follows_tmux_resize(kubeconfig: str, tmux: Tmux) -> None:
    tmux("new-session", "-d", "-s", "main", "-x", "100", "-y", "30",
         f"env KUBECONFIG={kubeconfig} kubectl exec -it demo -- bash --norc --noprofile; "
         "echo KUBECTL-EXIT=$?; sleep 600")
    tmux.wait_for("bash-")  # the prompt (bash-5.2$ or #) came through the PTY
    tmux("send-keys", "-t", "main", "echo container=$KUBERNETES_CONTAINER; stty size", "Enter")
    tmux.wait_for("30 100")
    assert "container=main" in tmux.pane()
    tmux("resize-window", "-t", "main", "-x", "120", "-y", "40")
    tmux("send-keys", "-t", "main", "clear; stty size", "Enter")
    tmux.wait_for("40 120")
    tmux("send-keys", "-t", "main", "exit 5", "Enter")
    tmux.wait_for("KUBECTL-EXIT=5")


# ---- issue 11: kubectl debug, attach and node shells against the sandbox -----------------

def start_kubectl(tmux: Tmux, kubeconfig: str, command: str, env: str = "") -> None:
    """Run ``kubectl COMMAND`` in a 120x30 pane; its exit code is printed when it ends."""
    tmux("new-session", "-d", "-s", "main", "-x", "120", "-y", "30",
         f"env KUBECONFIG={kubeconfig} {env} kubectl {command}; echo KUBECTL-EXIT=$?; sleep 600")


def type_line(tmux: Tmux, text: str) -> None:
    tmux("send-keys", "-t", "main", text, "Enter")


def test_kubectl_debug_opens_a_shell_in_an_ephemeral_container(
        k8s_sandbox_factory: Callable[..., Sandbox], tmux: Tmux) -> None:
    kc = k8s_sandbox_factory().kubeconfig_path
    start_kubectl(tmux, kc, "debug -it demo --image=busybox --target=main -- sh")
    tmux.wait_for("If you don't see a command prompt")
    type_line(tmux, "echo debug-$((6*7)) in $KUBERNETES_CONTAINER")
    screen = tmux.wait_for("debug-42 in debugger-")
    match = re.search(r"debug-42 in (debugger-[a-z0-9]{5})", screen)
    assert match, screen
    assert 'Targeting container "main"' in screen
    type_line(tmux, "exit")
    assert "Session ended, the ephemeral container will not be restarted" in tmux.wait_for(
        "KUBECTL-EXIT=0")
    result = kubectl(kc, "get", "pod", "demo", "-o", "jsonpath={.spec.ephemeralContainers[*].name}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == match.group(1)


def test_kubectl_attach_joins_the_interactive_main_process_and_leaves_it_running(
        k8s_sandbox_factory: Callable[..., Sandbox], tmux: Tmux) -> None:
    sb = k8s_sandbox_factory(pods=[PodSpec("repl", commands={"main": ("python3", "-i", "-q")},
                                           stdin=("main",), tty=("main",))])
    start_kubectl(tmux, sb.kubeconfig_path, "attach -it repl")
    tmux.wait_for("If you don't see a command prompt")
    type_line(tmux, "answer = 6 * 7; print('answer', answer)")
    tmux.wait_for("answer 42")
    pod = sb.pods.get("default", "repl")
    pid = sb.kubelet.process(pod, "main").pid
    tmux.kill()  # kubectl dies with its terminal: the client is gone, not the process
    again = Tmux()
    try:
        start_kubectl(again, sb.kubeconfig_path, "attach -it repl -c main")
        again.wait_for("If you don't see a command prompt")
        type_line(again, "print('still', answer)")
        again.wait_for("still 42")
    finally:
        again.kill()
    assert sb.kubelet.process(pod, "main").pid == pid


def test_kubectl_debug_node_opens_a_host_shell_and_delete_cleans_up(
        k8s_sandbox_factory: Callable[..., Sandbox], tmux: Tmux) -> None:
    kc = k8s_sandbox_factory().kubeconfig_path
    start_kubectl(tmux, kc, "debug node/sandbox-worker -it --image=busybox")
    screen = tmux.wait_for("If you don't see a command prompt")
    match = re.search(r"Creating debugging pod (node-debugger-sandbox-worker-[a-z0-9]{5}) with "
                      r"container debugger on node sandbox-worker", screen.replace("\n", ""))
    assert match, screen
    type_line(tmux, "cat host/etc/hostname; echo on-$HOSTNAME")
    tmux.wait_for("on-sandbox-worker")
    assert open("/etc/hostname").read().strip() in tmux.pane()
    type_line(tmux, "exit")
    tmux.wait_for("KUBECTL-EXIT=0")
    name = match.group(1)
    result = kubectl(kc, "get", "pod", name, "-o", "jsonpath={.spec.nodeName} {.spec.hostPID} "
                     "{.spec.volumes[0].hostPath.path} {.status.phase}")
    assert result.stdout == "sandbox-worker true / Succeeded", result.stderr
    result = kubectl(kc, "delete", "pod", name)
    assert result.returncode == 0 and f'pod "{name}" deleted' in result.stdout, result.stderr
    result = kubectl(kc, "get", "pod", name)
    assert result.returncode != 0 and f'pods "{name}" not found' in result.stderr


def test_kubectl_run_it_rm_creates_attaches_and_deletes_a_pod(
        k8s_sandbox_factory: Callable[..., Sandbox], tmux: Tmux) -> None:
    kc = k8s_sandbox_factory().kubeconfig_path
    start_kubectl(tmux, kc, "run -it --rm scratch --image=busybox --restart=Never -- sh")
    tmux.wait_for("If you don't see a command prompt")
    type_line(tmux, "echo run-$((6*7))")
    tmux.wait_for("run-42")
    type_line(tmux, "exit")
    assert 'pod "scratch" deleted' in tmux.wait_for("KUBECTL-EXIT=0")
    assert "scratch" not in kubectl(kc, "get", "pods", "-o", "name").stdout


def test_kubectl_delete_stops_a_running_node_pod(k8s_sandbox_factory: Callable[..., Sandbox]) -> None:
    kc = k8s_sandbox_factory().kubeconfig_path
    result = kubectl(kc, "debug", "node/sandbox-gpu", "--image=busybox", "--", "sleep", "600")
    assert result.returncode == 0, result.stderr
    name = re.search(r"node-debugger-sandbox-gpu-[a-z0-9]{5}", result.stdout).group(0)
    deadline = time.monotonic() + PANE_TIMEOUT
    while kubectl(kc, "get", "pod", name, "-o", "jsonpath={.status.phase}").stdout != "Running":
        assert time.monotonic() < deadline, "the node pod never ran"
        time.sleep(POLL_INTERVAL)
    started = time.monotonic()
    result = kubectl(kc, "delete", "pod", name)  # waits until the pod is gone
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 10
    assert kubectl(kc, "get", "pods", "-o", "name").stdout.count("node-debugger") == 0


def test_kubectl_debug_refusals_read_as_on_a_cluster(
        k8s_sandbox_factory: Callable[..., Sandbox], tmp_path: Path) -> None:
    sb = k8s_sandbox_factory(pods=[PodSpec("model-0", namespace="secure-ns")],
                             pod_security={"secure-ns": "restricted"})
    base = ("debug", "-n", "secure-ns", "model-0", "--image=busybox")
    result = kubectl(sb.kubeconfig_path, *base, "--", "true")
    assert result.returncode == 1
    assert re.search(r'Error from server \(Forbidden\): pods "model-0" is forbidden: violates '
                     r'PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
                     r'\(container "debugger-[a-z0-9]{5}" must set', result.stderr), result.stderr
    result = kubectl(sb.kubeconfig_path, *base, "--profile=restricted", "--", "true")
    assert result.returncode == 0, result.stderr
    jane = sb.write_kubeconfig(tmp_path / "jane", token=sb.add_user("jane", ["get pods"]))
    result = kubectl(jane, *base, "--", "true")
    assert result.returncode == 1
    assert ('pods "model-0" is forbidden: User "jane" cannot patch resource '
            '"pods/ephemeralcontainers" in API group "" in the namespace "secure-ns"') in result.stderr
    old = k8s_sandbox_factory(kubernetes_version="v1.22.17")
    result = kubectl(old.kubeconfig_path, "debug", "demo", "--image=busybox", "--", "true")
    assert result.returncode == 1
    assert ('ephemeral containers are disabled for this cluster (error from server: "the server '
            'could not find the requested resource")') in result.stderr


@pytest.mark.parametrize("runtime,code,message", [
    ("containerd", 1, 'error: Internal error occurred: error executing command in container: '),
    ("docker", 126, "command terminated with exit code 126"),
])
def test_kubectl_exec_of_sh_in_a_distroless_container_fails_as_on_a_node(
        k8s_sandbox_factory: Callable[..., Sandbox], runtime: str, code: int, message: str) -> None:
    sb = k8s_sandbox_factory(pods=[PodSpec("model-0", images={"main": "gcr.io/distroless/static"})],
                             container_runtime=runtime)
    result = kubectl(sb.kubeconfig_path, "exec", "model-0", "--", "sh", "-c", "true")
    assert result.returncode == code
    assert message in result.stderr
    assert 'exec: "sh": executable file not found in $PATH: unknown' in result.stdout + result.stderr


KUBECTL_RELEASES = sorted(p.name.removeprefix("kubectl.") for p in Path(
    "/usr/lib/google-cloud-sdk/bin").glob("kubectl.1.*"))


@pytest.mark.parametrize("release", KUBECTL_RELEASES)
def test_every_kubectl_release_adds_a_debug_container(fresh_sandbox: Sandbox, release: str) -> None:
    """Patch, watch and pod create as each release sends them (1.27 and 1.28 attach over SPDY
    only, which the sandbox refuses as it does for exec; so no -it here)."""
    binary = f"/usr/lib/google-cloud-sdk/bin/kubectl.{release}"
    env = {**os.environ, "KUBECONFIG": fresh_sandbox.kubeconfig_path}
    result = subprocess.run([binary, "debug", "worker-1", "--image=busybox", "--", "true"], env=env,
                            capture_output=True, text=True, timeout=KUBECTL_TIMEOUT)
    assert result.returncode == 0, result.stderr
    name = re.search(r"debugger-[a-z0-9]{5}", result.stdout + result.stderr).group(0)
    names = subprocess.run([binary, "get", "pod", "worker-1", "-o",
                            "jsonpath={.spec.ephemeralContainers[*].name}"], env=env,
                           capture_output=True, text=True, timeout=KUBECTL_TIMEOUT).stdout
    assert names == name
    result = subprocess.run([binary, "debug", "node/sandbox-node", "--image=busybox", "--",
                             "true"], env=env, capture_output=True, text=True,
                            timeout=KUBECTL_TIMEOUT)
    assert result.returncode == 0, result.stderr
    pod = re.search(r"node-debugger-sandbox-node-[a-z0-9]{5}", result.stdout).group(0)
    result = subprocess.run([binary, "delete", "pod", pod], env=env, capture_output=True,
                            text=True, timeout=KUBECTL_TIMEOUT)
    assert result.returncode == 0 and "deleted" in result.stdout, result.stderr


@pytest.mark.parametrize("release", [r for r in KUBECTL_RELEASES if int(r.split(".")[1]) >= 29])
def test_websocket_releases_attach_to_their_debug_container(
        k8s_sandbox_factory: Callable[..., Sandbox], tmux: Tmux, release: str) -> None:
    """kubectl 1.29 and 1.30 exec and attach over websockets only when asked to."""
    kc = k8s_sandbox_factory().kubeconfig_path
    binary = f"/usr/lib/google-cloud-sdk/bin/kubectl.{release}"
    tmux("new-session", "-d", "-s", "main", "-x", "120", "-y", "30",
         f"env KUBECONFIG={kc} KUBECTL_REMOTE_COMMAND_WEBSOCKETS=true {binary} debug -it worker-0 "
         "--image=busybox -- sh; echo KUBECTL-EXIT=$?; sleep 600")
    tmux.wait_for("If you don't see a command prompt")
    type_line(tmux, "echo release-$((6*7))")
    tmux.wait_for("release-42")
    type_line(tmux, "exit")
    tmux.wait_for("KUBECTL-EXIT=0")
