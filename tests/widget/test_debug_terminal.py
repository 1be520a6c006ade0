"""Debug containers, attach and node shells in a terminal, in a real kernel (issue 11).

The test plays the browser (see :mod:`.frontend`). The module runs its own sandbox, with
a distroless pod (no shell), pods whose main process takes stdin or not, and a namespace
whose Pod Security level is ``restricted``, and its own kernel on it.
"""

from __future__ import annotations

import re
import time

import pytest

from jupyter_k8stty.sandbox import PodSpec, Sandbox
from jupyter_k8stty.sandbox.pods import default_pods
from jupyter_k8stty.sandbox.testing import api_request

from ..helpers import process_alive, wait_until
from .conftest import SETUP
from .frontend import Comm, Frontend

#: Seconds a debug container, node pod or attach may take to be up in the sandbox.
START_TIMEOUT = 20.0
#: Seconds after close() or a kernel shutdown by which a node debug pod must be gone.
CLEANUP_DEADLINE = 15.0

DISTROLESS = PodSpec("model", images={"main": "gcr.io/distroless/python3-debian12"},
                     labels={"app": "model"})
REPL = PodSpec("repl", commands={"main": ("sh", "-i")}, stdin=("main",), tty=("main",))
TICKER = PodSpec("ticker", commands={"main": ("sh", "-c", "while true; do echo tick; sleep 0.2; done")},
                 tty=("main",))
SECURE = PodSpec("app", namespace="secure")
DEBUGGER_NAME = r"debugger-[bcdfghjklmnpqrstvwxz2456789]{5}"
#: Keeps the kernel's jupyter_k8stty warnings in ``warnings``.
LOG_CAPTURE = """
import logging
warnings = []
class _Capture(logging.Handler):
    def emit(self, record):
        warnings.append(record.getMessage())
logging.getLogger("jupyter_k8stty").addHandler(_Capture(logging.WARNING))
"""


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(pods=[*default_pods(), DISTROLESS, REPL, TICKER, SECURE],
                 pod_security={"secure": "restricted"}) as sb:
        yield sb


@pytest.fixture(scope="module")
def fe(sandbox):
    """This module's kernel (the name lets conftest's autouse fixture close its terminals)."""
    frontend = Frontend()
    try:
        frontend.execute(SETUP.format(kubeconfig=sandbox.kubeconfig_path, port=sandbox.port))
        frontend.execute("get_ipython().run_line_magic('load_ext', 'jupyter_k8stty')")
        yield frontend
    finally:
        frontend.shutdown()


def pod_json(sandbox: Sandbox, name: str, namespace: str = "default") -> tuple[int, dict]:
    return api_request(sandbox, "GET", f"/api/v1/namespaces/{namespace}/pods/{name}")


def ephemeral_names(sandbox: Sandbox, pod: str, namespace: str = "default") -> list[str]:
    code, body = pod_json(sandbox, pod, namespace)
    assert code == 200, body
    return [c["name"] for c in body["spec"].get("ephemeralContainers", [])]


def main_pid(sandbox: Sandbox, pod: str) -> int | None:
    process = sandbox.kubelet.process(sandbox.pods.get("default", pod), "main")
    return process.pid if process is not None else None


def terminal(fe: Frontend, variable: str, code: str) -> Comm:
    """Run ``VARIABLE = CODE`` in the kernel; return the terminal's comm once it settled."""
    fe.execute(f"{variable} = {code}")
    comm = fe.terminal_comm(variable)
    fe.wait_for(lambda: comm.state.get("status") not in ("connecting", "waiting"),
                START_TIMEOUT, what=f"{variable} to start")
    return comm


def connected(fe: Frontend, variable: str, code: str) -> Comm:
    comm = terminal(fe, variable, code)
    assert comm.state["status"] == "connected", comm.state
    return comm


# ---- debug containers ------------------------------------------------------------------


