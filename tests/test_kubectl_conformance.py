"""The real kubectl against the sandbox: get, exec, and an interactive terminal under tmux."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

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
