"""Shared fixtures: the sandbox cluster, from the package's own pytest plugin.

The plugin (``jupyter_k8stty.sandbox.pytest_fixtures``, registered through the
``pytest11`` entry point) provides the ``k8s_*`` fixtures; these short names are the
repository's aliases for them, not a second registration.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from jupyter_k8stty.sandbox.server import Sandbox

# tests/compat runs in its own step (python -m tests.compat.run sets K8STTY_COMPAT=1,
# with the venvs it needs); the main run does not collect it rather than skip it.
collect_ignore = [] if os.environ.get("K8STTY_COMPAT") else ["compat"]


@pytest.fixture(scope="session")
def sandbox(k8s_sandbox_shared: Sandbox) -> Sandbox:
    """The sandbox shared by the whole session (do not reshape it)."""
    return k8s_sandbox_shared


@pytest.fixture(scope="session")
def kubeconfig(sandbox: Sandbox) -> str:
    """The path of the shared sandbox's kubeconfig."""
    return sandbox.kubeconfig_path


@pytest.fixture
def fresh_sandbox(k8s_sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    """A new sandbox with the default pods for one test (KUBECONFIG untouched)."""
    return k8s_sandbox_factory()
