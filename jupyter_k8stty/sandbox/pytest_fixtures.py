r"""Pytest fixtures that run a sandbox cluster: test notebook code with no cluster at all.

Installed as the pytest plugin ``jupyter_k8stty`` (the ``pytest11`` entry point), so a
project that has ``jupyter-k8stty[demo]`` installed can write::

    from jupyter_k8stty import run

    def test_pod_name(k8s_sandbox):
        assert run("demo", ["printenv", "HOSTNAME"]).stdout == b"demo\n"

Fixtures:

* ``k8s_sandbox``: a new sandbox with the default pods for one test, with ``KUBECONFIG``
  pointing at it for the test's duration; stopped afterwards.
* ``k8s_sandbox_factory``: a function ``(**Sandbox arguments) -> Sandbox`` that starts
  sandboxes of your shape (pods, workloads, protocols) and stops them after the test.
* ``k8s_sandbox_shared``: one sandbox for the whole session, faster for many tests;
  it does not set ``KUBECONFIG`` (pass ``kubeconfig=...kubeconfig_path``), and tests
  should not reshape it.

Importing this module imports neither the sandbox nor ``cryptography``, so the plugin is
harmless where the ``demo`` extra is missing; a test that uses a fixture then fails
with one line saying what to install.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from jupyter_k8stty.sandbox.server import Sandbox

__all__ = ["k8s_sandbox", "k8s_sandbox_factory", "k8s_sandbox_shared"]


def _sandbox_class() -> type[Sandbox]:
    from jupyter_k8stty.sandbox import missing_extra

    problem = missing_extra("cryptography")
    if problem is not None:
        pytest.fail(f"the jupyter-k8stty sandbox fixtures need the demo extra: {problem}",
                    pytrace=False)
    from jupyter_k8stty.sandbox.server import Sandbox

    return Sandbox


@pytest.fixture
def k8s_sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    """Yield a function that starts a sandbox (``Sandbox(**kwargs)``); all stop after the test."""
    cls = _sandbox_class()
    started: list[Sandbox] = []

    def start(**kwargs: Any) -> Sandbox:
        sandbox = cls(**kwargs).start()
        started.append(sandbox)
        return sandbox

    try:
        yield start
    finally:
        for sandbox in reversed(started):
            sandbox.stop()


@pytest.fixture
def k8s_sandbox(k8s_sandbox_factory: Callable[..., Sandbox],
                monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """Return a running sandbox with the default pods; ``KUBECONFIG`` points at it."""
    sandbox = k8s_sandbox_factory()
    monkeypatch.setenv("KUBECONFIG", sandbox.kubeconfig_path)
    return sandbox


@pytest.fixture(scope="session")
def k8s_sandbox_shared() -> Iterator[Sandbox]:
    """Yield one running sandbox with the default pods, shared by the whole session."""
    with _sandbox_class()() as sandbox:
        yield sandbox
