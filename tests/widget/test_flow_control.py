"""Backpressure in a real kernel: bounded memory, Ctrl-C and big pastes during a flood.

The test plays a browser view that acknowledges (or withholds acknowledgements for)
the bytes it received, as xterm.js's write callbacks do.
"""

from __future__ import annotations

import hashlib
import time

from .conftest import class_setting, open_terminal
from .frontend import Frontend, new_view_id

WINDOW = 64 * 1024
#: Bytes that may still arrive after Ctrl-C: the window plus what sits in the PTY,
#: the sandbox and both TCP socket buffers on loopback (several MB at most).
IN_FLIGHT_BOUND = 16 * 1024 * 1024


def _view(fe: Frontend, comm) -> tuple[str, int]:
    """Attach a view; return its id and the output position it joined at."""
    view = new_view_id()
    fe.send_custom(comm, {"type": "ready", "view": view})
    fe.wait_for(lambda: comm.custom("replay"), what="a replay")
    return view, len(comm.output())


class Acker:
    """Acknowledges everything the view received, like an xterm.js that keeps up."""

    def __init__(self, fe: Frontend, comm, view: tuple[str, int]):
        self.fe, self.comm = fe, comm
        self.view, self.acked = view

    def __call__(self) -> int:
        total = len(self.comm.output())
        if total > self.acked:
            self.fe.send_custom(self.comm, {"type": "ack", "view": self.view, "bytes": total - self.acked})
            self.acked = total
        return total


def test_memory_stays_bounded_while_a_pod_floods_an_unacknowledging_view(fe):
    with class_setting(fe, "flow_window", WINDOW):
        comm = open_terminal(fe, "flood")
    _view(fe, comm)
    rss_before = fe.eval("psutil.Process().memory_info().rss")
    fe.type(comm, "yes flooding-the-terminal\r")
    fe.wait_for(lambda: fe.eval("flood.session.flow.paused"), what="the reader to pause")
    # Give the pod time to write far more than any buffer holds if nothing held it back.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        fe.pump(0.1)
    assert fe.eval("flood.session.flow.paused")
    assert fe.eval("flood.session.flow.unacked") < WINDOW + 256 * 1024
    grown = fe.eval("psutil.Process().memory_info().rss") - rss_before
    assert grown < 30 * 1024 * 1024, f"kernel RSS grew by {grown / 1e6:.1f} MB"
    assert len(comm.output()) < WINDOW + 512 * 1024


def test_ctrl_c_reaches_the_pod_while_output_is_backed_up(fe):
    with class_setting(fe, "flow_window", WINDOW):
        comm = open_terminal(fe, "busy")
    fe.execute("busy.skip_ahead = False")  # every byte drawn (skipping: test_skip_ahead.py)
    view = _view(fe, comm)
    # The quotes keep the typed command's echo from matching the prompt itself.
    fe.type(comm, "PS1='READY''> '\r")
    fe.expect_output(comm, b"READY> ")
    fe.type(comm, "yes\r")
    fe.wait_for(lambda: fe.eval("busy.session.flow.paused"), what="the reader to pause")
    before = len(comm.output())
    fe.type(comm, "\x03")  # Ctrl-C, while nothing is being acknowledged
    # Only now does the view catch up; the prompt must come back after a bounded amount.
    ack = Acker(fe, comm, view)
    fe.wait_for(lambda: ack() and b"READY> " in comm.output()[before:], timeout=30,
                what="the prompt after Ctrl-C")
    after = len(comm.output()) - before
    assert after < IN_FLIGHT_BOUND, f"{after / 1e6:.1f} MB arrived after Ctrl-C: yes kept running"
    fe.type(comm, "echo alive-$((6*7))\r")
    fe.wait_for(lambda: ack() and b"alive-42" in comm.output(), what="the shell to answer")


def test_a_big_paste_arrives_intact_while_its_echo_floods_back(fe):
    # In a TTY every pasted byte is echoed: the pod cannot read more input until its
    # echo is read, and the echo is only read once the view acknowledges. Acks must
    # therefore never wait behind the paste, or the terminal deadlocks.
    with class_setting(fe, "flow_window", WINDOW):
        comm = open_terminal(fe, "paste")
    view = _view(fe, comm)
    ack = Acker(fe, comm, view)
    size = 1024 * 1024
    payload = (b"0123456789abcdef" * (size // 16))[:size]
    fe.type(comm, f"stty raw; head -c {size} | md5sum; stty sane\r")
    fe.wait_for(lambda: ack() and b"stty raw;" in comm.output(), what="the command echo")
    fe.send_custom(comm, {"type": "input"}, [payload])
    digest = hashlib.md5(payload).hexdigest().encode()
    fe.wait_for(lambda: ack() and digest in comm.output(), timeout=60, what="the md5 of the paste")


def test_terminal_sockets_keep_a_small_receive_buffer(fe):
    # Output sitting in TCP buffers must all be drawn before the prompt that follows a
    # Ctrl-C; a terminal's socket does not let autotuning grow its buffer to megabytes.
    open_terminal(fe, "rcv")
    rcvbuf = fe.eval("rcv.session._ws.sock.getsockopt(__import__('socket').SOL_SOCKET, "
                     "__import__('socket').SO_RCVBUF)")
    assert rcvbuf <= 2 * fe.eval("rcv.receive_buffer")  # Linux doubles what was asked
