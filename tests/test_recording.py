"""Asciicast v2 recordings and snapshots, without a kernel (issue 15 items 3, 4)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from jupyter_k8stty.errors import ArgumentError
from jupyter_k8stty.widget.recording import AsciicastWriter, RecordingTap, read_asciicast
from jupyter_k8stty.widget.snapshot import Snapshot, SnapshotRequests, sanitize_html, snapshot_from

from .helpers import wait_until

#: asciinema 2.x (pip install asciinema), on PATH or beside this Python.
ASCIINEMA = shutil.which("asciinema") or next(
    (str(p) for p in [Path(sys.executable).with_name("asciinema")] if p.exists()), None)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def lines(path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_file_is_asciicast_v2_with_output_and_resize_events(tmp_path):
    clock = Clock()
    path = tmp_path / "s.cast"
    writer = AsciicastWriter(path, width=100, height=30, title="default/demo", clock=clock)
    clock.now += 0.5
    writer.output(b"hello \xe2\x82")  # a euro sign cut between two chunks
    clock.now += 0.25
    writer.output(b"\xac\r\n")
    writer.resize(120, 40)
    writer.input(b"secret\r")  # not recorded: input was not asked for
    writer.close()
    header, *events = lines(path)
    assert header["version"] == 2 and header["width"] == 100 and header["height"] == 30
    assert header["title"] == "default/demo" and isinstance(header["timestamp"], int)
    assert header["env"]["TERM"]
    assert events == [[0.5, "o", "hello "], [0.75, "o", "\u20ac\r\n"], [0.75, "r", "120x40"]]
    assert "secret" not in path.read_text()


def test_input_is_recorded_only_when_asked(tmp_path):
    path = tmp_path / "i.cast"
    writer = AsciicastWriter(path, width=80, height=24, record_input=True, clock=Clock())
    writer.input(b"ls\r")
    writer.close()
    assert lines(path)[1] == [0.0, "i", "ls\r"]


def test_the_tap_passes_output_on_and_records_it_while_a_writer_is_set(tmp_path):
    class Sink:
        def __init__(self):
            self.fed, self.resets = [], 0

        def feed(self, data):
            self.fed.append(data)

        def reset(self, ack):
            self.resets += 1

        def flush(self):
            pass

    sink = Sink()
    tap = RecordingTap(sink)
    tap.feed(b"before")
    tap.writer = AsciicastWriter(tmp_path / "t.cast", width=80, height=24)
    tap.feed(b"during")
    tap.reset(None)  # a reconnect: the recording goes on
    tap.feed(b"after")
    tap.writer.close()
    tap.writer = None
    tap.feed(b"later")
    assert sink.fed == [b"before", b"during", b"after", b"later"] and sink.resets == 1
    _, events = read_asciicast(tmp_path / "t.cast")
    assert [e[2] for e in events] == ["during", "after"]


def test_unreadable_and_foreign_files_are_refused(tmp_path):
    with pytest.raises(ArgumentError, match="cannot record"):
        AsciicastWriter(tmp_path / "missing" / "x.cast", width=80, height=24)
    v1 = tmp_path / "v1.cast"
    v1.write_text(json.dumps({"version": 1, "stdout": []}))
    with pytest.raises(ArgumentError, match="not an asciicast v2"):
        read_asciicast(v1)
    cut = tmp_path / "cut.cast"
    cut.write_text('{"version": 2, "width": 80, "height": 24}\n[0.1, "o", "a"]\n[0.2, "o", "b')
    assert read_asciicast(cut)[1] == [[0.1, "o", "a"]]


@pytest.mark.skipif(ASCIINEMA is None, reason="asciinema is not installed")
def test_asciinema_reads_the_recording(tmp_path):
    path = tmp_path / "play.cast"
    writer = AsciicastWriter(path, width=80, height=24, clock=Clock())
    writer.output("\x1b[31mred\x1b[0m caf\u00e9\r\n".encode())
    writer.resize(90, 20)
    writer.close()
    done = subprocess.run([ASCIINEMA, "cat", str(path)], capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "\x1b[31mred\x1b[0m caf\u00e9" in done.stdout.decode()


def test_snapshot_html_keeps_colours_and_drops_everything_else():
    dirty = ("<html><body><!--StartFragment--><pre><div style='color: #ffffff; background-color: #000000;"
             " font-family: monospace; background-image: url(http://x/)'><div><span style='color: #cd3131;"
             " font-weight: bold;'>red &lt;b&gt;</span><script>alert(1)</script>"
             "<img src=x onerror=alert(1)><a href='javascript:x'>link</a></div></div></pre>"
             "<!--EndFragment--></body></html>")
    clean = sanitize_html(dirty)
    assert "<script" not in clean and "<img" not in clean and "<a " not in clean and "url(" not in clean
    assert "onerror" not in clean and "<html" not in clean
    assert '<span style="color: #cd3131; font-weight: bold">red &lt;b&gt;</span>' in clean
    assert "alert(1)" in clean  # the script's text stays, as harmless text
    assert clean.count("<div") == clean.count("</div>")


def test_snapshots_answer_the_request_they_were_taken_for():
    sent: list[dict] = []
    requests = SnapshotRequests(lambda content, buffers: sent.append(content))
    with pytest.raises(TimeoutError, match="no view"):
        requests.request("t", scrollback=0, timeout=0.05)
    result: dict = {}
    thread = threading.Thread(
        target=lambda: result.update(s=requests.request("demo", scrollback=2, timeout=5)))
    thread.start()
    assert wait_until(lambda: len(sent) >= 2)
    request = sent[-1]["request"]
    assert sent[-1]["scrollback"] == 2
    answer = {"type": "snapshot", "request": request, "html": "<pre>$ ls</pre>", "text": "$ ls\n\n",
              "cols": 80, "rows": 24}
    assert requests.answer(answer, "demo") is None
    assert requests.answer(answer, "demo") is None  # a second view's late answer
    thread.join(5)
    snapshot = result["s"]
    assert isinstance(snapshot, Snapshot) and snapshot.text == "$ ls" and snapshot.cols == 80
    bundle = snapshot._repr_mimebundle_()
    assert "<pre>$ ls</pre>" in bundle["text/html"] and bundle["text/plain"] == "$ ls"
    header_action = {"type": "snapshot", "request": None, "html": "<pre>x</pre>", "text": "x"}
    unasked = requests.answer(header_action, "demo")
    assert unasked is not None and unasked.title == "demo"
    with pytest.raises(ValueError):
        snapshot_from({"html": ""}, "t")
