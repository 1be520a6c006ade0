"""Terminal widget in a real ipykernel against the sandbox; the test plays the browser."""

from __future__ import annotations

import hashlib
import re
import time
import uuid

from .conftest import KUBECONFIG_MARK, class_setting, open_terminal
from .frontend import new_view_id

#: Seconds the busy cell sleeps while its terminal must answer over a subshell.
BUSY_SECONDS = 6

LOG_CAPTURE = """
import logging
warnings = []
class _Capture(logging.Handler):
    def emit(self, record):
        warnings.append(record.getMessage())
_capture = _Capture(logging.WARNING)
logging.getLogger("jupyter_k8stty").addHandler(_capture)
"""


def test_comm_opens_with_a_small_loader_and_synced_traits(fe):
    comm = open_terminal(fe, "t0", container='"sidecar"', rows="30", options='{"fontSize": 15}')
    state = comm.state
    assert state["_anywidget_id"] == "jupyter_k8stty.widget.terminal.Terminal"
    assert "export" in state["_esm"] and len(state["_esm"]) < 4_000  # the loader, not the bundle
    assert state["_css"] == "" and re.fullmatch(r"[0-9a-f]{16}", state["_bundle_hash"])
    assert state["_where"] == "default/demo"
    assert state["rows"] == 30 and state["options"] == {"fontSize": 15}
    assert state["title"] == "default/demo [sidecar]"
    assert state["exit_code"] is None and state["error"] == ""
    token = fe.eval("__import__('json').load(open(KUBECONFIG))['users'][0]['user']['token']")
    assert len(token) > 10 and token not in repr(state)
    assert KUBECONFIG_MARK not in repr(state)


def test_the_bundle_comes_as_two_binary_buffers(fe):
    comm = open_terminal(fe, "t0b")
    fe.send_custom(comm, {"type": "bundle"})
    answer = fe.wait_for(lambda: comm.custom("bundle"), what="the bundle")[0]
    js, css = answer.buffers
    assert b"export" in js and len(js) > 100_000 and b".xterm" in css
    assert answer.custom == {"type": "bundle", "hash": comm.state["_bundle_hash"]}
    assert hashlib.sha256(js + b"\0" + css).hexdigest()[:16] == comm.state["_bundle_hash"]


def test_a_bundle_request_is_answered_once_per_request_id(fe):
    comm = open_terminal(fe, "t0f")
    for request in ("r1", "r1", "r2"):  # the loader resends r1 while the kernel has not started on it
        fe.send_custom(comm, {"type": "bundle", "request": request})
    fe.wait_for(lambda: len(comm.custom("bundle")) >= 2, what="two answers")
    fe.execute("pass")  # every request above has been handled by now
    assert len(comm.custom("bundle")) == 2


def test_a_terminal_made_by_a_running_cell_answers_over_a_subshell(fe):
    """JupyterLab sends widget messages over a subshell: the busy main shell must not hold them."""
    code = f"busy = Terminal('demo', kubeconfig=KUBECONFIG); import time; time.sleep({BUSY_SECONDS})"
    request = fe.kc.session.msg("execute_request", {
        "code": code, "silent": False, "store_history": False, "user_expressions": {},
        "allow_stdin": False, "stop_on_error": True})
    known = set(fe.comms)
    fe.kc.shell_channel.send(request)
    started = time.monotonic()
    comm = fe.wait_for(lambda: next((c for i, c in fe.comms.items()
                                     if i not in known and c.state.get("_anywidget_id")), None),
                       what="the busy cell's terminal")
    fe.kc.control_channel.send(fe.kc.session.msg("create_subshell_request", {}))
    subshell = fe.kc.get_control_msg(timeout=10)["content"]["subshell_id"]
    message = fe.kc.session.msg("comm_msg", {"comm_id": comm.comm_id, "data": {
        "method": "custom", "content": {"type": "bundle", "request": "busy"}}})
    message["header"]["subshell_id"] = subshell
    fe.kc.session.send(fe.kc.shell_channel.socket, message)
    fe.wait_for(lambda: comm.custom("bundle"), what="the bundle while the cell runs")
    assert time.monotonic() - started < BUSY_SECONDS - 1, "the answer waited for the cell"
    fe.wait_for(lambda: fe.eval("busy.status") in ("connected", "closed"), timeout=BUSY_SECONDS + 20,
                what="the busy cell to end")
    fe.kc.control_channel.send(fe.kc.session.msg("delete_subshell_request", {"subshell_id": subshell}))
    fe.kc.get_control_msg(timeout=10)


