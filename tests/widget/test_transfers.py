"""Uploads and downloads through the terminal's comm, in a real kernel against the sandbox.

The test plays the browser's side of ``js/src/transfers.js``: it announces files, sends
their bytes as binary buffers no further than the flow-control window ahead of the
kernel's ``upload-progress``, and acknowledges ``download-data``. Files are compared
with sha256 on both sides.
"""

from __future__ import annotations

import hashlib
import io
import random
import tarfile
import time

import psutil

from jupyter_k8stty import run
from jupyter_k8stty.widget.uploads import UPLOAD_WINDOW

from .conftest import open_terminal
from .frontend import Comm, Frontend, new_view_id

WINDOW = UPLOAD_WINDOW
CHUNK = 256 * 1024
#: Seconds a transfer of a few MB may take.
TRANSFER_TIMEOUT = 60.0
#: The 200 MB upload: its size and how much the kernel's RSS may grow meanwhile.
BIG_UPLOAD = 200 * 1024 * 1024
RSS_BOUND = 48 * 1024 * 1024
#: Seconds between the start of two shells of the same size in one pod.
SECOND_SHELL_AFTER = 1.0


def pod_sh(kubeconfig: str, script: str) -> str:
    result = run("demo", ["sh", "-c", script], kubeconfig=kubeconfig, timeout=30)
    assert result.exit_code == 0, result
    return result.stdout.decode()


def pod_dir(kubeconfig: str, name: str) -> str:
    """A fresh folder in the demo pod (absolute path)."""
    return pod_sh(kubeconfig, f"rm -rf {name} && mkdir -p {name} && cd {name} && pwd").strip()


def attach(fe: Frontend, comm: Comm) -> str:
    view = new_view_id()
    fe.send_custom(comm, {"type": "ready", "view": view})
    fe.wait_for(lambda: comm.custom("replay"), what="a replay")
    return view


def last(comm: Comm, kind: str, transfer_id: str):
    found = [m.custom for m in comm.custom(kind) if m.custom.get("id") == transfer_id]
    return found[-1] if found else None


def upload(fe: Frontend, comm: Comm, view: str, dest: str, files: list[dict], data, *,
           upload_id: str, on_chunk=None) -> dict:
    """Announce ``files``, send ``data`` (an iterable of chunks) under flow control; return upload-done."""
    fe.send_custom(comm, {"type": "upload", "view": view, "id": upload_id, "dest": dest, "files": files})
    sent = 0

    def room() -> bool:
        progress = last(comm, "upload-progress", upload_id)
        acked = progress["bytes"] if progress else 0
        return sent - acked < WINDOW or last(comm, "upload-done", upload_id) is not None

    for chunk in data:
        fe.wait_for(room, timeout=TRANSFER_TIMEOUT, what="room in the upload window")
        if last(comm, "upload-done", upload_id) is not None:
            break
        fe.send_custom(comm, {"type": "upload-data", "id": upload_id}, [chunk])
        sent += len(chunk)
        if on_chunk is not None:
            on_chunk(sent)
    return fe.wait_for(lambda: last(comm, "upload-done", upload_id), timeout=TRANSFER_TIMEOUT,
                       what="upload-done")


def chunks(data: bytes):
    for start in range(0, len(data), CHUNK):
        yield data[start:start + CHUNK]


def download(fe: Frontend, comm: Comm, download_id: str, request: dict | None = None) -> tuple[dict, bytes]:
    """Receive (and acknowledge) a download; return its download-start and the bytes."""
    if request is not None:
        fe.send_custom(comm, request)
    received: list[bytes] = []
    seen = 0

    def finished():
        nonlocal seen
        data = [m for m in comm.custom("download-data") if m.custom.get("id") == download_id]
        for message in data[seen:]:
            received.extend(message.buffers)
            fe.send_custom(comm, {"type": "download-ack", "id": download_id,
                                  "bytes": sum(len(b) for b in message.buffers)})
        seen = len(data)
        return last(comm, "download-done", download_id)

    done = fe.wait_for(finished, timeout=TRANSFER_TIMEOUT, what="download-done")
    finished()
    assert done["error"] is None, done
    return last(comm, "download-start", download_id), b"".join(received)


