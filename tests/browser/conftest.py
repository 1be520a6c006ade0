"""Fixtures for the browser tests: JupyterLab on the sandbox, and Chromium through Playwright."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest

from .lab import (
    CHROMIUM,
    CHROMIUM_ARGS,
    KERNEL_READY_TIMEOUT,
    UI_TIMEOUT,
    LabServer,
    Notebook,
    check_extensions,
    jupyter_env,
    poll,
    run_lab,
    write_notebook,
)

VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def lab_env(tmp_path_factory: pytest.TempPathFactory, kubeconfig: str) -> dict[str, str]:
    """JupyterLab's environment: isolated config/data/runtime dirs, KUBECONFIG = the sandbox's."""
    env = jupyter_env(tmp_path_factory.mktemp("jupyter"), kubeconfig)
    check_extensions(env)
    return env


@pytest.fixture(scope="session")
def lab_server(lab_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """A JupyterLab server on a free port with a random token, serving a temporary directory."""
    root = tmp_path_factory.mktemp("notebooks")
    with run_lab(lab_env, root, tmp_path_factory.getbasetemp() / "jupyterlab.log") as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser) -> Iterator:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(UI_TIMEOUT * 1000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def open_notebook(lab_server: LabServer, page, request: pytest.FixtureRequest
                  ) -> Iterator[Callable[[Sequence[str]], Notebook]]:
    """``open_notebook(cells)``: write a notebook with these code cells, open it, wait for the kernel."""
    opened: list[str] = []

    def open_(cells: Sequence[str]) -> Notebook:
        name = f"{request.node.name.replace('[', '-').replace(']', '')}-{len(opened)}"
        write_notebook(lab_server.root_dir / f"{name}.ipynb", cells)
        opened.append(name)
        page.goto(lab_server.notebook_url(f"{name}.ipynb"))
        notebook = Notebook(page, lab_server.root_dir / f"{name}.ipynb")
        poll(lambda: notebook.cell_count() == len(cells), KERNEL_READY_TIMEOUT, f"{len(cells)} cells shown",
             describe=lambda: f"{notebook.cell_count()} cells")
        notebook.wait_kernel_idle(lab_server, f"{name}.ipynb")
        return notebook

    yield open_
    page.close()
    lab_server.shutdown_kernels()
