"""The websocket side shared by exec and attach streams.

Dispatching the client's frames (stdin, resize, the v5 close of stdin), cutting output
into frames no bigger than the kubelet's, and the status and close frames that end a
stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from jupyter_k8stty.exec import protocol
from jupyter_k8stty.sandbox.process import log
from jupyter_k8stty.sandbox.websocket import (
    OP_BINARY,
    OP_CLOSE,
    ConnectionClosed,
    WebSocket,
    WebSocketError,
)

__all__ = ["MAX_FRAME", "end_frames", "output_frames", "serve_client_frames"]

#: Largest output frame. The kubelet copies output with Go's 32 KiB io.Copy buffer, so
#: a real cluster never sends bigger frames; clients are benchmarked against that.
MAX_FRAME = 32 * 1024


def serve_client_frames(ws: WebSocket, *, v5: bool, stdin: Callable[[bytes], None],
                        resize: Callable[[int, int], None],
                        close_stdin: Callable[[], None]) -> None:
    """Hand the client's frames to the callbacks until it leaves.

    A protocol error from the client is logged and answered with a close frame.

    Raises:
        OSError: when the connection fails.
    """
    try:
        while True:
            _, payload = ws.receive()
            if not payload:
                continue
            channel, data = payload[0], payload[1:]
            if channel == protocol.STDIN_CHANNEL:
                stdin(data)
            elif channel == protocol.RESIZE_CHANNEL:
                try:
                    rows, cols = protocol.decode_resize(data)
                except protocol.ProtocolError as exc:
                    log(str(exc))
                    continue
                resize(rows, cols)
            elif channel == protocol.CLOSE_CHANNEL and v5:
                if data[:1] == bytes((protocol.STDIN_CHANNEL,)):
                    close_stdin()
            else:
                log(f"ignoring a frame on unknown channel {channel}")
    except ConnectionClosed:
        pass
    except WebSocketError as exc:
        log(f"websocket protocol error from client: {exc}")
        ws.close(exc.code, str(exc))


def output_frames(pending: Iterable[tuple[int, bytes | bytearray]]) -> Iterator[tuple[int, bytes]]:
    """Yield websocket frames for output, at most :data:`MAX_FRAME` bytes each."""
    for channel, data in pending:
        prefix = bytes((channel,))
        view = memoryview(data)
        for start in range(0, len(view), MAX_FRAME):
            yield OP_BINARY, prefix + view[start:start + MAX_FRAME]


def end_frames(status: bytes) -> list[tuple[int, bytes]]:
    """Return the status and close frames that end a stream, as the kubelet sends them."""
    return [(OP_BINARY, bytes((protocol.STATUS_CHANNEL,)) + status),
            (OP_CLOSE, (1000).to_bytes(2, "big"))]