def test_messages_over_a_subshell_the_kernel_does_not_have_still_reach_the_terminal(fe):
    """A page whose kernel was restarted elsewhere keeps sending the old kernel's subshell id.

    JupyterLab forgets its comm subshells only when its own connection restarts the
    kernel (see ``keep_frontend_routing`` in ``widget/comm_routing.py``): such messages
    go to the main shell instead of being rejected, the second one too, after output
    left with that id in its parent.
    """
    comm = open_terminal(fe, "t0s")
    stale = str(uuid.uuid4())

    def send(data: dict, buffers: list[bytes]) -> None:
        message = fe.kc.session.msg("comm_msg", {"comm_id": comm.comm_id, "data": data})
        message["header"]["subshell_id"] = stale
        fe.kc.session.send(fe.kc.shell_channel.socket, message, buffers=buffers)

    send({"method": "update", "state": {"rows": 21, "cols": 77}, "buffer_paths": []}, [])
    send({"method": "custom", "content": {"type": "input"}}, [b"echo stale-$((20+2)) $(stty size)\r"])
    fe.expect_output(comm, b"stale-22 21 77\r\n")
    send({"method": "custom", "content": {"type": "input"}}, [b"echo again-$((20+3))\r"])
    fe.expect_output(comm, b"again-23\r\n")


def test_a_failing_message_handler_shows_an_error_in_the_views(fe):
    comm = open_terminal(fe, "t0c")
    fe.send_custom(comm, {"type": "ack", "view": "v", "bytes": "many"})
    error = fe.wait_for(lambda: comm.custom("error"), what="an error message")[0]
    assert error.custom["message"].startswith("handling a 'ack' message failed: ValueError")
    # The terminal still works.
    fe.type(comm, "echo still-$((20+1))\r")
    fe.expect_output(comm, b"still-21\r\n")


def test_browser_errors_and_unknown_messages_are_logged(fe):
    comm = open_terminal(fe, "t0d")
    fe.execute(LOG_CAPTURE)
    fe.send_custom(comm, {"type": "error", "message": "rendering the terminal: TypeError: x is null"})
    fe.send_custom(comm, {"type": "mystery"})
    fe.wait_for(lambda: len(fe.eval("warnings")) >= 2, what="two warnings")
    warnings = fe.eval("warnings")
    assert any("the browser reported: rendering the terminal: TypeError: x is null" in w for w in warnings)
    assert any("ignoring a 'mystery' message" in w for w in warnings)
    assert not comm.custom("error")  # a browser error is not echoed back


def test_status_is_one_of_the_session_states(fe):
    open_terminal(fe, "t0e")
    fe.execute(
        "import traitlets\n"
        "try:\n    t0e.status = 'half-open'\nexcept traitlets.TraitError as e:\n    refused = str(e)\n"
    )
    assert "half-open" in fe.eval("refused")
    assert fe.eval("t0e.status") == "connected"


def test_output_arrives_as_binary_buffers_coalesced(fe):
    comm = open_terminal(fe, "t1")
    fe.execute("frames = []; t1.session.on_output(lambda channel, data: frames.append(len(data)))")
    before = len(comm.custom("output"))
    # 2000 small writes 1 ms apart: the sandbox sends them as hundreds of frames.
    fe.type(
        comm,
        "python3 -u -c \"import time\nfor i in range(2000):\n print('x%d' % i)\n"
        " t = time.perf_counter()\n while time.perf_counter() - t < 0.001: pass\"; "
        "echo END-OF-$((6*7))\r",
    )
    data = fe.expect_output(comm, b"END-OF-42")
    frames = fe.eval("len(frames)")
    messages = comm.custom("output")[before:]
    assert all(len(m.buffers) == 1 and isinstance(m.buffers[0], bytes) for m in messages)
    assert b"x0\r\nx1\r\n" in data and b"x1999\r\n" in data
    assert frames > 200, frames
    assert len(messages) < frames, (len(messages), frames)
    # Coalescing: after a message the next one waits ~4 ms (unless the first was full),
    # so there are never more than ~250 messages a second, however many frames arrive.
    # (The sandbox itself sends at most a frame every ~2.5 ms, which bounds the ratio.)
    gaps = [
        (b.date - a.date).total_seconds()
        for a, b in zip(messages, messages[1:], strict=False)
        if len(a.buffers[0]) < 256 * 1024
    ]
    assert min(gaps) >= 0.003, sorted(gaps)[:5]


