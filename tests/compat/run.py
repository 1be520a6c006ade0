"""The compatibility run: ``python -m tests.compat.run`` (the last step of ``scripts/dev.sh test``).

1. Build this package's wheel from the working tree (the front end bundled once).
2. Prepare the cached venvs of :mod:`.envs` (created only when their requirements change).
3. The browser smoke test in each frontend (``tests/compat``, from the main venv, whose
   Chromium and sandbox drive servers running from the other venvs).
4. The non-browser tests :data:`OLDEST_TESTS` in ``oldest``: the lower bounds of
   ``pyproject.toml`` for kubernetes, ipykernel, ipywidgets, anywidget, traitlets and
   websocket-client.

Every step runs even when one before it failed; the exit status is non-zero when any
failed. The time of each step and the total are printed at the end.

``--env NAME`` (repeatable) runs only those environments: e.g. ``python -m
tests.compat.run --env lab36 --env oldest`` prepares just those two venvs, runs the
browser test of lab36 alone (through pytest's ``-k``, so it cannot be combined with a
``-k`` of your own) and the oldest step. Other arguments go to every pytest run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from . import envs

#: The non-browser tests run against the oldest declared versions: everything that goes
#: through kubernetes (config, credentials, proxies, lookups), websocket-client (exec,
#: attach, resize) and the widget stack (ipykernel, ipywidgets, anywidget, traitlets:
#: comms, traits, magics in real kernels). Left out: the sandbox's own tests, kubectl
#: conformance, debug containers and node shells, transfers and soak tests, which test
#: the sandbox or this package's logic above the same client calls, and take most of
#: the suite's time.
OLDEST_TESTS = (
    "tests/test_protocol.py",
    "tests/test_exec_session.py",
    "tests/test_attach.py",
    "tests/test_config_targets.py",
    "tests/test_credential_rotation.py",
    "tests/test_proxy.py",
    "tests/test_impersonation.py",
    "tests/test_targets.py",
    "tests/test_windows_pods.py",
    "tests/test_fanout.py",
    "tests/test_script_magic.py",
    "tests/test_magic_arguments.py",
    "tests/test_targets_notebook.py",
    "tests/widget/test_terminal_kernel.py",
    "tests/widget/test_connection.py",
    "tests/widget/test_options.py",
    "tests/widget/test_flow_control.py",
    "tests/widget/test_kernel_lifecycle.py",
)
#: Tests of OLDEST_TESTS that cannot run there, and why.
OLDEST_DESELECTED = {
    # Kernel subshells arrived in ipykernel 7; ipykernel 6 answers create_subshell_request
    # with nothing (the main run covers subshells).
    "tests/widget/test_terminal_kernel.py::test_a_terminal_made_by_a_running_cell_answers_over_a_subshell":
        "no subshells before ipykernel 7",
    # The test kills the kernel through KernelManager.provisioner (jupyter_client 7+);
    # ipykernel 6.0 requires jupyter_client < 7.
    "tests/widget/test_kernel_lifecycle.py::test_a_killed_kernel_still_hangs_up_every_shell":
        "the test's harness needs jupyter_client 7 (provisioner)",
}
# The oldest run's process crashed twice in five runs here (SIGSEGV in the sandbox's
# server threads, in ssl read/handshake, while a 20-pod fan-out of test_script_magic had
# 11 threads inside subprocess.Popen with a preexec_fn): that run is retried once, loudly.

#: The environments with browser tests, by the pytest keyword that selects them (their
#: test's parameter in test_frontends_in_browser.py, or marimo's module name).
BROWSER_ENVS = ("notebook7", "lab42", "lab36", "marimo")

#: Versions shown for each environment.
SHOWN = ("kubernetes", "websocket-client", "ipykernel", "ipywidgets", "jupyterlab_widgets", "anywidget",
         "traitlets", "jupyter_client", "jupyterlab", "notebook", "marimo")

T = TypeVar("T")

#: Test commands that crashed (and were run again), for the summary.
CRASHES: list[str] = []


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    chosen, argv = split_envs(argv)
    started = time.monotonic()
    results: list[tuple[str, float, bool]] = []

    def step(name: str, fn: Callable[[], T]) -> T | None:
        """Run ``fn``, timed; an exception fails the step (reported, the others still run)."""
        envs.log(f"{name} ...")
        t0 = time.monotonic()
        try:
            value: T | None = fn()
            ok = True
        except Exception as exc:
            envs.log(f"{name} FAILED: {exc}")
            value, ok = None, False
        results.append((name, time.monotonic() - t0, ok))
        return value

    wheel = step("build the wheel", envs.build_wheel)
    if wheel is not None:
        for env in (envs.ENVS[name] for name in chosen):
            reused = step(f"venv {env.name}", lambda env=env: envs.prepare(env, wheel))
            if reused is not None:
                envs.log(f"venv {env.name}: {'reused' if reused else 'created'}: {show_versions(env)}")

    environ = {**os.environ, "K8STTY_COMPAT": "1"}
    browser = [name for name in BROWSER_ENVS if name in chosen]
    if browser:
        keyword = [] if len(browser) == len(BROWSER_ENVS) else ["-k", " or ".join(browser)]
        step(f"browser smoke tests ({', '.join(browser)})", lambda: run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/compat", *keyword, *argv],
            environ))
    if "oldest" in chosen:
        oldest = envs.ENVS["oldest"]
        deselect = [arg for test in OLDEST_DESELECTED for arg in ("--deselect", test)]
        step("non-browser tests at the oldest declared versions", lambda: run(
            [str(oldest.bin / "pytest"), "-p", "no:cacheprovider", "-m", "not browser", *OLDEST_TESTS,
             *deselect, *argv], dict(os.environ), crash_retries=1))

    total = time.monotonic() - started
    print("\ncompatibility run:", file=sys.stderr)
    for name, seconds, ok in results:
        print(f"  {'ok    ' if ok else 'FAILED'} {seconds:7.1f} s  {name}", file=sys.stderr)
    for crash in CRASHES:
        print(f"  note: {crash}", file=sys.stderr)
    failed = [name for name, _, ok in results if not ok]
    verdict = f"{len(failed)} step(s) failed: {', '.join(failed)}" if failed else "all steps passed"
    print(f"compatibility run: {verdict}; total time {total:.0f} s ({total / 60:.1f} min)",
          file=sys.stderr, flush=True)
    return 1 if failed else 0


def split_envs(argv: list[str]) -> tuple[list[str], list[str]]:
    """Return the environments named by ``--env NAME`` (all when none) and the other arguments.

    Raises:
        SystemExit: an unknown environment, or ``--env`` without a name.
    """
    names: list[str] = []
    rest: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--env" or arg.startswith("--env="):
            name = arg.partition("=")[2] if "=" in arg else next(args, "")
            if name not in envs.ENVS:
                raise SystemExit(f"--env: {name!r} is none of {', '.join(envs.ENVS)}")
            names.append(name)
        else:
            rest.append(arg)
    return [name for name in envs.ENVS if name in names or not names], rest


def run(command: list[str], environ: dict[str, str], *, crash_retries: int = 0) -> None:
    """Run a test command from the repository's root.

    A run killed by a signal (the process crashed, no test verdict) is run again up to
    ``crash_retries`` times, and the crash is logged; a failed test is never retried.

    Raises:
        RuntimeError: it failed (its output, on the terminal, says why).
    """
    envs.log("$ " + " ".join(command))
    code = subprocess.run(command, cwd=envs.ROOT, env=environ, stdin=subprocess.DEVNULL).returncode
    while code < 0 and crash_retries > 0:
        crash_retries -= 1
        envs.log(f"CRASHED with signal {-code} (see the dump above); running the same tests again")
        CRASHES.append(f"{Path(command[0]).name} ... crashed with signal {-code} and was run again")
        code = subprocess.run(command, cwd=envs.ROOT, env=environ, stdin=subprocess.DEVNULL).returncode
    if code != 0:
        raise RuntimeError(f"exit status {code}")


def show_versions(env: envs.Env) -> str:
    try:
        found = envs.versions(env, SHOWN)
    except (subprocess.CalledProcessError, ValueError) as exc:
        return f"(versions unknown: {exc})"
    return ", ".join(f"{name} {version}" for name, version in found.items())


if __name__ == "__main__":
    sys.exit(main())
