"""Timestamps at every hop of a keystroke's echo, for ``benchmarks/echo_hops.py``.

Installed by monkeypatching, only in the benchmark: :func:`install_server` from the
Jupyter server's config file, :func:`install_kernel` from a notebook cell run before
the terminal is made (the hooks wrap methods that the widget binds when it is built).
Each event is one line ``wall-time-in-ms event detail`` appended to a file; the wall
clock (``time.time()``) is the one the browser's ``performance.timeOrigin + now()``
follows, so events of the three processes line up.

Server events: ``s_in``/``s_in_done`` (a kernel websocket message to ZMQ),
``s_out``/``s_out_done`` (a ZMQ message to the websocket, detail: its channel and type),
``t_in``/``t_in_done`` and ``t_out`` (JupyterLab's terminal: keys to the PTY, PTY output).

Kernel events: ``k_route`` (the shell channel thread forwards a message to a subshell),
``k_dispatch`` (a subshell starts on it), ``k_handler`` (our comm handler starts, detail:
the message type), ``k_write``/``k_write_done`` (the input pump writes to the exec
websocket), ``k_feed`` (the reader thread hands output to the bridge), ``k_send``
(the bridge calls the comm's send, detail: the message type), ``k_iopub`` (the IOPub
thread puts a message on its socket, detail: ``status:busy``, ``comm:output``...).
"""

from __future__ import annotations

import functools
import json
import threading
import time

_lock = threading.Lock()
_file = None


def _open(path: str) -> None:
    global _file
    _file = open(path, "a", buffering=1)


def event(name: str, detail: str = "") -> None:
    """Append one event, stamped now."""
    line = f"{time.time() * 1000:.3f} {name} {detail}\n"
    with _lock:
        if _file is not None:
            _file.write(line)


def _wrap(owner, attribute: str, before: str, after: str | None = None, detail=None) -> None:
    original = getattr(owner, attribute)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        event(before, detail(*args, **kwargs) if detail else "")
        try:
            return original(*args, **kwargs)
        finally:
            if after:
                event(after)

    setattr(owner, attribute, wrapper)


def _wrap_async(owner, attribute: str, before: str) -> None:
    original = getattr(owner, attribute)

    @functools.wraps(original)
    async def wrapper(*args, **kwargs):
        event(before)
        return await original(*args, **kwargs)

    setattr(owner, attribute, wrapper)


# -- the Jupyter server -------------------------------------------------------------------


def _zmq_kind(parts) -> str:
    """``status:busy``, ``comm:output``, ``comm_msg``... of a message's frames (after the delimiter)."""
    try:
        frames = [bytes(p) for p in parts]
        start = frames.index(b"<IDS|MSG>") + 2 if b"<IDS|MSG>" in frames else 1
        header = json.loads(frames[start])
        kind = header.get("msg_type", "?")
        content = frames[start + 3]
        if kind == "status":
            return "status:" + json.loads(content).get("execution_state", "?")
        if kind == "comm_msg":
            for name in (b'"output"', b'"input"', b'"ack"'):
                if name in content:
                    return "comm:" + name.strip(b'"').decode()
        return kind
    except Exception:
        return "?"


def install_server(path: str) -> None:
    """Trace the Jupyter server's kernel and terminal websockets (call from its config)."""
    _open(path)
    from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

    _wrap(ZMQChannelsWebsocketConnection, "handle_incoming_message", "s_in", "s_in_done")
    _wrap(ZMQChannelsWebsocketConnection, "handle_outgoing_message", "s_out", "s_out_done",
          detail=lambda self, stream, msg: f"{getattr(stream, 'channel', stream)}:{_zmq_kind(msg)}")
    from jupyter_server_terminals.handlers import TermSocket

    original = TermSocket.on_message

    async def on_message(self, message):
        event("t_in")
        try:
            return await original(self, message)
        finally:
            event("t_in_done")

    TermSocket.on_message = on_message
    _wrap(TermSocket, "on_pty_read", "t_out", "t_out_done")


# -- the kernel ---------------------------------------------------------------------------


def install_kernel(path: str) -> None:
    """Trace ipykernel and the terminal widget (run in the kernel before a terminal is made)."""
    _open(path)
    from ipykernel.kernelapp import IPKernelApp
    from ipykernel.subshell_manager import SubshellManager

    from jupyter_k8stty.widget.bridge import Bridge
    from jupyter_k8stty.widget.connection import Connection
    from jupyter_k8stty.widget.terminal import Terminal

    kernel = IPKernelApp.instance().kernel
    _wrap(SubshellManager, "get_shell_channel_to_subshell_socket", "k_route")
    _wrap_async(kernel, "dispatch_shell", "k_dispatch")
    iopub = kernel.iopub_thread
    original_send = iopub._really_send

    def really_send(msg, *args, **kwargs):
        event("k_iopub", _zmq_kind(msg))
        original_send(msg, *args, **kwargs)

    iopub._really_send = really_send
    _wrap(Terminal, "_handle_message", "k_handler",
          detail=lambda self, widget, content, buffers: str(content.get("type")))
    _wrap(Connection, "_write_now", "k_write", "k_write_done")
    _wrap(Bridge, "feed", "k_feed")
    _wrap(Terminal, "_send_message", "k_send", detail=lambda self, content, buffers: str(content.get("type")))

