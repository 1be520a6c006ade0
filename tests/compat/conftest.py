"""Fixtures of the compatibility run: the browser tests' server, started from another venv.

The browser tests' own fixtures (``browser``, ``page``, ``open_notebook``) are reused
as they are; ``lab_server`` is replaced by one server per frontend of
:data:`FRONTENDS`, each run by the Python of its cached venv (:mod:`.envs`), so the
server, its front-end extensions and its kernels are that stack's. The sandbox and
Chromium are the main environment's.

These tests run only in the compatibility run (``python -m tests.compat.run``, which
prepares the venvs and sets ``K8STTY_COMPAT=1``); the main run skips them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..browser.conftest import browser, open_notebook, page  # noqa: F401  (reused fixtures)
from ..browser.lab import ARTIFACTS, LabServer, check_extensions, jupyter_env, run_lab
from .envs import ENVS, Env

#: Set by the compatibility run; without it the tests here are skipped.
ENABLED = os.environ.get("K8STTY_COMPAT") == "1"
SKIP_REASON = "compatibility run only: python -m tests.compat.run (a step of scripts/dev.sh test)"
#: Lines of the server's log shown when a test fails.
LOG_TAIL = 60


@dataclass(frozen=True)
class Frontend:
    """A Jupyter frontend of the compatibility run, and what the run expects of it."""

    env: Env
    #: The server's module: ``python -m app``.
    app: str
    #: Whether keys typed while another cell runs reach the pod at once (kernel subshells).
    keys_while_busy: bool


FRONTENDS = {
    "notebook7": Frontend(ENVS["notebook7"], "notebook", keys_while_busy=True),
    "lab42": Frontend(ENVS["lab42"], "jupyterlab", keys_while_busy=False),
    "lab36": Frontend(ENVS["lab36"], "jupyterlab", keys_while_busy=False),
}


def ready_env(env: Env) -> Env:
    """``env``, failing the test when the compatibility run has not prepared it."""
    if not ENABLED:
        pytest.skip(SKIP_REASON)
    assert env.is_current(), (
        f"{env.prefix} is missing or stale: python -m tests.compat.run prepares it"
    )
    return env


@pytest.fixture(scope="session", params=list(FRONTENDS))
def frontend(request: pytest.FixtureRequest) -> Frontend:
    """Each frontend in turn (tests using it are grouped by frontend)."""
    front = FRONTENDS[request.param]
    ready_env(front.env)
    return front


@pytest.fixture(scope="session")
def server_log(frontend: Frontend, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the frontend's server writes its log."""
    return tmp_path_factory.getbasetemp() / f"{frontend.env.name}.log"


@pytest.fixture
def diagnose(frontend: Frontend, server_log: Path, request: pytest.FixtureRequest
             ) -> Callable[[], AbstractContextManager[None]]:
    """``with diagnose():`` on failure, a screenshot of the page and the server log's tail."""
    browser_page = request.getfixturevalue("page")

    @contextmanager
    def diagnosed() -> Iterator[None]:
        try:
            yield
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            try:
                browser_page.screenshot(path=str(ARTIFACTS / f"compat-{frontend.env.name}-failure.png"))
            except Exception as exc:  # the failure below matters more than its picture
                print(f"no screenshot: {exc}")
            lines = server_log.read_text(errors="replace").splitlines() if server_log.exists() else []
            print(f"--- the last {LOG_TAIL} lines of {server_log}", *lines[-LOG_TAIL:], sep="\n")
            raise

    return diagnosed


@pytest.fixture(scope="session")
def lab_server(frontend: Frontend, kubeconfig: str, server_log: Path,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """The frontend's server, run by its venv's Python on a free port, serving a temporary folder."""
    name = frontend.env.name
    env = jupyter_env(tmp_path_factory.mktemp(f"jupyter-{name}"), kubeconfig)
    # Kernels and tools resolve to the frontend's venv, never to the main one.
    env["PATH"] = f"{frontend.env.bin}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(frontend.env.prefix)
    python = str(frontend.env.python)
    check_extensions(env, python)
    root = tmp_path_factory.mktemp(f"notebooks-{name}")
    with run_lab(env, root, server_log, python=python, app=frontend.app) as server:
        yield server