def test_debug_terminal_says_what_it_starts_then_opens_its_shell(fe, sandbox):
    comm = connected(fe, "d1", 'Terminal("demo", debug=True, debug_target="main", kubeconfig=KUBECONFIG)')
    updates = comm.state_updates()
    starting = [u["title"] for u in updates if u.get("title", "").startswith("starting")]
    assert starting and all(re.fullmatch(rf"starting debug container {DEBUGGER_NAME} \(busybox\)", t)
                            for t in starting), updates
    assert any(u.get("status") == "waiting" for u in updates)
    name = fe.eval("d1.session.debug_container")
    assert comm.state["title"] == f"default/demo [{name}]"
    assert fe.eval("d1.session.attach") and not comm.state["read_only"]
    fe.type(comm, "echo answer=$((6 * 7))\r")
    fe.expect_output(comm, b"answer=42")
    fe.expect_output(comm, f"debug container {name} (busybox) added to pod demo".encode())
    assert name in ephemeral_names(sandbox, "demo")


def test_reconnecting_a_debug_terminal_rejoins_its_container(fe, sandbox):
    comm = connected(fe, "d2", 'Terminal("demo", debug="busybox:1.36", kubeconfig=KUBECONFIG)')
    name = fe.eval("d2.session.debug_container")
    before = ephemeral_names(sandbox, "demo")
    fe.type(comm, "MARK=kept-$((40 + 2))\r")
    fe.expect_output(comm, b"MARK=kept-")
    for how in ("button", "method"):
        if how == "button":
            fe.send_custom(comm, {"type": "reconnect"})
        else:
            fe.execute("d2.reconnect()")
        fe.wait_for(lambda: fe.eval("d2.session.status") == "connected", START_TIMEOUT,
                    what=f"reconnect by {how}")
        assert fe.eval("(d2.session.attach, d2.session.container, d2.session.debug_container)") == (
            True, name, None)
    fe.type(comm, "echo mark=$MARK\r")
    fe.expect_output(comm, b"mark=kept-42")
    assert ephemeral_names(sandbox, "demo") == before  # no new container
    assert comm.state["title"] == f"default/demo [{name}]"


@pytest.mark.parametrize(("args", "expected"), [
    ('"demo", debug="registry.example.com/does-not-exist/busybox:1"',
     r"cannot pull its image 'registry.example.com/does-not-exist/busybox:1'.*JUPYTER_K8STTY_DEBUG_IMAGE"),
    ('"app", namespace="secure", debug=True',
     r'violates PodSecurity "restricted:latest".*use --profile restricted'),
])
def test_a_debug_container_that_cannot_start_ends_in_one_line(fe, args, expected):
    comm = terminal(fe, "d3", f"Terminal({args}, kubeconfig=KUBECONFIG)")
    assert comm.state["status"] == "error"
    assert "\n" not in comm.state["error"] and re.search(expected, comm.state["error"]), comm.state
    assert not comm.state["no_shell"]


def test_the_magic_opens_a_restricted_debug_container_in_a_restricted_namespace(fe, sandbox):
    fe.execute("d4 = get_ipython().run_line_magic('k8sexec', "
               "'app -n secure --debug --profile restricted --kubeconfig ' + KUBECONFIG)")
    comm = fe.terminal_comm("d4")
    fe.wait_for(lambda: comm.state.get("status") == "connected", START_TIMEOUT, what="d4")
    assert fe.eval("d4.session.debug.profile") == "restricted"
    fe.type(comm, "echo allowed\r")
    fe.expect_output(comm, b"allowed")
    assert len(ephemeral_names(sandbox, "app", "secure")) == 1


def test_magic_flags_reach_the_terminal(fe):
    fe.execute("d5 = get_ipython().run_line_magic('k8sexec', "
               "'demo --debug busybox:1.36 --target sidecar --profile netadmin --kubeconfig ' + KUBECONFIG)")
    fe.wait_for(lambda: fe.eval("d5.status") not in ("connecting", "waiting"), START_TIMEOUT)
    spec = fe.eval("(d5.session.debug.image, d5.session.debug.target_container, d5.session.debug.profile)")
    assert spec == ("busybox:1.36", "sidecar", "netadmin")
    usage = fe.eval("__import__('jupyter_k8stty.magics.terminal', fromlist=['x']).line_parser()"
                    ".format_usage()")
    assert "--debug [IMAGE]" in usage and "--attach" in usage and "--profile" in usage


# ---- no shell: the Debug action ----------------------------------------------------------


