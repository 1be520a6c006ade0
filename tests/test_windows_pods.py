"""Windows containers (issue 14 item 6): PowerShell, else cmd.exe, instead of the POSIX shell;
scripts and copies say they need a POSIX shell and tar.

The sandbox has a Windows-labelled node; its pods run on this Linux machine, where
``cmd.exe`` does not exist, so the exec request for it fails with the runtime's own
words, which name the program asked for.
"""

from __future__ import annotations

import pytest

from jupyter_k8stty import ExecSession, K8sTTYError, StreamError, copy_to, run
from jupyter_k8stty.errors import CopyError
from jupyter_k8stty.exec.platform import WINDOWS_HINT, WINDOWS_SHELL, pod_os
from jupyter_k8stty.sandbox import NodeSpec, PodSpec, Sandbox
from jupyter_k8stty.sandbox.nodes import default_nodes


@pytest.fixture(scope="module")
def windows(tmp_path_factory):
    nodes = [*default_nodes(), NodeSpec("win-node", "10.0.0.9", labels={"kubernetes.io/os": "windows"})]
    # A Windows image has no sh; the sandbox gives an image named *distroless* none either.
    winapp = PodSpec("winapp", node="win-node",
                     images={"main": "mcr.microsoft.com/windows/nanoserver-distroless:ltsc2022"})
    with Sandbox(pods=[winapp, PodSpec("linuxapp")], nodes=nodes) as sb:
        yield sb.kubeconfig_path


def test_pod_os_from_spec_selector_or_node_labels():
    assert pod_os({"spec": {"os": {"name": "windows"}}}) == "windows"
    assert pod_os({"spec": {"nodeSelector": {"kubernetes.io/os": "windows"}}}) == "windows"
    assert pod_os({"spec": {}}, {"kubernetes.io/os": "windows"}) == "windows"
    assert pod_os({"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}}}) == "linux"
    assert pod_os({}) == "linux"


def test_a_windows_pod_gets_powershell_or_cmd(windows):
    session = ExecSession("winapp", kubeconfig=windows)
    try:
        session.start().wait(10)
    except K8sTTYError:
        pass  # the sandbox has no cmd.exe: the exec itself fails, naming the program
    assert session.status == "error"
    assert session.pod_os == "windows"
    assert session.command == WINDOWS_SHELL
    assert 'cmd.exe' in (session.error or "")
    linux = ExecSession("linuxapp", ["true"], tty=False, stdin=False, kubeconfig=windows).start()
    assert linux.wait(10) == 0 and linux.pod_os == "linux"


def test_scripts_and_copies_say_they_need_a_posix_shell(windows, tmp_path):
    with pytest.raises(StreamError) as info:
        run("winapp", ["sh", "-c", "true"], kubeconfig=windows, timeout=10)
    assert WINDOWS_HINT in str(info.value)
    local = tmp_path / "f.txt"
    local.write_text("x")
    with pytest.raises((CopyError, StreamError)) as info:
        copy_to("winapp", local, "/tmp/f.txt", kubeconfig=windows, progress=False)
    assert WINDOWS_HINT in str(info.value)
