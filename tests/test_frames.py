"""The exec reader's websocket frame parser (:mod:`jupyter_k8stty.exec.frames`), over real sockets."""

from __future__ import annotations

import socket
import struct
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_k8stty.exec.frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    ConnectionLost,
    FrameError,
    FrameSource,
)
from jupyter_k8stty.sandbox.websocket import frame_header


def frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    return frame_header(opcode, len(payload), fin) + payload


def read_all(source: FrameSource) -> list[tuple[bool, int, bytes, list[int]]]:
    """Every frame until the peer closes: ``(fin, opcode, payload, piece sizes)``."""
    frames = []
    while True:
        try:
            fin, opcode, length = source.header()
        except ConnectionLost:
            return frames
        if opcode in (OP_CLOSE, OP_PING, OP_PONG):
            frames.append((fin, opcode, source.control_payload(length), [length]))
            continue
        pieces = [bytes(piece) for piece in source.payload(length)]
        frames.append((fin, opcode, b"".join(pieces), [len(p) for p in pieces]))


def serve(data: bytes, *, chunk: int | None = None, buffer_size: int = 1024) -> FrameSource:
    """A source reading ``data`` from a real socket, written ``chunk`` bytes at a time."""
    ours, theirs = socket.socketpair()

    def write() -> None:
        with theirs:
            step = chunk or len(data) or 1
            for start in range(0, len(data), step):
                theirs.sendall(data[start:start + step])

    threading.Thread(target=write, daemon=True).start()
    return FrameSource(ours, buffer_size=buffer_size)


def test_frames_of_every_length_encoding_arrive_whole_and_in_order():
    payloads = [b"", b"\x01", b"\x01" + b"a" * 124, b"\x02" + b"b" * 200, b"\x01" + bytes(range(256)) * 3]
    wire = b"".join(frame(OP_BINARY, p) for p in payloads)
    got = read_all(serve(wire, chunk=7))
    assert [(fin, op, data) for fin, op, data, _ in got] == [(True, OP_BINARY, p) for p in payloads]


def test_a_frame_bigger_than_the_buffer_comes_in_bounded_pieces():
    big = b"\x01" + bytes(range(256)) * 20  # 5121 bytes through a 1 KiB buffer
    got = read_all(serve(frame(OP_BINARY, big) + frame(OP_BINARY, b"\x01end"), chunk=300))
    assert got[0][2] == big and max(got[0][3]) <= 1024 and len(got[0][3]) == 6
    assert got[1][2] == b"\x01end"


def test_a_sixty_four_bit_length_is_read():
    payload = b"\x01" + b"z" * 70_000
    got = read_all(serve(frame(OP_BINARY, payload), buffer_size=256 * 1024))
    assert got == [(True, OP_BINARY, payload, [len(payload)])]
    assert frame_header(OP_BINARY, len(payload))[1] == 127


def test_fragmented_messages_and_control_frames_between_their_fragments():
    wire = (frame(OP_BINARY, b"\x01hel", fin=False) + frame(OP_PING, b"are you there", fin=True)
            + frame(OP_CONTINUATION, b"lo", fin=True) + frame(OP_TEXT, b"\x01text")
            + frame(OP_CLOSE, struct.pack("!H", 1000)))
    got = [(fin, op, data) for fin, op, data, _ in read_all(serve(wire, chunk=1))]
    assert got == [(False, OP_BINARY, b"\x01hel"), (True, OP_PING, b"are you there"),
                   (True, OP_CONTINUATION, b"lo"), (True, OP_TEXT, b"\x01text"),
                   (True, OP_CLOSE, b"\x03\xe8")]


@pytest.mark.parametrize("wire, complaint", [
    (bytes((0x82, 0x85)) + b"mask" + b"\x01abcd", "masked frame"),
    (bytes((0xC2, 0x01)) + b"\x01", "reserved bits"),
    (bytes((0x83, 0x01)) + b"\x01", "unknown opcode 0x3"),
    (frame(OP_CONTINUATION, b"\x01x"), "continuation frame with no message"),
    (frame(OP_BINARY, b"\x01a", fin=False) + frame(OP_BINARY, b"\x01b"), "before the previous one"),
    (frame(OP_PING, b"p", fin=False), "fragmented or over 125 bytes"),
    (frame_header(OP_PING, 126) + b"p" * 126, "fragmented or over 125 bytes"),
    (bytes((0x82, 127)) + struct.pack("!Q", 1 << 63), "most significant bit"),
])
def test_a_broken_frame_is_an_error_saying_what_broke(wire, complaint):
    source = serve(frame(OP_BINARY, b"\x01fine") + wire)
    assert source.header() == (True, OP_BINARY, 5)
    assert [bytes(p) for p in source.payload(5)] == [b"\x01fine"]
    with pytest.raises(FrameError, match=complaint):
        source.header()
        source.header()  # the fragment case: the second header is the broken one


def test_a_connection_that_ends_inside_a_frame_is_lost_not_short():
    source = serve(frame(OP_BINARY, b"\x01" + b"x" * 500)[:200])
    fin, opcode, length = source.header()
    with pytest.raises(ConnectionLost):
        list(source.payload(length))


@settings(max_examples=60, deadline=None)
@given(payloads=st.lists(st.binary(max_size=3000), min_size=1, max_size=12),
       chunk=st.integers(1, 5000), buffer_size=st.sampled_from([256, 1000, 4096]))
def test_any_split_of_the_stream_gives_the_same_payloads(payloads, chunk, buffer_size):
    wire = b"".join(frame(OP_BINARY, p) for p in payloads)
    got = read_all(serve(wire, chunk=chunk, buffer_size=buffer_size))
    assert [data for _, _, data, _ in got] == payloads
    assert all(max(sizes, default=0) <= buffer_size for *_, sizes in got)