def test_no_shell_offers_the_debug_action_which_opens_a_shell(fe, sandbox):
    comm = terminal(fe, "n1", 'Terminal("model", kubeconfig=KUBECONFIG)')
    state = comm.state
    assert state["status"] == "error" and state["no_shell"] and state["_debug_image"] == "busybox"
    assert state["error"].startswith("the container has no shell (a distroless image?): open a "
                                     "debug container next to it with --debug (debug=True); ")
    assert "executable file not found" in state["error"] and "\n" not in state["error"]
    fe.expect_output(comm, b"There is no shell in container main of pod default/model")
    fe.expect_output(comm, b"Debug, in the header, adds an ephemeral debug container")
    time.sleep(1.5)  # a no-shell error is not a dropped connection: no reconnect attempts
    fe.pump()
    assert all(u.get("reconnect_attempt", 0) == 0 for u in comm.state_updates())
    assert comm.state["status"] == "error"
    assert ephemeral_names(sandbox, "model") == []

    fe.send_custom(comm, {"type": "debug"})  # what the confirmed Debug action sends
    fe.wait_for(lambda: comm.state.get("status") == "connected", START_TIMEOUT, what="the debug shell")
    assert not comm.state["no_shell"] and comm.state["_debug_image"] == ""
    assert re.fullmatch(rf"default/model \[{DEBUGGER_NAME}\]", comm.state["title"])
    fe.type(comm, "echo hi\r")
    fe.expect_output(comm, b"hi\r\n")
    assert len(ephemeral_names(sandbox, "model")) == 1


def test_the_debug_action_is_refused_in_one_line_for_a_node_shell(fe):
    connected(fe, "n2", 'Terminal("node/sandbox-worker", kubeconfig=KUBECONFIG)')
    with pytest.raises(AssertionError, match="already runs in a debug pod"):
        fe.execute("n2.add_debug_container()")


# ---- attach ------------------------------------------------------------------------------


def test_attach_to_a_process_with_stdin_is_interactive_and_close_detaches(fe, sandbox):
    assert wait_until(lambda: main_pid(sandbox, "repl"))
    pid = main_pid(sandbox, "repl")
    comm = connected(fe, "a1", 'Terminal("repl", attach=True, kubeconfig=KUBECONFIG)')
    assert not comm.state["read_only"]
    fe.type(comm, "echo pid=$$\r")
    assert int(re.search(rb"pid=(\d+)\r", fe.expect_output(comm, b"pid=" + str(pid).encode() + b"\r"))
               .group(1)) == pid
    fe.execute("a1.close()")
    assert comm.state["status"] == "closed"
    time.sleep(0.5)
    assert process_alive(pid) and main_pid(sandbox, "repl") == pid


def test_attach_without_stdin_is_read_only_and_sends_nothing(fe, sandbox):
    assert wait_until(lambda: main_pid(sandbox, "ticker"))
    pid = main_pid(sandbox, "ticker")
    comm = connected(fe, "a2", 'Terminal("ticker", attach=True, kubeconfig=KUBECONFIG)')
    assert comm.state["read_only"] and fe.eval("a2.session.read_only")
    fe.expect_output(comm, b"tick")
    fe.expect_output(comm, b"this terminal is read-only")  # the session's note, dimmed
    fe.type(comm, "echo typed\r")  # a browser that still sent keys: dropped in the kernel
    with pytest.raises(AssertionError, match="read-only"):
        fe.execute("a2.send('echo typed\\r')")
    fe.execute("a2.close()")
    assert process_alive(pid) and main_pid(sandbox, "ticker") == pid


def test_attach_refuses_a_command_and_debug_before_any_widget(fe):
    for code, message in (('Terminal("repl", ["sh"], attach=True)', "give no command"),
                          ('Terminal("repl", attach=True, debug=True)', "give one of them"),
                          ('Terminal("node/sandbox-gpu", attach=True)', "no main process"),
                          ('Terminal("demo", persist=True, debug=True)', "persist")):
        with pytest.raises(AssertionError, match=message):
            fe.execute(f"{code}")


# ---- node shells -------------------------------------------------------------------------


def node_pods(sandbox: Sandbox, node: str) -> list[str]:
    code, body = api_request(sandbox, "GET", "/api/v1/namespaces/default/pods")
    assert code == 200, body
    return [p["metadata"]["name"] for p in body["items"]
            if p["metadata"]["name"].startswith(f"node-debugger-{node}-")]


