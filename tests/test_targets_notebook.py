"""The notebook side of issue 6: %k8sexec targets, the pod picker, tab completion, waiting."""

from __future__ import annotations

import threading
import time

import pytest
from IPython.core.error import UsageError

from jupyter_k8stty.magics import completion as magic
from jupyter_k8stty.sandbox import PodSpec
from jupyter_k8stty.widget import Terminal
from jupyter_k8stty.widget.picker import PodPicker

from .notebook_kernel import in_process_shell

WEB_OLD = "web-5wpwzq2zt6-x2kqp"


@pytest.fixture(scope="module")
def ip():
    return in_process_shell()


@pytest.fixture(autouse=True)
def _fresh_completion_cache():
    magic._completion_cache.clear()


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_magic_opens_a_terminal_into_a_workload(ip, kubeconfig):
    term = ip.run_line_magic("k8sexec", f"deploy/web --kubeconfig {kubeconfig}")
    try:
        assert isinstance(term, Terminal)
        wait_for(lambda: term.status == "connected")
        assert term.title == f"default/{WEB_OLD} (deploy/web) [main]"
        term.send("echo pod=$HOSTNAME\r")
        term.expect(f"pod={WEB_OLD}")
    finally:
        term.close()


def test_magic_selector_and_container_note(ip, kubeconfig):
    term = ip.run_line_magic("k8sexec", f"-l app=db --kubeconfig {kubeconfig} -- sh -c 'echo hi'")
    try:
        assert term.wait(10) == 0
        assert term.note == 'Defaulted container "postgres" out of: postgres, metrics'
        assert 'Defaulted container "postgres" out of: postgres, metrics' in term.output
        assert term.output.index("Defaulted") < term.output.index("hi")
    finally:
        term.close()


def test_magic_rejects_bad_targets_at_once(ip, kubeconfig):
    with pytest.raises(UsageError, match="unknown kind 'cronjob'"):
        ip.run_line_magic("k8sexec", f"cronjob/x --kubeconfig {kubeconfig}")
    with pytest.raises(UsageError, match="invalid pod name 'Web_1'"):
        ip.run_line_magic("k8sexec", f"Web_1 --kubeconfig {kubeconfig}")


def test_terminal_shows_the_wait_for_a_pending_pod(fresh_sandbox):
    fresh_sandbox.add_pod(PodSpec("late", phase="Pending"))
    titles: list[str] = []
    term = Terminal("late", ["sh", "-c", "echo ready; sleep 5"],
                    kubeconfig=fresh_sandbox.kubeconfig_path)
    term.observe(lambda change: titles.append(change["new"]), names="title")
    try:
        wait_for(lambda: term.status == "waiting")
        assert term.title == "waiting for pod default/late (Pending)"
        threading.Timer(0.3, fresh_sandbox.set_phase, ("default", "late", "Running")).start()
        wait_for(lambda: term.status == "connected")
        term.expect("ready")
        assert term.title == "default/late [main]"
    finally:
        term.close()
    assert term.status == "closed"


def test_terminal_error_for_a_completed_pod(kubeconfig):
    term = Terminal("finished", kubeconfig=kubeconfig)
    try:
        wait_for(lambda: term.status == "error")
        assert term.error == ("cannot exec into a container in a completed pod; current phase "
                              "is Succeeded (pod default/finished)")
    finally:
        term.close()


def test_magic_without_target_shows_the_picker(ip, kubeconfig):
    picker = ip.run_line_magic("k8sexec", f"--kubeconfig {kubeconfig}")
    assert isinstance(picker, PodPicker)
    assert {"default", "team-a", "kube-system"} <= set(picker.namespace.options)
    assert picker.namespace.value == "default"
    # Running pods first, by name; completed ones after
    assert picker.pod.options[-1] == "finished"
    assert {"demo", "db-0", WEB_OLD, "worker-0"} <= set(picker.pod.options)
    picker.pod.value = "demo"
    assert picker.container.options == ("main", "sidecar")
    assert picker.container.value == "main"  # the default-container annotation
    picker.pod.value = "db-0"
    assert (picker.container.options, picker.container.value) == (("postgres", "metrics"),
                                                                   "postgres")
    picker.namespace.value = "team-a"
    assert picker.pod.options == ("analytics",)
    picker.namespace.value = "kube-system"
    assert picker.pod.options == () and picker.open_button.disabled
    assert "no pods in namespace kube-system" in picker.message.value
    picker.namespace.value = "default"
    picker.pod.value = "db-0"
    picker.container.value = "metrics"
    picker.open_button.click()
    term = picker.terminal
    try:
        assert isinstance(term, Terminal)
        wait_for(lambda: term.status == "connected")
        assert term.title == "default/db-0 [metrics]"
        assert len(picker.output.outputs) == 1  # displayed below the picker
    finally:
        term.close()


def complete(ip, line):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # Completer.complete
        return ip.complete("", line, len(line))[1]


def test_pod_names_complete_after_the_magic(ip, kubeconfig, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", kubeconfig)
    assert complete(ip, "%k8sexec wo") == ["worker-0", "worker-1", "worker-2"]
    assert complete(ip, "%%k8sexec wo") == ["worker-0", "worker-1", "worker-2"]
    assert {"demo", "db-0", WEB_OLD} <= set(complete(ip, "%k8sexec "))
    assert complete(ip, "%k8sexec de") == ["demo", "deploy/"]
    assert complete(ip, "%k8sexec pod/d") == ["pod/db-0", "pod/demo"]
    assert "team-a" in complete(ip, "%k8sexec -n ")
    assert complete(ip, "%k8sexec -n team-a a") == ["analytics"]
    assert complete(ip, f"%k8sexec --kubeconfig {kubeconfig} -n team-a a") == ["analytics"]
    # after an option that takes a value, nothing is suggested by us
    assert magic.complete_line("%k8sexec -c ") == []
    assert magic.complete_line("%k8sexec demo -- ls ") == []


def test_completion_uses_a_short_lived_cache(ip, fresh_sandbox, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", fresh_sandbox.kubeconfig_path)
    assert complete(ip, "%k8sexec new") == []
    fresh_sandbox.add_pod(PodSpec("newcomer"))
    assert complete(ip, "%k8sexec new") == []  # cached
    monkeypatch.setattr(magic, "COMPLETION_TTL", 0.0)
    assert complete(ip, "%k8sexec new") == ["newcomer"]


def test_completion_without_a_cluster_suggests_nothing(ip, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert magic.complete_line("%k8sexec wo") == []


def test_terminal_title_drops_the_wait_when_the_wait_fails(fresh_sandbox):
    fresh_sandbox.add_pod(PodSpec("stuck", phase="Pending"))
    term = Terminal("stuck", kubeconfig=fresh_sandbox.kubeconfig_path, pod_running_timeout=1.0)
    try:
        wait_for(lambda: term.status == "waiting")
        wait_for(lambda: term.status == "error")
        assert "is not running after" in term.error
        assert term.title == "default/stuck"
    finally:
        term.close()
