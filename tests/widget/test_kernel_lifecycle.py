"""Kernel restart, shutdown and death close every session: the pod's shell gets a hang-up.

Each test runs its own kernel (the shared ``fe`` kernel must survive), opens a
terminal, reads the shell's PID with ``echo $$`` (the sandbox's pods are local
processes, so the PID is visible here) and checks that it is gone within
:data:`HANGUP_DEADLINE` seconds of the kernel going away.
"""

from __future__ import annotations

import time

import pytest

from ..helpers import process_alive
from .frontend import Frontend

#: Seconds from the kernel going away to the pod's shell being gone.
HANGUP_DEADLINE = 10.0


def _shell_pids(fe: Frontend, kubeconfig: str, count: int = 2) -> list[int]:
    fe.execute(f"from jupyter_k8stty import Terminal\nKUBECONFIG = {kubeconfig!r}\n"
               f"terms = [Terminal('demo', kubeconfig=KUBECONFIG) for _ in range({count})]")
    pids = []
    for i in range(count):
        fe.execute(f"terms[{i}].send('echo PID=$$\\r')")
        pids.append(fe.eval(fr"int(terms[{i}].expect(r'PID=(\d+)\r').group(1))"))
    assert all(process_alive(pid) for pid in pids)
    return pids


def _wait_gone(pids: list[int], what: str) -> None:
    deadline = time.monotonic() + HANGUP_DEADLINE
    while any(process_alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"shells {pids} still running {HANGUP_DEADLINE} s after {what}"
        time.sleep(0.05)


@pytest.fixture
def kernel():
    fe = Frontend()
    try:
        yield fe
    finally:
        try:
            fe.shutdown()
        except Exception:
            pass


def test_kernel_restart_hangs_up_every_shell_and_the_new_kernel_works(kernel, kubeconfig):
    pids = _shell_pids(kernel, kubeconfig)
    kernel.km.restart_kernel(now=False)
    _wait_gone(pids, "a kernel restart")
    kernel.kc.wait_for_ready(timeout=60)
    new = _shell_pids(kernel, kubeconfig, count=1)
    assert new[0] not in pids


def test_kernel_shutdown_hangs_up_every_shell(kernel, kubeconfig):
    pids = _shell_pids(kernel, kubeconfig)
    kernel.kc.stop_channels()
    kernel.km.shutdown_kernel(now=False)
    _wait_gone(pids, "a kernel shutdown")


def test_a_killed_kernel_still_hangs_up_every_shell(kernel, kubeconfig):
    # No atexit handler runs here: the sandbox sees the connections drop.
    pids = _shell_pids(kernel, kubeconfig)
    kernel.km.provisioner.process.kill()
    _wait_gone(pids, "the kernel was killed")
