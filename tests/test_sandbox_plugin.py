"""The sandbox as a pytest plugin for users' own tests, and one-line errors without the demo extra."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

RUN_TIMEOUT = 120

USER_TESTS = '''
import os

from jupyter_k8stty import run


def test_run_in_the_sandbox(k8s_sandbox):
    assert os.environ["KUBECONFIG"] == k8s_sandbox.kubeconfig_path
    assert run("demo", ["printenv", "HOSTNAME"]).stdout == b"demo\\n"


def test_shaped_sandbox(k8s_sandbox_factory):
    from jupyter_k8stty.sandbox import PodSpec

    sb = k8s_sandbox_factory(pods=[PodSpec("only")])
    assert run("only", ["true"], kubeconfig=sb.kubeconfig_path).exit_code == 0


def test_shared_sandbox(k8s_sandbox_shared):
    assert run("demo", ["true"], kubeconfig=k8s_sandbox_shared.kubeconfig_path).exit_code == 0


def test_without_the_fixtures():
    assert True
'''

# Runs the rest of argv as a module with the named top-level packages made unimportable,
# as on a machine without them: a meta-path finder that raises ImportError.
BLOCKER = '''
import runpy, sys
blocked = set(sys.argv[1].split(","))
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ImportError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Blocker())
sys.argv = sys.argv[2:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
'''


def run_blocked(blocked: str, module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_DISABLE_PLUGIN_AUTOLOAD"}
    return subprocess.run([sys.executable, "-c", BLOCKER, blocked, module, *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)


def write_user_tests(tmp_path: Path) -> Path:
    path = tmp_path / "test_user.py"
    path.write_text(textwrap.dedent(USER_TESTS))
    return path


def test_users_can_test_against_the_sandbox_with_the_plugin(tmp_path: Path) -> None:
    write_user_tests(tmp_path)
    # Out of this repository (no conftest of ours): only the installed plugin is there.
    result = run_blocked("", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py",
                         cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout


def test_fixtures_without_cryptography_fail_in_one_line(tmp_path: Path) -> None:
    write_user_tests(tmp_path)
    result = run_blocked("cryptography", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py",
                         cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "1 passed, 3 errors" in result.stdout, output  # the plugin itself loads fine
    # Each error's report is the one line (the short summary may repeat it, untruncated under CI=1).
    message = ('the jupyter-k8stty sandbox fixtures need the demo extra: \'cryptography\' is not '
               'installed: pip install "jupyter-k8stty[demo]"')
    assert result.stdout.splitlines().count(message) == 3, output
    assert "Traceback" not in output and "ImportError" not in output, output


def assert_one_line(result: subprocess.CompletedProcess[str], command: str, what: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines() == [
        f'jupyter-k8stty {command}: {what} is not installed: pip install "jupyter-k8stty[demo]"'
    ], result.stderr


def test_sandbox_command_without_cryptography_says_what_to_install(tmp_path: Path) -> None:
    result = run_blocked("cryptography", "jupyter_k8stty.cli", "sandbox", "--kubeconfig",
                         str(tmp_path / "kc"), cwd=tmp_path)
    assert_one_line(result, "sandbox", "'cryptography'")
    assert not (tmp_path / "kc").exists()


def test_demo_without_jupyterlab_says_what_to_install(tmp_path: Path) -> None:
    result = run_blocked("jupyterlab", "jupyter_k8stty.cli", "demo", "--no-browser", "--dir",
                         str(tmp_path / "demo"), cwd=tmp_path)
    assert_one_line(result, "demo", "JupyterLab")
    result = run_blocked("cryptography", "jupyter_k8stty.cli", "demo", "--no-browser", "--dir",
                         str(tmp_path / "demo"), cwd=tmp_path)
    assert_one_line(result, "demo", "'cryptography'")
    assert not (tmp_path / "demo").exists()  # nothing was started or written