def test_upload_of_files_and_folders_is_byte_identical(fe, kubeconfig):
    comm = open_terminal(fe, "up")
    view = attach(fe, comm)
    dest = pod_dir(kubeconfig, "uploads-1")
    rng = random.Random(12)
    big, small = rng.randbytes(3 * 1024 * 1024 + 7), rng.randbytes(1000)
    files = [
        {"name": "big.bin", "size": len(big), "dir": False, "mtime": 1_700_000_000_000},
        {"name": "folder", "size": 0, "dir": True},
        {"name": "folder/empty.txt", "size": 0, "dir": False},
        {"name": "folder/sub", "size": 0, "dir": True},
        {"name": "folder/sub/small name.txt", "size": len(small), "dir": False},
    ]
    done = upload(fe, comm, view, dest, files, chunks(big + small), upload_id="u1")
    assert done == {"type": "upload-done", "id": "u1", "view": view, "bytes": len(big) + len(small),
                    "error": None, "dest": dest}
    sums = pod_sh(kubeconfig, f"cd {dest} && sha256sum big.bin 'folder/sub/small name.txt' && "
                              "wc -c < folder/empty.txt && ls")
    assert hashlib.sha256(big).hexdigest() + "  big.bin" in sums
    assert hashlib.sha256(small).hexdigest() + "  folder/sub/small name.txt" in sums
    assert "\n0\n" in sums
    # Nothing was typed into the shell: its output never mentions tar.
    assert b"tar" not in comm.output()


def test_upload_refuses_names_outside_the_destination(fe, kubeconfig):
    comm = open_terminal(fe, "bad")
    view = attach(fe, comm)
    dest = pod_dir(kubeconfig, "uploads-2")
    for n, name in enumerate(["../escape.txt", "/etc/x", "a/../../b", "", "a//b"]):
        fe.send_custom(comm, {"type": "upload", "view": view, "id": f"b{n}", "dest": dest,
                              "files": [{"name": name, "size": 1}]})
        done = fe.wait_for(lambda n=n: last(comm, "upload-done", f"b{n}"), what="a refusal")
        assert done["error"] and "relative" in done["error"], done
    assert pod_sh(kubeconfig, f"ls -A {dest}; ls ..").count("escape") == 0


def test_a_cancelled_upload_stops_and_says_so(fe, kubeconfig):
    comm = open_terminal(fe, "cancel")
    view = attach(fe, comm)
    dest = pod_dir(kubeconfig, "uploads-3")
    files = [{"name": "never-finished.bin", "size": 10 * CHUNK}]
    fe.send_custom(comm, {"type": "upload", "view": view, "id": "c1", "dest": dest, "files": files})
    fe.send_custom(comm, {"type": "upload-data", "id": "c1"}, [b"x" * CHUNK])
    fe.send_custom(comm, {"type": "upload-cancel", "id": "c1", "reason": "cancelled"})
    done = fe.wait_for(lambda: last(comm, "upload-done", "c1"), what="upload-done")
    assert done["error"] == "cancelled"
    fe.wait_for(lambda: fe.eval("len(cancel._transfers.running)") == 0, what="the upload to stop")


