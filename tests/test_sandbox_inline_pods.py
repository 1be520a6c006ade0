"""The sandbox's compact ``--pods`` form, down to a distroless container that has no shell."""

from __future__ import annotations

import pytest

from jupyter_k8stty import StreamError, run
from jupyter_k8stty.sandbox import Sandbox
from jupyter_k8stty.sandbox.podspec import DEFAULT_CONTAINER_ANNOTATION, parse_inline_pods


def test_the_help_example_parses_into_the_pods_it_names():
    pods = {p.name: p for p in parse_inline_pods(
        "demo:main+sidecar, worker-{0..2}, team-a/analytics, done@succeeded, "
        "model:server=gcr.io/distroless/python3")}
    assert sorted(pods) == ["analytics", "demo", "done", "model", "worker-0", "worker-1", "worker-2"]
    assert pods["demo"].containers == ("main", "sidecar")
    assert pods["demo"].annotations == {DEFAULT_CONTAINER_ANNOTATION: "main"}
    assert pods["worker-1"].labels == {"app": "worker"} and pods["worker-1"].containers == ("main",)
    assert pods["analytics"].namespace == "team-a" and pods["demo"].namespace == "default"
    assert pods["done"].phase == "Succeeded"
    assert pods["model"].containers == ("server",)
    assert pods["model"].images == {"server": "gcr.io/distroless/python3"}


@pytest.mark.parametrize("text", ["Demo", "demo:", "demo@", "a/b/c", "demo:main=", "demo:+x"])
def test_a_bad_entry_names_the_form(text):
    with pytest.raises(ValueError, match=r"bad pod entry .*\[NAMESPACE/\]NAME"):
        parse_inline_pods(text)


def test_a_distroless_image_has_no_shell_as_on_a_real_node():
    with Sandbox(pods=parse_inline_pods("model:server=gcr.io/distroless/python3,shell")) as sb:
        with pytest.raises(StreamError, match=r'exec: "sh": executable file not found in \$PATH'):
            run("model", ["sh", "-c", "true"], kubeconfig=sb.kubeconfig_path, timeout=10)
        assert run("shell", ["sh", "-c", "echo ok"], kubeconfig=sb.kubeconfig_path).stdout == b"ok\n"
