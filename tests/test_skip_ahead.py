"""The bridge skipping ahead after an interrupt key (no kernel: a list plays the comm)."""

from __future__ import annotations

import threading
import time

import pytest

from jupyter_k8stty.widget.bridge import Bridge

TIMEOUT = 5.0


class Comm:
    """Collects what the bridge sends, and the acknowledgements it gives the session."""

    def __init__(self) -> None:
        self.messages: list[tuple[dict, list[bytes]]] = []
        self.acked = 0
        self.lock = threading.Lock()

    def send(self, content: dict, buffers: list) -> None:
        with self.lock:
            self.messages.append((content, [bytes(b) for b in buffers]))

    def acknowledge(self, nbytes: int) -> None:
        with self.lock:
            self.acked += nbytes

    def of(self, kind: str) -> list[tuple[dict, list[bytes]]]:
        with self.lock:
            return [m for m in self.messages if m[0]["type"] == kind]

    def output(self) -> bytes:
        return b"".join(b for _, buffers in self.of("output") for b in buffers)


def wait_for(predicate, what: str):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.005)
    raise AssertionError(f"{what}: not within {TIMEOUT} s")


@pytest.fixture
def comm():
    return Comm()


@pytest.fixture
def bridge(comm):
    bridge = Bridge(comm.send, comm.acknowledge, name="test")
    bridge.skip_quiet = 0.3  # a busy test machine must not look calm
    bridge.ready("view")
    yield bridge
    bridge.close()


def flood(bridge: Bridge, nbytes: int, line: bytes = b"y\n") -> int:
    """Feed about ``nbytes`` of ``line`` in 4 kB chunks; return the bytes fed."""
    chunk = line * (4096 // len(line))
    count = nbytes // len(chunk)
    for _ in range(count):
        bridge.feed(chunk)
    bridge.flush()
    return count * len(chunk)


def test_an_interrupt_far_behind_skips_ahead_and_replays_the_end(bridge, comm):
    flood(bridge, 300_000)
    assert bridge.interrupt("Ctrl-C")
    assert comm.of("skip") and bridge.skipping
    sent_before = len(comm.output())
    acked_before = comm.acked
    # The pod keeps flooding for a while: nothing goes to the view, all is acknowledged.
    flooded = flood(bridge, 2_000_000)
    bridge.feed(b"^C\r\n$ ")
    assert len(comm.output()) == sent_before
    assert comm.acked - acked_before >= flooded
    content, [payload] = wait_for(lambda: comm.of("skipped"), "the end of the skip")[0]
    assert not bridge.skipping
    assert content["bytes"] >= flooded
    assert b"MB of output skipped after Ctrl-C" in payload
    assert payload.endswith(b"y\ny\n^C\r\n$ ") and len(payload) < 70_000
    # Then output flows as before.
    bridge.feed(b"echo ok\r\nok\r\n")
    wait_for(lambda: comm.output().endswith(b"ok\r\n"), "output after the skip")


def test_no_skip_when_the_view_keeps_up(bridge, comm):
    flood(bridge, 200_000)
    bridge.ack("view", len(comm.output()) - 1000)
    assert not bridge.interrupt("Ctrl-C")
    assert not comm.of("skip")


def test_no_skip_without_a_view(comm):
    bridge = Bridge(comm.send, comm.acknowledge, name="test")
    try:
        flood(bridge, 300_000)
        assert not bridge.interrupt("Ctrl-C")
    finally:
        bridge.close()


def test_a_skip_in_a_full_screen_program_restores_its_modes(bridge, comm):
    bridge.feed(b"\x1b[?1049h\x1b[?1h\x1b[?25l\x1b[H\x1b[2J")
    flood(bridge, 300_000, line=b"\x1b[24;1Hdata line\x1b[K\n")
    assert bridge.interrupt("Ctrl-C")
    flood(bridge, 500_000, line=b"\x1b[24;1Hdata line\x1b[K\n")
    _, [payload] = wait_for(lambda: comm.of("skipped"), "the end of the skip")[0]
    restore = payload[payload.index(b"\x1b[!p"):]
    assert b"\x1b[?1049h" in restore and b"\x1b[?1h" in restore and b"\x1b[?25l" in restore


def test_a_view_that_joins_during_a_skip_gets_a_replay_at_its_end(bridge, comm):
    flood(bridge, 300_000)
    assert bridge.interrupt("Ctrl-C")
    bridge.ready("late")
    assert not [m for m in comm.of("replay") if m[0]["view"] == "late"]
    bridge.feed(b"$ ")
    wait_for(lambda: [m for m in comm.of("replay") if m[0]["view"] == "late"], "the late view's replay")
    late = [m for m in comm.of("replay") if m[0]["view"] == "late"][0]
    assert late[1][-1].endswith(b"y\n$ ")


def test_a_new_session_ends_a_skip(bridge, comm):
    flood(bridge, 300_000)
    assert bridge.interrupt("Ctrl-C")
    bridge.reset(comm.acknowledge)
    assert not bridge.skipping
    bridge.feed(b"new session$ ")
    wait_for(lambda: comm.output().endswith(b"new session$ "), "output of the new session")


def test_a_replay_restores_the_modes_set_before_the_tail(comm):
    bridge = Bridge(comm.send, comm.acknowledge, name="test", tail_size=10_000)
    try:
        bridge.feed(b"\x1b[?1049h\x1b[?2004h")
        for i in range(2000):
            bridge.feed(b"row %d\r\n" % i)
        bridge.flush()
        bridge.ready("view")
        content, buffers = comm.of("replay")[-1]
        assert content["view"] == "view" and len(buffers) == 2
        assert buffers[0] == b"\x1b[?1049h\x1b[?2004h"
        assert buffers[1].endswith(b"row 1999\r\n") and len(buffers[1]) <= 10_000
    finally:
        bridge.close()