def test_a_200_mb_upload_keeps_kernel_memory_bounded_and_the_terminal_usable(fe, kubeconfig):
    comm = open_terminal(fe, "huge")
    view = attach(fe, comm)
    dest = pod_dir(kubeconfig, "uploads-big")
    kernel = psutil.Process(fe.eval("__import__('os').getpid()"))
    baseline = kernel.memory_info().rss
    peak = baseline
    digest = hashlib.sha256()
    rng = random.Random(200)
    echoed_at: list[float] = []

    def data():
        for _ in range(BIG_UPLOAD // CHUNK):
            chunk = rng.randbytes(CHUNK)
            digest.update(chunk)
            yield chunk

    def watch(sent: int) -> None:
        nonlocal peak
        if sent % (16 * CHUNK) == 0:
            peak = max(peak, kernel.memory_info().rss)
        if sent == BIG_UPLOAD // 2:  # halfway: the shell still answers
            fe.send_custom(comm, {"type": "input"}, [b"echo during-$((20+22))\r"])
            typed = time.monotonic()
            fe.wait_for(lambda: b"during-42" in comm.output(), what="the echo during the upload")
            echoed_at.append(time.monotonic() - typed)

    started = time.monotonic()
    done = upload(fe, comm, view, dest, [{"name": "huge.bin", "size": BIG_UPLOAD}], data(),
                  upload_id="h1", on_chunk=watch)
    seconds = time.monotonic() - started
    assert done["error"] is None and done["bytes"] == BIG_UPLOAD, done
    grown = peak - baseline
    queued = fe.eval("huge._transfers._jobs['h1'].peak_queued")
    print(f"\n200 MB upload: {seconds:.1f} s ({BIG_UPLOAD / seconds / 1e6:.1f} MB/s), kernel RSS "
          f"{baseline / 1e6:.1f} MB before, peak +{grown / 1e6:.1f} MB; echo during it: "
          f"{echoed_at[0] * 1000:.0f} ms; most bytes queued in the kernel: {queued / 1e6:.2f} MB")
    assert grown < RSS_BOUND, f"kernel RSS grew by {grown / 1e6:.1f} MB"
    assert queued <= WINDOW + CHUNK
    assert pod_sh(kubeconfig, f"sha256sum {dest}/huge.bin").split()[0] == digest.hexdigest()
    pod_sh(kubeconfig, f"rm -f {dest}/huge.bin")


def test_download_of_a_file_and_of_a_folder_as_tar(fe, kubeconfig):
    comm = open_terminal(fe, "down")
    view = attach(fe, comm)
    folder = pod_dir(kubeconfig, "downloads-1")
    pod_sh(kubeconfig, f"cd {folder} && head -c 5000000 /dev/urandom > data.bin && mkdir -p tree/sub && "
                       "printf one > tree/a.txt && head -c 70000 /dev/urandom > tree/sub/b.bin")
    expected = pod_sh(kubeconfig, f"cd {folder} && sha256sum data.bin tree/a.txt tree/sub/b.bin")
    sums = {line.split()[1]: line.split()[0] for line in expected.splitlines()}

    start, data = download(fe, comm, "d1", {"type": "download", "view": view, "id": "d1",
                                            "path": f"{folder}/data.bin"})
    assert (start["name"], start["kind"], start["size"]) == ("data.bin", "file", 5_000_000)
    assert hashlib.sha256(data).hexdigest() == sums["data.bin"]

    start, data = download(fe, comm, "d2", {"type": "download", "view": view, "id": "d2",
                                            "path": f"{folder}/tree"})
    assert (start["name"], start["kind"]) == ("tree.tar", "tar")
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        got = {m.name: hashlib.sha256(archive.extractfile(m).read()).hexdigest()
               for m in archive if m.isreg()}
    assert got == {"tree/a.txt": sums["tree/a.txt"], "tree/sub/b.bin": sums["tree/sub/b.bin"]}


def test_a_missing_path_fails_in_one_line(fe, kubeconfig):
    comm = open_terminal(fe, "miss")
    view = attach(fe, comm)
    fe.send_custom(comm, {"type": "download", "view": view, "id": "m1", "path": "/no/such/file"})
    done = fe.wait_for(lambda: last(comm, "download-done", "m1"), what="download-done")
    assert "No such file" in done["error"] and "\n" not in done["error"], done
    assert not [m for m in comm.custom("download-start") if m.custom["id"] == "m1"]


def test_terminal_download_sends_to_the_most_recent_view(fe, kubeconfig):
    comm = open_terminal(fe, "pydown")
    attach(fe, comm)
    second = attach(fe, comm)
    folder = pod_dir(kubeconfig, "downloads-2")
    pod_sh(kubeconfig, f"printf 'hello from the pod' > {folder}/note.txt")
    fe.execute(f"tr = pydown.download({folder + '/note.txt'!r})")
    transfer_id = fe.eval("tr._job.id")
    start, data = download(fe, comm, transfer_id)
    assert start["view"] == second and start["name"] == "note.txt"
    assert data == b"hello from the pod"
    fe.wait_for(lambda: fe.eval("tr.done"), what="the transfer to end")
    assert fe.eval("(tr.error, tr.bytes, tr.name)") == (None, 18, "note.txt")


def test_the_shell_directory_is_found_without_typing(fe, kubeconfig):
    comm = open_terminal(fe, "where")
    view = attach(fe, comm)
    # A second shell in the same pod, of the same size, elsewhere: the shells are told
    # apart by when they started (a second later here).
    time.sleep(SECOND_SHELL_AFTER)
    other = open_terminal(fe, "elsewhere")
    attach(fe, other)
    fe.send_custom(other, {"type": "input"}, [b"cd /tmp\r"])
    pod_dir(kubeconfig, "where-am-i/deeper")
    fe.send_custom(comm, {"type": "input"}, [b"cd where-am-i/deeper && echo moved-$((1+1))\r"])
    # The prompt after the echo too: it must not count as something typed later.
    fe.wait_for(lambda: comm.output().partition(b"moved-2")[2].rstrip().endswith(b"deeper#"),
                what="the cd and the prompt after it")
    before = len(comm.output())
    fe.send_custom(comm, {"type": "upload-where", "view": view, "request": "w1"})
    answer = fe.wait_for(lambda: [m.custom for m in comm.custom("upload-where")
                                  if m.custom.get("request") == "w1"], what="the answer")[0]
    assert answer["source"] == "shell", answer
    assert answer["path"].endswith("/where-am-i/deeper"), answer
    time.sleep(0.3)
    fe.pump()
    assert comm.output()[before:] == b"", "something was typed into the shell"
