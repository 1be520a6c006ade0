"""Fixtures for the widget tests: a real kernel (the test plays the browser)."""

from __future__ import annotations

import contextlib

import pytest

from .frontend import Frontend

KUBECONFIG_MARK = "certificate-authority-data"

SETUP = """
import threading, psutil
from jupyter_k8stty import Terminal
from jupyter_k8stty.widget import close_all
KUBECONFIG = {kubeconfig!r}
SANDBOX_PORT = {port!r}

def k8stty_threads():
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("k8stty-"))

def sandbox_sockets():
    return [c for c in psutil.Process().net_connections(kind="tcp")
            if c.raddr and c.raddr.port == SANDBOX_PORT and c.status == "ESTABLISHED"]
"""


@pytest.fixture(scope="module")
def fe(sandbox, kubeconfig):
    frontend = Frontend()
    try:
        frontend.execute(SETUP.format(kubeconfig=kubeconfig, port=sandbox.port))
        yield frontend
    finally:
        frontend.shutdown()


@pytest.fixture(autouse=True)
def _close_terminals(request):
    yield
    if "fe" in request.fixturenames:  # tests without a kernel start none
        request.getfixturevalue("fe").execute("close_all()")


@contextlib.contextmanager
def class_setting(fe: Frontend, name: str, value):
    saved = fe.eval(f"Terminal.{name}")
    fe.execute(f"Terminal.{name} = {value!r}")
    try:
        yield
    finally:
        fe.execute(f"Terminal.{name} = {saved!r}")


def open_terminal(fe: Frontend, variable: str, args: str = '"demo"', **kw):
    extra = "".join(f", {k}={v}" for k, v in kw.items())
    fe.execute(f"{variable} = Terminal({args}, kubeconfig=KUBECONFIG{extra})")
    comm = fe.terminal_comm(variable)
    fe.wait_for(lambda: comm.state.get("status") != "connecting", what="the session to start")
    assert comm.state["status"] == "connected", comm.state
    return comm