def test_node_shell_opens_on_the_node_and_its_pod_is_deleted_on_close(fe, sandbox):
    comm = connected(fe, "h1", 'Terminal("node/sandbox-worker", kubeconfig=KUBECONFIG)')
    pod = fe.eval("h1.session.debug_pod")
    assert re.fullmatch(r"node-debugger-sandbox-worker-[bcdfghjklmnpqrstvwxz2456789]{5}", pod)
    assert pod in node_pods(sandbox, "sandbox-worker")  # others' may still be terminating
    code, body = pod_json(sandbox, pod)
    assert body["spec"]["nodeName"] == "sandbox-worker" and body["spec"]["hostPID"]
    assert comm.state["title"] == f"default/{pod} (node/sandbox-worker) [debugger]"
    fe.type(comm, "echo on-node-$((1 + 1))\r")
    fe.expect_output(comm, b"on-node-2")
    fe.execute("h1.close()")
    assert wait_until(lambda: pod not in node_pods(sandbox, "sandbox-worker"), CLEANUP_DEADLINE)


def test_the_magic_opens_a_node_shell_with_a_profile(fe, sandbox):
    fe.execute("h2 = get_ipython().run_line_magic('k8sexec', "
               "'node/sandbox-node --profile baseline --kubeconfig ' + KUBECONFIG)")
    comm = fe.terminal_comm("h2")
    fe.wait_for(lambda: comm.state.get("status") == "connected", START_TIMEOUT, what="h2")
    pod = fe.eval("h2.session.debug_pod")
    code, body = pod_json(sandbox, pod)
    assert code == 200 and not body["spec"].get("hostPID")  # baseline: no host namespaces
    fe.execute("h2.close()")
    assert wait_until(lambda: pod not in node_pods(sandbox, "sandbox-node"), CLEANUP_DEADLINE)


def test_a_node_pod_that_cannot_be_deleted_is_reported(fe, sandbox, tmp_path):
    # A user who may create node debug pods but not delete them: the pod stays, and the
    # terminal says so when its shell exits (and the kernel log says so on close).
    token = sandbox.add_user("no-delete", ["get nodes", "create pods", "get pods", "create pods/attach"])
    kubeconfig = sandbox.write_kubeconfig(tmp_path / "no-delete.kubeconfig", token=token)
    fe.execute(LOG_CAPTURE)
    comm = connected(fe, "h3", f'Terminal("node/sandbox-worker", kubeconfig={str(kubeconfig)!r})')
    pod = fe.eval("h3.session.debug_pod")
    fe.type(comm, "exit\r")
    fe.expect_output(comm, f"could not delete node debug pod default/{pod}: forbidden".encode())
    assert any(f"could not delete node debug pod default/{pod}" in w for w in fe.eval("warnings"))
    time.sleep(0.5)
    assert pod in node_pods(sandbox, "sandbox-worker")
    code, _ = api_request(sandbox, "DELETE", f"/api/v1/namespaces/default/pods/{pod}")
    assert code in (200, 202)


def test_node_names_complete_after_node_slash(fe):
    names = fe.eval("__import__('jupyter_k8stty.magics.completion', fromlist=['x'])"
                    ".complete_line('%k8sexec --kubeconfig ' + KUBECONFIG + ' node/sandbox-')")
    assert names == ["node/sandbox-gpu", "node/sandbox-node", "node/sandbox-worker"]


@pytest.mark.parametrize("how", ["terminals closed", "only the node pods' exit hook"])
def test_node_pods_are_deleted_at_kernel_shutdown(sandbox, how):
    kernel = Frontend()
    try:
        kernel.execute(SETUP.format(kubeconfig=sandbox.kubeconfig_path, port=sandbox.port))
        if how != "terminals closed":
            # Leave the pod to node_debug's own atexit hook.
            kernel.execute("import atexit; atexit.unregister(close_all)")
        kernel.execute('h = Terminal("node/sandbox-gpu", kubeconfig=KUBECONFIG)')
        kernel.wait_for(lambda: kernel.eval("h.status") == "connected", START_TIMEOUT, what="node shell")
        pod = kernel.eval("h.session.debug_pod")
        assert pod in node_pods(sandbox, "sandbox-gpu")
    finally:
        kernel.kc.stop_channels()
        kernel.km.shutdown_kernel(now=False)
    assert wait_until(lambda: pod not in node_pods(sandbox, "sandbox-gpu"), CLEANUP_DEADLINE), \
        node_pods(sandbox, "sandbox-gpu")