def test_a_lone_keystroke_echo_is_sent_at_once(fe):
    comm = open_terminal(fe, "t1b")
    # The shell's first prompt must be in before the first key: arriving late, it would be
    # taken for that key's echo.
    fe.wait_for(lambda: comm.output().rstrip().endswith((b"#", b"$")), what="the first prompt")
    fe.execute(
        "import time\n"
        "arrivals = []\n"
        "t1b.session.on_output(lambda channel, data: arrivals.append(time.time()))"
    )
    delays = []
    for key in "abcde":
        fe.pump(0.05)  # idle: nothing sent for a while
        before = len(comm.custom("output"))
        seen = len(fe.eval("arrivals"))
        fe.type(comm, key)
        message = fe.wait_for(
            lambda before=before: comm.custom("output")[before:], what="the echo"
        )[0]
        assert message.buffers[0].endswith(key.encode()), message.buffers[0]
        arrived = fe.eval(f"arrivals[{seen}]")
        delays.append(message.date.timestamp() - arrived)
    assert sorted(delays)[2] < 0.0025, delays


def test_big_output_is_complete_and_in_order(fe):
    comm = open_terminal(fe, "t2")
    fe.type(comm, "seq 1 20000; echo SEQ-$((1+1))-DONE\r")
    data = fe.expect_output(comm, b"SEQ-2-DONE")
    numbers = b"\r\n".join(str(i).encode() for i in range(1, 20001))
    assert numbers in data


def test_input_message_reaches_the_shell(fe):
    comm = open_terminal(fe, "t3")
    fe.type(comm, "echo hel")
    fe.type(comm, "lo-$((40+2))\r")
    fe.expect_output(comm, b"hello-42\r\n")


def test_rows_and_cols_update_resizes_the_pod_tty(fe):
    comm = open_terminal(fe, "t4")
    fe.send_update(comm, {"rows": 40, "cols": 100})
    fe.type(comm, "stty size\r")
    fe.expect_output(comm, b"40 100\r\n")
    assert fe.eval("(t4.rows, t4.cols)") == (40, 100)
    fe.send_update(comm, {"rows": 33, "cols": 91})
    fe.type(comm, "stty size\r")
    fe.expect_output(comm, b"33 91\r\n")


def test_exit_code_reaches_traits_and_frontend(fe):
    comm = open_terminal(fe, "t5")
    fe.type(comm, "exit 3\r")
    fe.wait_for(lambda: comm.state.get("status") == "exited", what="status exited")
    assert comm.state["exit_code"] == 3
    assert fe.eval("(t5.status, t5.exit_code, t5.error, t5.wait(5))") == ("exited", 3, "", 3)


def test_ready_gets_a_replay_of_the_tail(fe):
    comm = open_terminal(fe, "t6")
    fe.type(comm, "echo REPLAY-$((2*21))\r")
    fe.expect_output(comm, b"REPLAY-42\r\n")
    # The next prompt in too: arriving after the replay, it would be in the replay only.
    fe.wait_for(lambda: comm.output().rstrip().endswith((b"#", b"$")), what="the next prompt")
    view = new_view_id()
    fe.send_custom(comm, {"type": "ready", "view": view})
    replays = fe.wait_for(lambda: comm.custom("replay"), what="a replay")
    assert replays[0].custom["view"] == view
    assert b"REPLAY-42\r\n" in replays[0].buffers[0]
    assert replays[0].buffers[0] == comm.output()[-len(replays[0].buffers[0]):]
    # The bounded tail, decoded, is also what t.output shows.
    assert "REPLAY-42" in fe.eval("t6.output")


