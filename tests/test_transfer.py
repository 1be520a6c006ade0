"""copy_to / copy_from against the sandbox: real tar in the pod, real files on both sides.

The sandbox's containers run on this machine, so an absolute remote path is also a
local path: tests check the pod's side of a copy by reading it directly.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tracemalloc
from pathlib import Path

import pytest

import jupyter_k8stty
import jupyter_k8stty.errors
import jupyter_k8stty.transfer
from jupyter_k8stty import ApiError, ArgumentError, CopyError, ExecTarget, copy_from, copy_to, run
from jupyter_k8stty.transfer.progress import ByteProgress

MB = 1024 * 1024


def tree(root: Path) -> dict[str, object]:
    """``{relative path: bytes | 'dir' | ('link', target)}`` of everything under ``root``."""
    found: dict[str, object] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                found[rel] = "dir"
            else:
                found[rel] = path.read_bytes()
    return found


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "src" / "project"
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "top.txt").write_text("top\n")
    (root / "a" / "data.bin").write_bytes(os.urandom(300_000))
    (root / "a" / "b" / "c" / "deep.txt").write_text("deep\n")
    (root / "a" / "b" / "ünïcode name.txt").write_text("ü\n")
    (root / "a" / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "a" / "run.sh").chmod(0o755)
    os.symlink("a/b/c/deep.txt", root / "link-to-deep")
    return root


def test_twenty_megabytes_both_ways_byte_identical(kubeconfig, tmp_path):
    payload = os.urandom(20 * MB)
    digest = hashlib.sha256(payload).hexdigest()
    local = tmp_path / "big.bin"
    local.write_bytes(payload)
    remote = tmp_path / "pod-side" / "nested" / "copy.bin"  # parents do not exist yet
    progress: list[tuple[int, int | None]] = []

    sent = copy_to("demo", local, str(remote), kubeconfig=kubeconfig,
                   progress=lambda done, total: progress.append((done, total)))
    assert sent == 20 * MB
    assert hashlib.sha256(remote.read_bytes()).hexdigest() == digest
    assert progress[-1] == (20 * MB, 20 * MB)
    assert all(a[0] <= b[0] for a, b in zip(progress, progress[1:], strict=False))
    assert len(progress) > 10  # reported as it streams, not once at the end

    back = tmp_path / "back" / "big.bin"
    received: list[tuple[int, int | None]] = []
    written = copy_from("demo", str(remote), back, kubeconfig=kubeconfig,
                        progress=lambda done, total: received.append((done, total)))
    assert written == 20 * MB
    assert hashlib.sha256(back.read_bytes()).hexdigest() == digest
    assert len(received) > 10 and received[-1][0] >= 20 * MB
    # The total is the archive's size as du estimates it in the pod, before tar runs.
    done, total = received[-1]
    assert total is not None and abs(total - done) < done / 100


def test_relative_remote_paths_start_in_the_container_workdir(kubeconfig, tmp_path):
    local = tmp_path / "note.txt"
    local.write_bytes(b"\x00\x01binary\xff\n")
    copy_to("demo", local, "uploads/note.txt", kubeconfig=kubeconfig)
    shown = run("demo", ["sh", "-c", "cat uploads/note.txt"], kubeconfig=kubeconfig)
    assert shown.stdout == b"\x00\x01binary\xff\n"
    copy_from("demo", "uploads/note.txt", tmp_path / "again.txt", kubeconfig=kubeconfig)
    assert (tmp_path / "again.txt").read_bytes() == b"\x00\x01binary\xff\n"


def test_streaming_keeps_memory_far_below_the_file_size(kubeconfig, tmp_path):
    local = tmp_path / "big.bin"
    with open(local, "wb") as f:
        for _ in range(32):
            f.write(os.urandom(MB))
    remote = tmp_path / "pod-side" / "big.bin"
    tracemalloc.start()
    try:
        copy_to("demo", local, str(remote), kubeconfig=kubeconfig)
        _, peak_to = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        copy_from("demo", str(remote), tmp_path / "back.bin", kubeconfig=kubeconfig)
        _, peak_from = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert remote.stat().st_size == 32 * MB and (tmp_path / "back.bin").stat().st_size == 32 * MB
    assert peak_to < 4 * MB, peak_to
    assert peak_from < 16 * MB, peak_from  # bounded by the receive window, not the file


def test_folder_with_nested_files_both_ways(kubeconfig, tmp_path, folder):
    expected = tree(folder)
    remote = tmp_path / "pod-side" / "copy"
    copy_to("demo", folder, str(remote), kubeconfig=kubeconfig)
    assert tree(remote) == expected
    assert os.access(remote / "a" / "run.sh", os.X_OK)

    back = tmp_path / "back"
    copy_from("demo", str(remote), back, kubeconfig=kubeconfig)
    assert tree(back) == expected
    assert os.access(back / "a" / "run.sh", os.X_OK)


def test_paths_follow_cp_r(kubeconfig, tmp_path, folder):
    pod_side = tmp_path / "pod-side"
    (pod_side / "existing").mkdir(parents=True)
    # Into an existing folder: the source keeps its name.
    copy_to("demo", folder / "top.txt", str(pod_side / "existing"), kubeconfig=kubeconfig)
    copy_to("demo", folder, str(pod_side / "existing"), kubeconfig=kubeconfig)
    assert (pod_side / "existing" / "top.txt").read_text() == "top\n"
    assert tree(pod_side / "existing" / "project") == tree(folder)
    # A trailing slash names a folder, created when missing.
    copy_to("demo", folder / "top.txt", str(pod_side / "new-dir") + "/", kubeconfig=kubeconfig)
    assert (pod_side / "new-dir" / "top.txt").read_text() == "top\n"
    # Otherwise the destination is the new name.
    copy_to("demo", folder / "top.txt", str(pod_side / "renamed.txt"), kubeconfig=kubeconfig)
    assert (pod_side / "renamed.txt").read_text() == "top\n"

    local = tmp_path / "local"
    local.mkdir()
    copy_from("demo", str(pod_side / "renamed.txt"), local, kubeconfig=kubeconfig)
    copy_from("demo", str(pod_side / "existing") + "/", local, kubeconfig=kubeconfig)
    copy_from("demo", str(pod_side / "renamed.txt"), local / "sub" / "other.txt", kubeconfig=kubeconfig)
    assert (local / "renamed.txt").read_text() == "top\n"
    assert tree(local / "existing" / "project") == tree(folder)
    assert (local / "sub" / "other.txt").read_text() == "top\n"


def test_links_pointing_out_of_the_destination_are_skipped(kubeconfig, tmp_path):
    pod_side = tmp_path / "pod-side" / "bundle"
    pod_side.mkdir(parents=True)
    (pod_side / "ok.txt").write_text("ok\n")
    os.symlink("/etc/passwd", pod_side / "absolute")
    os.symlink("../../../../../../etc", pod_side / "climbing")
    os.symlink("ok.txt", pod_side / "inside")
    local = tmp_path / "local"
    with pytest.warns(UserWarning, match="skipped 2 unsafe archive member"):
        copy_from("demo", str(pod_side), local, kubeconfig=kubeconfig)
    assert (local / "ok.txt").read_text() == "ok\n"
    assert os.readlink(local / "inside") == "ok.txt"
    assert not (local / "absolute").is_symlink() and not (local / "climbing").is_symlink()


def test_missing_remote_path_is_a_clear_error(kubeconfig, tmp_path):
    with pytest.raises(CopyError, match="No such file or directory") as info:
        copy_from("demo", "does/not/exist.txt", tmp_path / "x", kubeconfig=kubeconfig)
    assert info.value.exit_code not in (None, 0)
    assert not (tmp_path / "x").exists()


def test_missing_local_path_is_a_clear_error(kubeconfig, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such local file"):
        copy_to("demo", tmp_path / "nope", "x", kubeconfig=kubeconfig)


def test_a_container_without_tar_says_so(kubeconfig, tmp_path, monkeypatch):
    # The sandbox runs commands with its own PATH: give its "image" sh and mkdir only.
    image_bin = tmp_path / "image-bin"
    image_bin.mkdir()
    for tool in ("sh", "mkdir"):
        os.symlink(shutil.which(tool), image_bin / tool)
    monkeypatch.setenv("PATH", str(image_bin))
    local = tmp_path / "f.txt"
    local.write_text("x")
    message = "the container has no tar; copying needs tar in the image"
    with pytest.raises(CopyError, match=message) as info:
        copy_to("demo", local, "f.txt", kubeconfig=kubeconfig)
    assert info.value.exit_code == 127
    with pytest.raises(CopyError, match=message):
        copy_from("demo", "f.txt", tmp_path / "g.txt", kubeconfig=kubeconfig)


def test_text_progress_writes_one_updating_line(kubeconfig, tmp_path, capsys):
    local = tmp_path / "f.bin"
    local.write_bytes(os.urandom(2 * MB))
    copy_to("demo", local, str(tmp_path / "pod-side" / "f.bin"), kubeconfig=kubeconfig, progress=True)
    err = capsys.readouterr().err
    assert err.startswith("\rf.bin → demo: ")  # tqdm's text bar (tests/test_progress.py has more)
    assert re.search(r" 100%\|█+\| 2\.00M/2\.00M \[00:0\d<00:00, +[\d.]+[kMG]?B/s\]\n$", err), err
    assert err.count("\n") == 1


def test_copies_take_an_exec_target(kubeconfig, tmp_path):
    target = ExecTarget("demo", kubeconfig=kubeconfig)
    local = tmp_path / "t.txt"
    local.write_text("via target\n")
    assert copy_to(target, local, str(tmp_path / "pod-side" / "t.txt")) == len("via target\n")
    copy_from(target, str(tmp_path / "pod-side" / "t.txt"), tmp_path / "back.txt")
    assert (tmp_path / "back.txt").read_text() == "via target\n"
    # A workload target picks one pod, as kubectl cp does not but kubectl exec does.
    copy_to("deploy/web", local, str(tmp_path / "pod-side" / "w.txt"), kubeconfig=kubeconfig)
    assert (tmp_path / "pod-side" / "w.txt").read_text() == "via target\n"


def test_copies_impersonate(fresh_sandbox, tmp_path):
    fresh_sandbox.add_user("reader", ["get pods", "list pods"])
    local = tmp_path / "f.txt"
    local.write_text("x")
    admin = fresh_sandbox.kubeconfig_path
    with pytest.raises(ApiError, match='User "reader" cannot create resource "pods/exec"'):
        copy_to("demo", local, "f.txt", kubeconfig=admin, impersonate="reader")
    with pytest.raises(ApiError, match='User "reader" cannot create resource "pods/exec"'):
        copy_from("demo", "f.txt", tmp_path / "g.txt", kubeconfig=admin, impersonate="reader")


def test_bad_arguments_fail_before_any_request(tmp_path):
    local = tmp_path / "f.txt"
    local.write_text("x")
    unreachable = str(tmp_path / "no-kubeconfig")  # never read: the checks come first
    for remote in ("", "a\x00b", "caf\udce9"):
        with pytest.raises(ArgumentError, match="remote_path"):
            copy_to("demo", local, remote, kubeconfig=unreachable)
        with pytest.raises(ArgumentError, match="remote_path"):
            copy_from("demo", remote, tmp_path / "g", kubeconfig=unreachable)
    with pytest.raises(ArgumentError, match="invalid pod name"):
        copy_to("Not_A_Pod", local, "x", kubeconfig=unreachable)
    with pytest.raises(ArgumentError, match="progress must be"):
        copy_to("demo", local, "x", kubeconfig=unreachable, progress="yes")


def test_copy_error_is_one_class_wherever_imported():
    assert jupyter_k8stty.CopyError is jupyter_k8stty.transfer.CopyError is jupyter_k8stty.errors.CopyError
    assert jupyter_k8stty.transfer.ByteProgress is ByteProgress


@pytest.mark.parametrize("code", [0, 3])
def test_a_receiver_that_exits_before_the_end_of_its_input_is_judged_by_its_exit_code(
        kubeconfig, code):
    # tar -x may exit once it has read the end-of-archive blocks, before the last padding
    # or the close of stdin arrives: the stream then ends under the sender's feet. That
    # is not a failed send; the exit code says whether the copy worked.
    from jupyter_k8stty.exec.session import ExecSession
    from jupyter_k8stty.transfer.streams import SessionWriter, send_archive

    session = ExecSession("demo", ["sh", "-c", f"head -c 1000 >/dev/null; exit {code}"],
                          kubeconfig=kubeconfig, tty=False, stdin=True).start()
    writer = SessionWriter(session)

    def write() -> None:
        for _ in range(64):  # 16 MB: far more than the pipe and socket buffers hold
            writer.write(bytes(256 * 1024))

    try:
        send_archive(session, write)
        assert session.status == "exited" and session.exit_code == code
        assert writer.sent < 16 * MB  # the stream did end before all of it was sent
    finally:
        session.close()
