"""Start the sandbox in its own process for benchmarks (so it does not share our GIL)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager


@contextmanager
def sandbox_process(pods: str | None = None, timeout: float = 30.0):
    """Yield the kubeconfig path of a sandbox running in a child process."""
    folder = tempfile.mkdtemp(prefix="k8stty-bench-")
    kubeconfig = os.path.join(folder, "kubeconfig")
    argv = [sys.executable, "-m", "jupyter_k8stty.cli", "sandbox", "--kubeconfig", kubeconfig]
    if pods:
        argv += ["--pods", pods]
    log_path = os.path.join(folder, "sandbox.log")
    log = open(log_path, "w")  # noqa: SIM115  # closed below, once the sandbox has ended
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        deadline = time.monotonic() + timeout
        for line in proc.stdout:
            if re.search(r"ready", line, re.I):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not become ready")
        else:
            raise RuntimeError(f"the sandbox exited with {proc.wait()}")
        yield kubeconfig
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        if os.path.getsize(log_path):  # the sandbox complained: say where
            print(f"the sandbox logged to {log_path}", file=sys.stderr)
