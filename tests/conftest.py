"""Shared fixtures: the sandbox cluster (see jupyter_k8stty.sandbox.pytest_fixtures)."""

from jupyter_k8stty.sandbox.pytest_fixtures import fresh_sandbox, kubeconfig, sandbox

__all__ = ["fresh_sandbox", "kubeconfig", "sandbox"]
