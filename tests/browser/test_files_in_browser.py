"""Drag and drop, the upload and download actions, and ``Terminal.download``, in JupyterLab and Chromium.

Uploads land in the demo pod, whose files the test reads with ``run`` (sha256 on both
sides). Nothing is ever typed into the user's shell: the screen shows only what the
test typed itself.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import tarfile
import threading
import time
from pathlib import Path

import psutil
import pytest

from jupyter_k8stty import run

from .features import action, open_terminal
from .lab import CELL_TIMEOUT, UI_TIMEOUT, poll
from .test_terminal_in_browser import wait_prompt

pytestmark = pytest.mark.browser

#: The big upload: its size, the most the kernel's RSS may grow meanwhile, and its time limit.
BIG = 200 * 1024 * 1024
RSS_BOUND = 64 * 1024 * 1024
BIG_TIMEOUT = 240.0

#: Drop ``files`` ([name, base64]) on the terminal, as the browser does with a real DataTransfer.
DROP_FILES_JS = """(root, files) => {
    const dt = new DataTransfer();
    for (const [name, data] of files) {
        const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        dt.items.add(new File([bytes], name, {lastModified: 1700000000000}));
    }
    const screen = root.querySelector('.k8stty-screen');
    for (const type of ['dragenter', 'dragover', 'drop']) {
        screen.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: dt}));
    }
}"""

#: Drop a folder: Chromium gives folders as FileSystemEntry trees, which a page cannot make,
#: so this DataTransfer stands in for one with the same interface (webkitGetAsEntry, readEntries
#: in batches, file()). ``tree`` is {name: base64 | {subtree}}.
DROP_FOLDER_JS = """(root, [name, tree]) => {
    const entry = (entryName, value) => {
        if (typeof value === 'string') {
            const bytes = Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
            return {isFile: true, isDirectory: false, name: entryName,
                    file: (ok) => ok(new File([bytes], entryName))};
        }
        const children = Object.entries(value).map(([n, v]) => entry(n, v));
        return {isFile: false, isDirectory: true, name: entryName, createReader: () => {
            let batches = [children.slice(0, 1), children.slice(1), []];
            return {readEntries: (ok) => ok(batches.shift() || [])};
        }};
    };
    const top = entry(name, tree);
    const dt = {types: ['Files'], files: [], dropEffect: 'none',
                items: [{kind: 'file', webkitGetAsEntry: () => top}]};
    const screen = root.querySelector('.k8stty-screen');
    for (const type of ['dragenter', 'dragover', 'drop']) {
        const event = new Event(type, {bubbles: true, cancelable: true});
        Object.defineProperty(event, 'dataTransfer', {value: dt});
        screen.dispatchEvent(event);
    }
}"""


def pod(kubeconfig: str, script: str) -> str:
    result = run("demo", ["sh", "-c", script], kubeconfig=kubeconfig, timeout=60)
    assert result.exit_code == 0, result
    return result.stdout.decode()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def drop_files(term, files: list[tuple[str, bytes]]) -> None:
    term.root.evaluate(DROP_FILES_JS, [[name, base64.b64encode(data).decode()] for name, data in files])


def upload_panel(term):
    return term.root.locator(".k8stty-upload")


def confirm_upload(term, *, dest: str | None = None) -> str:
    """Wait for the confirmation, maybe change the destination, confirm; return the destination."""
    panel = upload_panel(term)
    box = panel.locator("[data-k8stty-upload='dest']")
    poll(lambda: panel.get_attribute("data-state") == "confirm" and box.is_enabled() and box.input_value(),
         UI_TIMEOUT, "the upload's confirmation with a destination")
    if dest is not None:
        box.fill(dest)
    value = box.input_value()
    panel.locator("[data-k8stty-upload='confirm']").click()
    return value


def wait_uploaded(term, timeout: float = 60.0) -> str:
    panel = upload_panel(term)
    poll(lambda: panel.get_attribute("data-state") in ("done", "error"), timeout, "the upload to end",
         describe=panel.inner_text)
    assert panel.get_attribute("data-state") == "done", panel.inner_text()
    return panel.inner_text()


def test_dropped_files_and_folders_go_where_the_shell_is(open_notebook, kubeconfig):
    nb, term = open_terminal(open_notebook)
    home = pod(kubeconfig, "rm -rf drops && mkdir -p drops && cd drops && pwd").strip()
    term.focus()
    term.type("cd drops && echo in-$((1+1))\n")
    term.wait_for(r"^in-2$")
    wait_prompt(term)
    before = term.text()

    one, two = bytes(range(256)) * 4000, "h\u00e9llo\n".encode()
    drop_files(term, [("one.bin", one), ("two words.txt", two)])
    panel = upload_panel(term)
    poll(lambda: panel.get_attribute("data-state") == "confirm", UI_TIMEOUT, "the confirmation")
    assert "2 files (1.0 MB)" in panel.inner_text(), panel.inner_text()
    box = panel.locator("[data-k8stty-upload='dest']")
    poll(lambda: box.input_value() == home, 20, "the shell's directory as the destination",
         describe=box.input_value)
    assert panel.locator(".k8stty-upload-source").inner_text() == "the shell's working directory"
    term.screenshot("21-upload-confirm")
    # The user edits the destination before anything is written.
    confirm_upload(term, dest=f"{home}/edited")
    assert "Uploaded 2 files" in wait_uploaded(term)
    sums = pod(kubeconfig, f"cd {home}/edited && sha256sum one.bin 'two words.txt'")
    assert f"{sha(one)}  one.bin" in sums and f"{sha(two)}  two words.txt" in sums, sums
    term.screenshot("22-upload-done")

    # A folder, with a sub-folder and an empty file, into the same place.
    tree = {"a.txt": base64.b64encode(b"A" * 10).decode(),
            "sub": {"b.bin": base64.b64encode(bytes(range(200))).decode(), "empty": ""}}
    term.root.evaluate(DROP_FOLDER_JS, ["tree", tree])
    confirm_upload(term)
    assert "1 folder, 3 files" in wait_uploaded(term)
    listing = pod(kubeconfig, f"cd {home} && find tree -type f | sort && sha256sum tree/sub/b.bin")
    assert listing.startswith("tree/a.txt\ntree/sub/b.bin\ntree/sub/empty\n"), listing
    assert sha(bytes(range(200))) in listing

    # The shell announces its directory with OSC 7: that wins.
    term.focus()
    term.type("printf '\\033]7;file://demo%s/osc7dir\\007' \"$PWD\"; echo osc-$((3+4))\n")
    term.wait_for(r"^osc-7$")
    drop_files(term, [("three.txt", b"three")])
    box = upload_panel(term).locator("[data-k8stty-upload='dest']")
    poll(lambda: box.input_value() == f"{home}/osc7dir", UI_TIMEOUT, "the OSC 7 directory",
         describe=box.input_value)
    assert "OSC 7" in upload_panel(term).locator(".k8stty-upload-source").inner_text()
    confirm_upload(term)
    wait_uploaded(term)
    assert pod(kubeconfig, f"cat {home}/osc7dir/three.txt") == "three"

    # Nothing was typed into the shell.
    after = term.text()
    assert after.startswith(before.rstrip()), after
    assert "tar" not in after and "three.txt" not in after, after


def kernel_pid(nb, index: int) -> int:
    nb.run_and_wait(index)
    return int(re.search(r"pid=(\d+)", nb.output_text(index))[1])


def test_a_200_mb_upload_keeps_kernel_memory_bounded_and_the_terminal_usable(open_notebook, kubeconfig,
                                                                              tmp_path: Path):
    nb, term = open_terminal(open_notebook, "", "import os; print(f'pid={os.getpid()}')")
    page = nb.page
    kernel = psutil.Process(kernel_pid(nb, 1))
    dest = pod(kubeconfig, "rm -rf big && mkdir -p big && cd big && pwd").strip()
    big = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with open(big, "wb") as f:
        block = hashlib.sha256(b"seed").digest() * (1024 * 1024 // 32)
        for i in range(BIG // len(block)):
            chunk = bytes([i % 251]) + block[1:]
            digest.update(chunk)
            f.write(chunk)
    term.focus()
    typed = time.monotonic()
    term.type("echo before-$((6*7))\n")
    term.wait_for(r"^before-42$")
    idle_echo = time.monotonic() - typed
    baseline = kernel.memory_info().rss
    peak = [baseline]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], kernel.memory_info().rss)
            time.sleep(0.05)

    with page.expect_file_chooser() as chooser:
        action(term, "upload").click()
    chooser.value.set_files(str(big))
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    confirm_upload(term, dest=dest)
    panel = upload_panel(term)
    poll(lambda: re.search(r"Uploading [1-9]", panel.inner_text()), 30, "the upload under way",
         describe=panel.inner_text)
    term.focus()
    typed = time.monotonic()
    term.type("echo during-$((6*7))\n")
    term.wait_for(r"^during-42$")
    echo_seconds = time.monotonic() - typed
    still_running = panel.get_attribute("data-state") == "running"
    term.screenshot("23-typing-during-upload")
    wait_uploaded(term, BIG_TIMEOUT)
    seconds = time.monotonic() - started
    stop.set()
    sampler.join()
    grown = peak[0] - baseline
    print(f"\nbrowser upload of 200 MB: {seconds:.1f} s ({BIG / seconds / 1e6:.1f} MB/s); kernel RSS "
          f"{baseline / 1e6:.1f} MB before, peak +{grown / 1e6:.1f} MB; the same line typed and echoed "
          f"in {echo_seconds * 1000:.0f} ms while uploading (upload still running: {still_running}), "
          f"{idle_echo * 1000:.0f} ms before")
    assert still_running, "the upload ended before the echo: nothing was shown about usability"
    # Typing gives the upload a pause (js/src/transfers.js INPUT_QUIET_MS); the bound is loose
    # because the machine may be busy.
    assert echo_seconds < 4 * idle_echo + 3, (echo_seconds, idle_echo)
    assert grown < RSS_BOUND, f"kernel RSS grew by {grown / 1e6:.1f} MB"
    assert pod(kubeconfig, f"sha256sum {dest}/big.bin").split()[0] == digest.hexdigest()
    pod(kubeconfig, f"rm -f {dest}/big.bin")


def test_download_action_and_terminal_download_save_through_the_browser(open_notebook, kubeconfig):
    folder = pod(kubeconfig, "rm -rf dl && mkdir -p dl/tree/sub && cd dl && "
                             "head -c 3000000 /dev/urandom > data.bin && printf one > tree/a.txt && "
                             "head -c 5000 /dev/urandom > tree/sub/b.bin && pwd").strip()
    sums = dict(reversed(line.split()) for line in
                pod(kubeconfig, f"cd {folder} && sha256sum data.bin tree/a.txt tree/sub/b.bin").splitlines())
    nb, term = open_terminal(open_notebook, "", f"tr = t.download({folder + '/tree/a.txt'!r})")
    page = nb.page
    term.focus()
    term.type(f"cd {folder}\n")
    wait_prompt(term)

    action(term, "download").click()
    panel = term.root.locator(".k8stty-download")
    path = panel.locator("[data-k8stty-download='path']")
    poll(lambda: path.input_value() == f"{folder}/", 20, "the shell's directory filled in",
         describe=path.input_value)
    term.screenshot("24-download-ask")
    path.press("End")
    page.keyboard.type("data.bin")
    with page.expect_download() as saved:
        page.keyboard.press("Enter")
    assert saved.value.suggested_filename == "data.bin"
    assert sha(Path(saved.value.path()).read_bytes()) == sums["data.bin"]
    poll(lambda: panel.get_attribute("data-state") == "done", UI_TIMEOUT, "the download shown done")
    term.screenshot("25-download-done")

    # A folder comes as NAME.tar.
    action(term, "download").click()
    poll(lambda: path.input_value(), 20, "the path box")
    path.fill("tree")
    with page.expect_download() as saved:
        page.keyboard.press("Enter")
    assert saved.value.suggested_filename == "tree.tar"
    with tarfile.open(fileobj=io.BytesIO(Path(saved.value.path()).read_bytes())) as archive:
        got = {m.name: sha(archive.extractfile(m).read()) for m in archive if m.isreg()}
    assert got == {"tree/a.txt": sums["tree/a.txt"], "tree/sub/b.bin": sums["tree/sub/b.bin"]}

    # A missing file says so.
    action(term, "download").click()
    poll(lambda: path.input_value(), 20, "the path box")
    path.fill("no-such-file")
    page.keyboard.press("Enter")
    poll(lambda: panel.get_attribute("data-state") == "error", UI_TIMEOUT, "the failure shown")
    assert "No such file" in panel.inner_text(), panel.inner_text()

    # From Python: Terminal.download(path) saves through the view.
    with page.expect_download(timeout=CELL_TIMEOUT * 1000) as saved:
        nb.run_and_wait(1)
    assert saved.value.suggested_filename == "a.txt"
    assert Path(saved.value.path()).read_bytes() == b"one"
    assert "Uploading" not in term.text() and "tar" not in term.text()
