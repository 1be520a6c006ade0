"""Progress bars in a terminal: tqdm's text bar on stderr for copies and long fan-outs.

The widget bar in JupyterLab is tested in ``tests/browser/test_progress_in_browser.py``
and, through nbclient, by the tour (``tests/test_tour.py``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from jupyter_k8stty import copy_from, copy_to, run_many
from jupyter_k8stty.exec import fanout_progress
from jupyter_k8stty.transfer.pod_side import SIZE_MARK, TAR_RECORD, PodSide

from .notebook_kernel import in_process_shell

MB = 1024 * 1024
WORKERS = ["worker-0", "worker-1", "worker-2"]
#: A fan-out that takes longer than the bar's delay, with worker-2 failing.
SLOW_SCRIPT = ["sh", "-c", f"sleep {fanout_progress.SHOW_AFTER + 0.5}; echo done; [ $HOSTNAME != worker-2 ]"]


def last_line(err: str) -> str:
    """What a terminal shows last of a carriage-return-updated bar."""
    return err.rstrip("\n").rsplit("\r", 1)[-1]


def test_copy_to_draws_bytes_rate_and_eta_on_stderr(kubeconfig, tmp_path, capsys):
    local = tmp_path / "weights.bin"
    local.write_bytes(os.urandom(3 * MB))
    copy_to("demo", local, str(tmp_path / "pod-side" / "weights.bin"), kubeconfig=kubeconfig)
    out, err = capsys.readouterr()
    assert out == ""  # never on stdout
    assert err.startswith("\rweights.bin → demo:   0%|")  # shown from the first bytes on
    final = last_line(err)
    assert re.fullmatch(r"weights\.bin → demo: 100%\|█{10}\| 3\.00M/3\.00M "
                        r"\[\d\d:\d\d<00:00, +[\d.]+[kMG]?B/s\]", final), final
    assert err.endswith("\n") and err.count("\n") == 1  # one line, left in place


def test_copy_from_knows_the_total_from_du_before_tar(kubeconfig, tmp_path, capsys):
    folder = tmp_path / "pod-side" / "run"
    folder.mkdir(parents=True)
    for i in range(3):
        (folder / f"part-{i}.bin").write_bytes(os.urandom(MB))
    calls: list[tuple[int, int | None]] = []
    copy_from("demo", str(folder), tmp_path / "back", kubeconfig=kubeconfig,
              progress=lambda done, total: calls.append((done, total)))
    done, total = calls[-1]
    assert total is not None and all(t == total for _, t in calls[1:])  # known from the start on
    assert done >= 3 * MB and abs(total - done) <= TAR_RECORD  # a good estimate
    capsys.readouterr()

    copy_from("demo", str(folder), tmp_path / "again", kubeconfig=kubeconfig)
    out, err = capsys.readouterr()
    assert out == ""
    final = last_line(err)
    assert re.fullmatch(rf"demo:{re.escape(str(folder))}: 100%\|█{{10}}\| 3\.0\dM/3\.0\dM "
                        r"\[\d\d:\d\d<00:00, +[\d.]+[kMG]?B/s\]", final), final


def test_progress_false_draws_nothing(kubeconfig, tmp_path, capsys):
    local = tmp_path / "f.bin"
    local.write_bytes(os.urandom(MB))
    copy_to("demo", local, str(tmp_path / "pod-side" / "f.bin"), kubeconfig=kubeconfig, progress=False)
    copy_from("demo", str(tmp_path / "pod-side" / "f.bin"), tmp_path / "g.bin", kubeconfig=kubeconfig,
              progress=False)
    results = run_many(WORKERS, SLOW_SCRIPT, kubeconfig=kubeconfig, progress=False)
    assert len(results) == 3
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("disable", [None, "1"])
def test_tqdm_disable_in_the_environment_turns_bars_off(kubeconfig, tmp_path, disable):
    local = tmp_path / "f.bin"
    local.write_bytes(os.urandom(MB))
    code = (f"from jupyter_k8stty import copy_to\n"
            f"copy_to('demo', {str(local)!r}, {str(tmp_path / 'copy.bin')!r}, kubeconfig={kubeconfig!r})\n")
    # tqdm reads TQDM_* when it is imported, so a fresh process shows the effect.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TQDM_")}
    if disable is not None:
        env["TQDM_DISABLE"] = disable
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert ("1.00M/1.00M" in done.stderr) is (disable is None), done.stderr


def test_a_quick_fan_out_shows_no_bar(kubeconfig, capsys):
    results = run_many(WORKERS, ["true"], kubeconfig=kubeconfig)
    assert results.ok
    assert capsys.readouterr() == ("", "")


def test_a_long_fan_out_counts_pods_and_failures(kubeconfig, capsys):
    started = time.monotonic()
    results = run_many(WORKERS, SLOW_SCRIPT, kubeconfig=kubeconfig)
    assert time.monotonic() - started > fanout_progress.SHOW_AFTER
    assert [r.exit_code for r in results.values()] == [0, 0, 1]
    out, err = capsys.readouterr()
    assert out == ""
    # Shown once the delay passed, with nothing done yet; then the end: all done, one failure.
    assert re.search(r"\rpods:   0%\| +\| 0/3 \[00:01<\?, \?pod/s, 0 failed\]", err), err
    final = last_line(err)
    assert re.fullmatch(r"pods: 100%\|█{10}\| 3/3 \[00:01<00:00, +[\d.]+pod/s, 1 failed\]", final), final


def test_the_bar_stays_out_of_out_variables(kubeconfig, capsys):
    ip = in_process_shell()
    script = f"sleep {fanout_progress.SHOW_AFTER + 0.5}\necho result from $HOSTNAME\n"
    ip.run_cell_magic("k8sexec", f"-l app=worker --kubeconfig {kubeconfig} --out slow", script)
    out, err = capsys.readouterr()
    assert "3/3" in err and "pods: 100%" in err  # the bar was drawn (on stderr) ...
    slow = ip.user_ns["slow"]
    # ... and the variable holds only what the pods wrote.
    assert {name: r.stdout for name, r in slow.items()} == {
        name: f"result from {name}\n".encode() for name in WORKERS}
    assert "%|" not in out and "pod/s" not in out  # stdout has the summary table only


@pytest.mark.parametrize("split", [0, 5, 20, 30])
def test_the_size_line_is_read_across_chunks_and_kept_out_of_errors(split):
    line = f"{SIZE_MARK} 3149824 1 2\n".encode()
    side = PodSide()
    side.add(line[:split])
    side.add(line[split:] + b"tar: something odd\n")
    # 3 MiB + a folder, two entries (512-byte headers, padding), the end blocks, whole records.
    assert side.estimate == -(-(3149824 + 2 * 768 + 1024) // TAR_RECORD) * TAR_RECORD
    assert side.text() == "tar: something odd"


def test_a_pod_without_du_sends_no_estimate():
    side = PodSide()
    side.add(b"some warning\n")
    assert side.estimate is None and side.text() == "some warning"
