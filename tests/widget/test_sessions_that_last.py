"""Issue 15 in a real kernel (the test plays the browser): reconnect, persistence, recording,
playback and snapshots.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Iterator

import pytest

from jupyter_k8stty import sessions
from jupyter_k8stty.sandbox import Sandbox

from .frontend import Frontend, new_view_id, open_view

TIMEOUT = 20.0
FAST_BACKOFF = "Backoff(first=0.2, longest=1.0, give_up_after=30.0, jitter=0.0)"


@pytest.fixture(scope="module")
def own(fe: Frontend) -> Iterator[Sandbox]:
    """A sandbox of this module's own (faults and restarts reach no other test)."""
    sb = Sandbox().start()
    fe.execute(f"OWN = {sb.kubeconfig_path!r}\nfrom jupyter_k8stty.widget.reconnect import Backoff\n"
               f"Terminal.backoff = {FAST_BACKOFF}")
    try:
        yield sb
    finally:
        fe.execute("Terminal.backoff = Backoff()")
        sb.stop()


def test_the_terminal_reconnects_by_itself_and_says_which_attempt(fe, own):
    own.inject("drop", after=0.5)
    comm = open_view(fe, "t1", 'Terminal("demo", kubeconfig=OWN)')
    fe.wait_for(lambda: any(u.get("reconnect_attempt") == 1 for u in comm.state_updates()), TIMEOUT,
                what="reconnect attempt 1")
    fe.wait_for(lambda: comm.state.get("status") == "connected"
                and fe.eval("t1.session.status") == "connected"
                and fe.eval("t1._connection.generation") >= 2, TIMEOUT, what="reconnected")
    assert comm.state["reconnect_attempt"] == 0
    fe.type(comm, "echo back-$((6*7))\r")
    fe.expect_output(comm, b"back-42")


def test_the_manual_reconnect_stays(fe, own):
    comm = open_view(fe, "t2", 'Terminal("demo", kubeconfig=OWN)')
    before = fe.eval("t2._connection.generation")
    fe.send_custom(comm, {"type": "reconnect"})
    fe.wait_for(lambda: fe.eval("t2._connection.generation") > before and comm.state["status"] == "connected",
                TIMEOUT, what="manual reconnect")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_a_persistent_shell_survives_a_kernel_restart(fe, own):
    name = f"k{uuid.uuid4().hex[:8]}"
    code = f'Terminal("demo", kubeconfig=OWN, persist="{name}")'
    comm = open_view(fe, "p1", code)
    fe.type(comm, "export WHO=first-kernel; echo pid=$$\r")
    answer = re.compile(rb"pid=(\d+)\D")  # the shell's answer, not the echo of "echo pid=$$"
    fe.wait_for(lambda: answer.search(comm.output()), TIMEOUT, what="the shell's pid")
    pid = answer.search(comm.output())[1]  # type: ignore[index]
    other = Frontend()  # a new kernel: the first one goes away
    try:
        fe.execute("p1.close()")
        other.execute(f"from jupyter_k8stty import Terminal\nOWN = {own.kubeconfig_path!r}")
        again = open_view(other, "p2", code)
        other.type(again, "echo $WHO pid=$$\r")
        same = re.compile(rb"first-kernel pid=(\d+)\D")
        other.wait_for(lambda: same.search(again.output()), TIMEOUT, what="the first kernel's shell")
        seen = again.output()
        assert same.search(seen)[1] == pid, seen[-300:]  # type: ignore[index]
        assert other.eval("p2.persist").endswith(f"-{name}")
    finally:
        other.shutdown()
        for found in sessions("demo", kubeconfig=own.kubeconfig_path):
            if found.label == name:
                found.end()