def test_replay_is_bounded(fe):
    comm = open_terminal(fe, "t7")
    fe.type(comm, "head -c 600000 /dev/zero | tr '\\0' y; echo; echo BIG-$((3*3))\r")
    fe.expect_output(comm, b"BIG-9\r\n")
    # The prompt after it too: then the shell is quiet, and the replay ends where we are.
    fe.wait_for(lambda: re.search(rb"BIG-9\r\n.*[#$] $", comm.output()[-300:], re.S),
                what="the prompt after BIG-9")
    fe.send_custom(comm, {"type": "ready", "view": "v"})
    replay = fe.wait_for(lambda: comm.custom("replay"), what="a replay")[0].buffers[0]
    assert len(replay) <= 256 * 1024 and len(comm.output()) > 600_000
    assert comm.output().endswith(replay) and b"BIG-9" in replay


def test_flow_control_pauses_until_the_view_acknowledges(fe):
    with class_setting(fe, "flow_window", 64 * 1024):
        comm = open_terminal(fe, "t8")
    view = new_view_id()
    fe.send_custom(comm, {"type": "ready", "view": view})
    fe.wait_for(lambda: comm.custom("replay"), what="a replay")
    fe.wait_for(lambda: re.search(rb"[#$] $", comm.output()), what="the prompt")
    # A prompt that came after the view's ready is unacknowledged too.
    before = fe.eval("t8.session.flow.unacked")
    start = len(comm.output())
    fe.type(comm, "head -c 3000000 /dev/zero | tr '\\0' z; echo; echo FLOW-$((5+5))\r")
    # Without acks the session stops reading once the window is full.
    fe.wait_for(lambda: fe.eval("t8.session.flow.paused"), what="the reader to pause")
    unacknowledged = fe.eval("t8.session.flow.unacked")
    assert 64 * 1024 <= unacknowledged < 1_000_000, unacknowledged
    # Everything the session delivered reaches the view, and then nothing more.
    fe.wait_for(lambda: len(comm.output()) - start == unacknowledged - before, what="the window's bytes")
    stalled = len(comm.output()) - start
    fe.pump(0.3)
    assert len(comm.output()) - start == stalled  # nothing more while unacknowledged
    # Acknowledge like xterm's write callback does, until the command finishes.
    acked = 0

    def ack_and_check():
        nonlocal acked
        total = len(comm.output()) - start
        if total > acked:
            fe.send_custom(comm, {"type": "ack", "view": view, "bytes": total - acked})
            acked = total
        return b"FLOW-10" in comm.output()

    fe.wait_for(ack_and_check, timeout=60, what="the flood to finish with acks")
    assert comm.output().count(b"z") >= 3_000_000


def test_without_a_view_output_is_not_stalled(fe):
    with class_setting(fe, "flow_window", 64 * 1024):
        comm = open_terminal(fe, "t9")
    fe.type(comm, "head -c 1000000 /dev/zero | tr '\\0' n; echo; echo NOVIEW-$((4+4))\r")
    fe.expect_output(comm, b"NOVIEW-8")
    assert fe.eval("t9.session.flow.unacked") < 64 * 1024


def test_close_ends_threads_and_sockets(fe):
    open_terminal(fe, "t10")
    assert fe.eval("len(sandbox_sockets())") >= 1
    names = fe.eval("k8stty_threads()")
    assert any(n.startswith("k8stty-reader-") for n in names), names
    assert any(n.startswith("k8stty-flush-") for n in names), names
    fe.execute("t10.close()")
    assert fe.eval("k8stty_threads()") == []
    assert fe.eval("len(sandbox_sockets())") == 0
    assert fe.eval("t10.status") == "closed"


def test_frontend_comm_close_closes_the_session(fe):
    comm = open_terminal(fe, "t11")
    fe.close_comm(comm)
    fe.wait_for(lambda: fe.eval("t11.status") == "closed", what="the terminal to close")
    assert fe.eval("k8stty_threads()") == []
    assert fe.eval("len(sandbox_sockets())") == 0


def test_orphaned_view_closes_after_grace(fe):
    with class_setting(fe, "orphan_grace", 0.3):
        comm = open_terminal(fe, "t12")
    fe.send_custom(comm, {"type": "ready", "view": "a"})
    fe.send_custom(comm, {"type": "detach", "view": "a"})
    fe.wait_for(lambda: comm.closed, what="the widget to close")
    assert fe.eval("t12.status") == "closed"
    assert fe.eval("k8stty_threads()") == []


