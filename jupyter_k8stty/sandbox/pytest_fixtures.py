"""Pytest fixtures that run a sandbox cluster; load with ``pytest_plugins`` or import them.

``sandbox`` and ``kubeconfig`` share one server per test session; use
``fresh_sandbox`` for tests that stop, break or reshape it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jupyter_k8stty.sandbox.server import Sandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """Yield a running sandbox with the default pods, shared by the whole session."""
    with Sandbox() as sb:
        yield sb


@pytest.fixture(scope="session")
def kubeconfig(sandbox: Sandbox) -> str:
    """Return the path of the shared sandbox's kubeconfig."""
    return sandbox.kubeconfig_path


@pytest.fixture
def fresh_sandbox() -> Iterator[Sandbox]:
    """Yield a new sandbox with the default pods for one test, stopped afterwards."""
    with Sandbox() as sb:
        yield sb