def test_a_recording_plays_back_in_the_player(fe, own, tmp_path):
    path = tmp_path / "session.cast"
    comm = open_view(fe, "r1", f'Terminal("demo", kubeconfig=OWN, record={str(path)!r})')
    fe.type(comm, "echo recorded-$((6*7))\r")
    fe.expect_output(comm, b"recorded-42")
    fe.send_update(comm, {"rows": 30, "cols": 100})
    fe.wait_for(lambda: fe.eval("r1.rows") == 30, TIMEOUT, what="resize")
    assert fe.eval("r1.recording") == str(path)
    assert fe.eval("r1.stop_recording()") == str(path)
    header, *events = [json.loads(line) for line in path.read_text().splitlines()]
    assert header["version"] == 2 and header["width"] == 80 and header["height"] == 24
    output = "".join(e[2] for e in events if e[1] == "o")
    assert "recorded-42" in output
    assert [100, 30] in [[int(x) for x in e[2].split("x")] for e in events if e[1] == "r"]
    assert not [e for e in events if e[1] == "i"], "input recorded without being asked"

    fe.execute(f"from jupyter_k8stty import Player\nplayer = Player({str(path)!r}, speed=2)")
    player = fe.terminal_comm("player")
    assert player.state["_view"] == "player" and player.state["cols"] == 80
    assert player.state["title"] and player.state["duration"] > 0
    view = new_view_id()
    fe.send_custom(player, {"type": "ready", "view": view})
    fe.wait_for(lambda: player.custom("cast"), TIMEOUT, what="the recording sent to the view")
    (cast,) = player.custom("cast")
    assert cast.custom["view"] == view and cast.buffers[0] == path.read_bytes()
    assert "recording session.cast" in player.state["_where"]


def test_recording_input_only_when_asked(fe, own, tmp_path):
    path = tmp_path / "input.cast"
    comm = open_view(fe, "r2", 'Terminal("demo", kubeconfig=OWN)')
    fe.execute(f"r2.record({str(path)!r}, input=True)")
    fe.type(comm, "echo typed\r")
    fe.expect_output(comm, b"typed")
    fe.execute("r2.close()")  # closing stops the recording
    events = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    assert "echo typed\r" in "".join(e[2] for e in events if e[1] == "i")


def test_snapshots_on_request_and_from_the_header(fe, own):
    comm = open_view(fe, "s1", 'Terminal("demo", kubeconfig=OWN)')
    # t.snapshot() waits for a view; this kernel has no subshells, so it runs on a thread.
    fe.execute("import threading\nshot = {}\n"
               "threading.Thread(target=lambda: shot.update(s=s1.snapshot(timeout=10))).start()")
    fe.wait_for(lambda: comm.custom("snapshot"), TIMEOUT, what="a snapshot request")
    request = comm.custom("snapshot")[-1].custom["request"]
    html = "<pre><div style='color: #ffffff'><span style='color: #cd3131;'>red</span> $</div></pre>"
    fe.send_custom(comm, {"type": "snapshot", "request": request, "html": html, "text": "red $\n",
                          "cols": 80, "rows": 24})
    fe.wait_for(lambda: fe.eval("'s' in shot"), TIMEOUT, what="the snapshot")
    assert fe.eval("shot['s'].text") == "red $"
    assert '<span style="color: #cd3131">red</span>' in fe.eval("shot['s']._repr_mimebundle_()['text/html']")

    # The header action: the snapshot joins the terminal's own output (update_display_data).
    updates: list[dict] = []
    dispatch = fe._dispatch

    def spy(msg: dict) -> None:
        if msg["header"]["msg_type"] == "update_display_data":
            updates.append(msg["content"])
        dispatch(msg)

    fe._dispatch = spy  # type: ignore[method-assign]
    try:
        fe.execute("display(s1)")
        fe.send_custom(comm, {"type": "snapshot", "request": None, "html": html, "text": "red $"})
        fe.wait_for(lambda: updates, TIMEOUT, what="the terminal's output updated")
    finally:
        fe._dispatch = dispatch  # type: ignore[method-assign]
    data = updates[-1]["data"]
    assert "application/vnd.jupyter.widget-view+json" in data
    assert "#cd3131" in data["text/html"] and data["text/plain"] == "red $"
    assert updates[-1]["transient"]["display_id"] == fe.eval("s1._display_id")