def test_rerunning_the_cell_closes_the_previous_terminal(fe):
    cell = {"cellId": "cell-rerun-test"}
    fe.execute("t13 = Terminal('demo', kubeconfig=KUBECONFIG)", metadata=cell)
    fe.execute("first = t13", metadata={"cellId": "other-cell"})
    fe.wait_for(lambda: fe.eval("first.status") == "connected", what="connected")
    fe.execute("t13 = Terminal('demo', kubeconfig=KUBECONFIG)", metadata=cell)
    assert fe.eval("first.status") == "closed"
    fe.wait_for(lambda: fe.eval("t13.status") == "connected", what="connected")


def test_reconnect_starts_a_fresh_session(fe):
    comm = open_terminal(fe, "t14")
    view = new_view_id()
    fe.send_custom(comm, {"type": "ready", "view": view})
    fe.type(comm, "exit 4\r")
    fe.wait_for(lambda: comm.state.get("status") == "exited", what="exited")
    assert comm.state["exit_code"] == 4
    replays = len(comm.custom("replay"))
    fe.send_custom(comm, {"type": "reconnect"})
    fe.wait_for(lambda: comm.state.get("status") == "connected", what="connected again")
    assert comm.state["exit_code"] is None
    reset = comm.custom("replay")[replays:]
    assert reset and reset[0].custom["view"] is None and reset[0].buffers == [b""]
    fe.type(comm, "echo AGAIN-$((1+2))\r")
    fe.expect_output(comm, b"AGAIN-3\r\n")


def test_missing_pod_is_an_error_without_traceback(fe):
    before = len(fe.streams)
    fe.execute("bad = Terminal('nope', kubeconfig=KUBECONFIG)")
    comm = fe.terminal_comm("bad")
    fe.wait_for(lambda: comm.state.get("status") == "error", what="status error")
    assert "not found" in comm.state["error"]
    assert "Traceback" not in comm.state["error"] and "\n" not in comm.state["error"]
    assert fe.eval("bad.status, bad.exit_code") == ("error", None)
    assert not any("Traceback" in text for text in fe.streams[before:])
    assert not [n for n in fe.eval("k8stty_threads()") if n.startswith(("k8stty-reader", "k8stty-connect"))]


def test_keystrokes_publish_no_busy_status_and_other_messages_keep_theirs(fe):
    # A busy status per key flipped the notebook's kernel indicator on every keystroke
    # and made the page redraw just before the echo; the idle status stays, since
    # frontends dispose of a comm message's bookkeeping when it arrives.
    comm = open_terminal(fe, "tq")
    sent = fe.send_custom(comm, {"type": "input"}, [b"echo keys-$((1+1))\n"])
    fe.expect_output(comm, b"keys-2")
    fe.wait_for(lambda: "idle" in fe.statuses.get(sent, []), what="the idle of the keystroke")
    assert fe.statuses[sent] == ["idle"], fe.statuses[sent]
    ready = fe.send_custom(comm, {"type": "ready", "view": new_view_id()})
    fe.wait_for(lambda: "idle" in fe.statuses.get(ready, []), what="the idle of ready")
    assert fe.statuses[ready] == ["busy", "idle"]  # the view resends it until the kernel starts on it

    fe.execute("import ipywidgets; slider = ipywidgets.IntSlider()")
    slider_id = fe.eval("slider.comm.comm_id")
    slider = fe.wait_for(lambda: fe.comms.get(slider_id), what="the slider's comm")
    update = fe.send_comm(slider, {"method": "update", "state": {"value": 3}, "buffer_paths": []})
    fe.wait_for(lambda: "idle" in fe.statuses.get(update, []), what="the idle of the slider's update")
    assert fe.statuses[update] == ["busy", "idle"]
    run = fe.kc.execute("1 + 1")
    fe.wait_for(lambda: "idle" in fe.statuses.get(run, []), what="the idle of a cell")
    assert fe.statuses[run] == ["busy", "idle"]

    fe.execute("from jupyter_k8stty.widget.quiet_status import quiet_comm_ids")
    assert fe.eval(f"{comm.comm_id!r} in quiet_comm_ids()")
    fe.execute("tq.close()")
    assert not fe.eval(f"{comm.comm_id!r} in quiet_comm_ids()")
