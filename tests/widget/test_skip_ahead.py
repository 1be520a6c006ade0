"""Ctrl-C during a flood skips ahead, in a real kernel against the sandbox.

The test plays a view that has fallen behind (it acknowledges nothing while ``yes``
floods), as a browser drawing a few MB/s does.
"""

from __future__ import annotations

from .conftest import open_terminal
from .frontend import Frontend, new_view_id


def behind_a_flood(fe: Frontend, variable: str, setup: str = "") -> tuple[object, str]:
    """A terminal whose one view acknowledges nothing while ``yes`` fills the window."""
    comm = open_terminal(fe, variable)
    view = new_view_id()
    fe.send_custom(comm, {"type": "ready", "view": view})
    fe.wait_for(lambda: comm.custom("replay"), what="a replay")
    # The quotes keep the typed command's echo from matching the prompt itself.
    fe.type(comm, "PS1='READY''> '\r")
    fe.expect_output(comm, b"READY> ")
    fe.type(comm, f"{setup}yes\r")
    fe.wait_for(lambda: fe.eval(f"{variable}.session.flow.paused"), what="the reader to pause")
    return comm, view


def ack_all(fe: Frontend, comm, view: str, done: list[int]) -> bytes:
    total = len(comm.output())
    if total > done[0]:
        fe.send_custom(comm, {"type": "ack", "view": view, "bytes": total - done[0]})
        done[0] = total
    return comm.output()


def test_ctrl_c_in_a_flood_skips_to_the_prompt(fe):
    comm, view = behind_a_flood(fe, "flood")
    fe.type(comm, "\x03")
    fe.wait_for(lambda: comm.custom("skip"), what="the skip message")
    skipped = fe.wait_for(lambda: comm.custom("skipped"), timeout=10, what="the end of the skip")[0]
    payload = skipped.buffers[0]
    assert b"of output skipped after Ctrl-C" in payload
    assert payload.rstrip().endswith(b"READY>"), payload[-200:]
    assert len(payload) < 70_000 and skipped.custom["bytes"] > 64 * 1024
    kinds = [m.custom.get("type") for m in comm.messages if m.custom]
    between = kinds[kinds.index("skip"):kinds.index("skipped")]
    assert "output" not in between, between  # nothing else was sent meanwhile
    assert not fe.eval("flood.session.flow.paused")
    # The view drops what it held (and says so by acknowledging it); output flows again.
    sent = len(comm.output())
    done = [sent]
    fe.send_custom(comm, {"type": "ack", "view": view, "bytes": sent})
    fe.type(comm, "echo alive-$((6*7))\r")
    fe.wait_for(lambda: b"alive-42" in ack_all(fe, comm, view, done), what="the shell to answer")


def test_with_skip_ahead_off_every_byte_is_sent(fe):
    comm, view = behind_a_flood(fe, "drawn")
    fe.execute("drawn.skip_ahead = False")
    sent = len(comm.output())
    fe.type(comm, "\x03")
    done = [0]
    fe.wait_for(lambda: b"READY> " in ack_all(fe, comm, view, done)[sent:], timeout=30,
                what="the prompt after Ctrl-C")
    assert not comm.custom("skip") and not comm.custom("skipped")
    assert len(comm.output()) - sent > 64 * 1024  # the backlog was sent, not skipped


def test_a_skip_restores_the_modes_the_flood_was_in(fe):
    # A full-screen program's modes (alternate screen, application cursor keys, hidden
    # cursor) set long before the tail the view gets: the replay sets them again.
    comm, _view = behind_a_flood(fe, "fullscreen", setup=r"printf '\033[?1049h\033[?1h\033[?25l'; ")
    fe.type(comm, "\x03")
    skipped = fe.wait_for(lambda: comm.custom("skipped"), timeout=10, what="the end of the skip")[0]
    payload = skipped.buffers[0]
    restore = payload[payload.index(b"\x1b[!p"):]
    for mode in (b"\x1b[?1049h", b"\x1b[?1h", b"\x1b[?25l"):
        assert mode in restore[:200], (mode, restore[:200])


def test_a_view_that_joins_late_gets_the_modes_set_before_its_replay(fe):
    # A full-screen program's modes, then more output than the replayed tail holds.
    comm = open_terminal(fe, "late")
    first = new_view_id()
    fe.send_custom(comm, {"type": "ready", "view": first})
    fe.wait_for(lambda: comm.custom("replay"), what="a replay")
    fe.type(comm, r"printf '\033[?1049h\033[?1h\033[?2004h'; seq 1 100000; echo done-$((40+2))" + "\r")
    done = [0]
    fe.wait_for(lambda: b"done-42" in ack_all(fe, comm, first, done), timeout=60, what="the output")
    second = new_view_id()
    fe.send_custom(comm, {"type": "ready", "view": second})
    replay = fe.wait_for(lambda: [m for m in comm.custom("replay") if m.custom["view"] == second],
                         what="the second view's replay")[0]
    restore, tail = replay.buffers
    assert restore == b"\x1b[?1049h\x1b[?1;2004h", restore
    assert b"\x1b[?1049h" not in tail and b"done-42" in tail[-100:]
