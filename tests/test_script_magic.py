"""%%k8sexec in real kernels: notebooks executed by nbclient, saved, read back; a kernel
interrupt driven over ZMQ. The kernels find the sandbox through KUBECONFIG.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

from jupyter_k8stty.sandbox.pods import PodSpec
from jupyter_k8stty.sandbox.server import Sandbox

from .notebook_kernel import Kernel, errors, execute_and_save, notebook, streams


@pytest.fixture
def kube_env(kubeconfig, monkeypatch) -> str:
    """Kernels started by the test inherit KUBECONFIG pointing at the shared sandbox."""
    monkeypatch.setenv("KUBECONFIG", kubeconfig)
    return kubeconfig


def test_cell_output_lands_in_the_saved_notebook(kube_env, tmp_path):
    saved = execute_and_save(notebook(
        "%load_ext jupyter_k8stty",
        # A UTF-8 character split across two writes (and two frames) survives.
        "%%k8sexec demo\necho hello from $HOSTNAME\necho to-stderr >&2\n"
        "printf 'caf\\303'; sleep 0.3; printf '\\251 ok\\n'\n",
        "%%k8sexec demo --shell bash\necho ${BASH_VERSION:+bash-is-here}\n",
        "%%k8sexec pod/demo --shell python3\nimport os\nprint('py', os.environ['HOSTNAME'])\n",
        "%%k8sexec demo -c sidecar\necho $KUBERNETES_CONTAINER\n",
        "%%k8sexec analytics -n team-a\necho $KUBERNETES_NAMESPACE/$HOSTNAME\n",
        # Two containers, no default-container annotation: the first, with kubectl's note.
        "%%k8sexec db-0\necho $KUBERNETES_CONTAINER\n",
        # A workload stands for all of its pods.
        "%%k8sexec deploy/web\necho $HOSTNAME\n",
    ), tmp_path / "out.ipynb")
    cell = saved.cells[1]
    assert streams(cell, "stdout") == "hello from demo\ncafé ok\n"
    assert streams(cell, "stderr") == "to-stderr\n"
    assert not errors(cell)
    assert streams(saved.cells[2], "stdout") == "bash-is-here\n"
    assert streams(saved.cells[3], "stdout") == "py demo\n"
    assert streams(saved.cells[4], "stdout") == "sidecar\n"
    assert streams(saved.cells[5], "stdout") == "team-a/analytics\n"
    assert streams(saved.cells[6], "stdout") == "postgres\n"
    assert streams(saved.cells[6], "stderr") == (
        'Defaulted container "postgres" out of: postgres, metrics\n')
    web = saved.cells[7]
    lines = streams(web, "stdout").splitlines()
    assert len(lines) == 2 and all(line == f"[{line[1:line.index(']')]}] {line[1:line.index(']')]}"
                                   and line.startswith("[web-") for line in lines)
    (table,) = [o for o in web["outputs"] if o["output_type"] == "execute_result"]
    assert "2 pods: all exited 0" in table["data"]["text/plain"]


def test_out_and_err_capture_into_variables(kube_env, tmp_path):
    saved = execute_and_save(notebook(
        "%load_ext jupyter_k8stty",
        "%%k8sexec demo --out listing --err problems\nprintf 'a\\nb\\n'; echo warn >&2\n",
        "print(type(listing).__name__, repr(listing), repr(problems))",
        "%%k8sexec demo --out only_out\necho captured; echo shown >&2\n",
        "print(repr(only_out))",
    ), tmp_path / "capture.ipynb")
    assert saved.cells[1]["outputs"] == []
    assert streams(saved.cells[2], "stdout") == "str 'a\\nb\\n' 'warn\\n'\n"
    assert streams(saved.cells[3], "stdout") == ""
    assert streams(saved.cells[3], "stderr") == "shown\n"
    assert streams(saved.cells[4], "stdout") == "'captured\\n'\n"


def test_non_zero_exit_is_one_line_and_run_all_goes_on(kube_env, tmp_path):
    saved = execute_and_save(notebook(
        "%load_ext jupyter_k8stty",
        "%%k8sexec demo\necho partial\nexit 3\n",
        "print('next cell ran')",
    ), tmp_path / "exit.ipynb")
    cell = saved.cells[1]
    assert streams(cell, "stdout") == "partial\n"
    assert streams(cell, "stderr") == "[k8sexec] exited with code 3\n"
    assert not errors(cell)
    assert streams(saved.cells[2], "stdout") == "next cell ran\n"


def test_raise_error_stops_run_all(kube_env, tmp_path):
    nb = notebook(
        "%load_ext jupyter_k8stty",
        "%%k8sexec demo --raise-error\necho before-failing\necho why >&2\nexit 4\n",
        "print('must not run')",
    )
    with pytest.raises(CellExecutionError) as info:
        execute_and_save(nb, tmp_path / "raise.ipynb")
    assert "ExecError" in str(info.value)
    saved = nbformat.read(str(tmp_path / "raise.ipynb"), as_version=4)
    cell = saved.cells[1]
    assert streams(cell, "stdout") == "before-failing\n"
    (error,) = errors(cell)
    assert error["ename"] == "ExecError"
    assert error["evalue"] == "the script in default/demo exited with code 4"
    assert saved.cells[2]["outputs"] == [] and saved.cells[2]["execution_count"] is None


def test_raise_error_carries_exit_code_and_output(kube_env, tmp_path):
    saved = execute_and_save(notebook(
        "%load_ext jupyter_k8stty",
        "from jupyter_k8stty import ExecError\n"
        "try:\n"
        "    get_ipython().run_cell_magic('k8sexec', 'demo --raise-error', 'echo o; echo e >&2; exit 5')\n"
        "except ExecError as exc:\n"
        "    print('caught', exc.exit_code, exc.stdout, exc.stderr)\n",
    ), tmp_path / "attrs.ipynb")
    assert streams(saved.cells[1], "stdout").endswith("caught 5 b'o\\n' b'e\\n'\n")


def test_errors_are_one_line_usage_errors(kube_env, tmp_path):
    saved = execute_and_save(notebook(
        "%load_ext jupyter_k8stty",
        ("%%k8sexec no-such-pod\necho x\n", ["raises-exception"]),
        ("%%k8sexec demo --kubeconfig /nonexistent/kubeconfig\necho x\n", ["raises-exception"]),
        ("%%k8sexec demo -c nope\necho x\n", ["raises-exception"]),
        ("%%k8sexec\necho x\n", ["raises-exception"]),
        ("%%k8sexec demo --bogus\necho x\n", ["raises-exception"]),
    ), tmp_path / "errors.ipynb")
    expected = [
        'pods "no-such-pod" not found',
        "no Kubernetes configuration found: no kubeconfig at /nonexistent/kubeconfig",
        "container",
        "name a pod",
        "unrecognized arguments: --bogus",
    ]
    for cell, text in zip(saved.cells[1:], expected, strict=True):
        # IPython shows a UsageError as one stderr line (the reply is still an error,
        # so Run All stops), never as a traceback.
        assert not errors(cell)
        message = streams(cell, "stderr")
        assert message.startswith("UsageError: %%k8sexec: "), message
        assert text in message.splitlines()[0], message
        assert "Traceback" not in message
    assert len(streams(saved.cells[1], "stderr").splitlines()) == 1


#: A pod whose image has no shell, like kubectl's distroless example.
DISTROLESS = PodSpec("model", images={"main": "gcr.io/distroless/python3-debian12"})


@pytest.mark.parametrize("runtime", ["containerd", "docker"])
def test_a_pod_without_a_shell_suggests_a_debug_container(k8s_sandbox_factory, monkeypatch, tmp_path,
                                                          runtime):
    # containerd refuses to start the shell (an exec error); dockershim ran it and said 126.
    sandbox = k8s_sandbox_factory(pods=[DISTROLESS], container_runtime=runtime)
    monkeypatch.setenv("KUBECONFIG", sandbox.kubeconfig_path)
    saved = execute_and_save(notebook(
        "%load_ext jupyter_k8stty",
        ("%%k8sexec model\nls /\n", ["raises-exception"]),
        "from jupyter_k8stty import ExecError, StreamError\n"
        "try:\n"
        "    get_ipython().run_cell_magic('k8sexec', 'model --raise-error', 'ls /')\n"
        "except (ExecError, StreamError) as exc:\n"
        "    print('caught', exc)\n",
    ), tmp_path / "no-shell.ipynb")
    hint = "the container has no shell (a distroless image?): open a debug container next to it with --debug"
    plain, raised = saved.cells[1], saved.cells[2]
    message = streams(plain, "stderr")
    if runtime == "containerd":
        assert message.startswith("UsageError: %%k8sexec: "), message
        assert "executable file not found" in message and len(message.splitlines()) == 1, message
    else:  # the runtime's own line on the pod's stderr, then ours
        runtime_line, ours = message.splitlines()
        assert "executable file not found" in runtime_line, message
        assert ours.startswith("[k8sexec] exited with code 126: "), message
    assert hint in message.splitlines()[-1], message
    assert hint in streams(raised, "stdout")


def test_timeout_abandons_the_run_with_a_message(kube_env, tmp_path):
    started = time.monotonic()
    saved = execute_and_save(notebook(
        "%load_ext jupyter_k8stty",
        "%%k8sexec demo --timeout 1.5\necho started\nsleep 30\necho never\n",
        "import threading\n"
        "print(sorted(t.name for t in threading.enumerate() if t.name.startswith('k8stty-reader')))",
    ), tmp_path / "timeout.ipynb")
    assert time.monotonic() - started < 25
    cell = saved.cells[1]
    assert streams(cell, "stdout") == "started\n"
    assert streams(cell, "stderr") == (
        "[k8sexec] timed out after 1.5 s: closed the session into default/demo; "
        "kept 8 B of stdout and 0 B of stderr\n")
    assert streams(saved.cells[2], "stdout") == "[]\n"


@pytest.fixture(scope="module")
def workers() -> Iterator[str]:
    with Sandbox(pods=[PodSpec(f"w-{i}", labels={"app": "w"}) for i in range(20)]) as sb:
        yield sb.kubeconfig_path


def test_fan_out_prefixes_lines_and_shows_a_summary_table(workers, monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", workers)
    saved = execute_and_save(notebook(
        "%load_ext jupyter_k8stty",
        '%%k8sexec -l app=w\necho "line one"\nprintf "no newline"\n'
        '[ "$HOSTNAME" = w-7 ] && { echo "w-7 is broken" >&2; exit 1; }\nexit 0\n',
        "%%k8sexec w-1 w-2 ghost --out results --max-parallel 2\necho $HOSTNAME\n",
        "print({name: (r.exit_code, r.stdout, r.error) for name, r in results.items()})",
    ), tmp_path / "fanout.ipynb")
    cell = saved.cells[1]
    out_lines = streams(cell, "stdout").splitlines()
    assert sorted(out_lines) == sorted(
        [f"[w-{i}] line one" for i in range(20)] + [f"[w-{i}] no newline" for i in range(20)])
    for i in range(20):  # each pod's lines stay in order
        assert out_lines.index(f"[w-{i}] line one") < out_lines.index(f"[w-{i}] no newline")
    err = streams(cell, "stderr")
    assert "[w-7] w-7 is broken\n" in err
    assert "[k8sexec] 20 pods: 19 exited 0, 1 failed: w-7 (exit 1)\n" in err
    (table,) = [o for o in cell["outputs"] if o["output_type"] == "execute_result"]
    html = table["data"]["text/html"]
    # the failure in its own table first, the 19 that exited 0 folded under one line
    failures, folded = html.split("<details>")
    assert "20 pods: 19 exited 0, 1 failed" in failures and failures.count("<tr>") == 2
    assert "<summary>19 pods exited 0</summary>" in folded and folded.count("<tr>") == 20
    text = table["data"]["text/plain"].splitlines()
    assert text[0].split() == ["POD", "EXIT", "DURATION", "ERROR"]
    assert any(line.split()[:2] == ["w-7", "1"] for line in text)

    listed = saved.cells[2]
    assert streams(listed, "stdout") == ""  # --out took stdout
    assert '[ghost] [k8sexec] pods "ghost" not found' in streams(listed, "stderr")
    (shown,) = [o for o in listed["outputs"] if o["output_type"] == "display_data"]
    assert "ghost" in shown["data"]["text/plain"]
    printed = streams(saved.cells[3], "stdout")
    assert "'w-1': (0, b'w-1\\n', None)" in printed and "'w-2': (0, b'w-2\\n', None)" in printed
    assert "'ghost': (None, b'', 'pods \"ghost\" not found')" in printed


def test_fan_out_raise_error_stops_after_the_table(workers, monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", workers)
    nb = notebook(
        "%load_ext jupyter_k8stty",
        '%%k8sexec -l app=w --raise-error\n[ "$HOSTNAME" = w-3 ] && exit 9; true\n',
        "print('must not run')",
    )
    with pytest.raises(CellExecutionError):
        execute_and_save(nb, tmp_path / "fanout-raise.ipynb")
    saved = nbformat.read(str(tmp_path / "fanout-raise.ipynb"), as_version=4)
    cell = saved.cells[1]
    (error,) = errors(cell)
    assert error["ename"] == "ExecError"
    assert error["evalue"] == "20 pods: 19 exited 0, 1 failed; first: w-3 exited with code 9"
    assert any(o["output_type"] == "display_data" for o in cell["outputs"])
    assert saved.cells[2]["execution_count"] is None


@pytest.fixture
def kernel(kube_env) -> Iterator[Kernel]:
    k = Kernel()
    try:
        k.run("%load_ext jupyter_k8stty")
        yield k
    finally:
        k.shutdown()


def test_output_streams_live_while_the_script_runs(kernel):
    msg_id = kernel.submit("%%k8sexec demo\necho first\nsleep 2\necho second\n")
    kernel.pump_until(lambda: "first" in kernel.text(msg_id))
    first_at = time.monotonic()
    assert "second" not in kernel.text(msg_id)
    kernel.pump_until(lambda: kernel.idle(msg_id))
    (second_at,) = [t for t, m in kernel.of(msg_id, "stream") if "second" in m["content"]["text"]]
    assert second_at - first_at > 1.0
    assert kernel.text(msg_id) == "first\nsecond\n"


def test_kernel_interrupt_closes_the_session(kernel):
    msg_id = kernel.submit("%%k8sexec demo\necho running\nsleep 60\n")
    kernel.pump_until(lambda: "running" in kernel.text(msg_id))
    interrupted_at = time.monotonic()
    kernel.km.interrupt_kernel()
    kernel.pump_until(lambda: kernel.idle(msg_id), timeout=15)
    assert time.monotonic() - interrupted_at < 10
    (error,) = [m["content"] for _, m in kernel.of(msg_id, "error")]
    assert error["ename"] == "KeyboardInterrupt"
    assert kernel.text(msg_id, "stderr") == (
        "[k8sexec] interrupted: closed the session into default/demo\n")
    check = kernel.run(
        "import threading\n"
        "print(sorted(t.name for t in threading.enumerate() if t.name.startswith('k8stty-')))")
    assert kernel.text(check) == "[]\n"
