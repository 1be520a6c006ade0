"""A stand-in for the browser: a real ipykernel driven over ZMQ by jupyter_client.

The test plays the widget front end: it reads the kernel's iopub ``comm_open`` and
``comm_msg`` messages (with their binary buffers) and sends ``comm_msg``/``comm_close``
on the shell channel exactly as ipywidgets does in JupyterLab.
"""

from __future__ import annotations

import ast
import datetime
import queue
import time
import uuid
from dataclasses import dataclass, field

from jupyter_client.manager import start_new_kernel

TIMEOUT = 20.0


class KernelError(AssertionError):
    pass


@dataclass
class CommMessage:
    comm_id: str
    data: dict
    buffers: list[bytes]
    date: datetime.datetime | None = None  # when the kernel created the message

    @property
    def method(self) -> str:
        return self.data.get("method", "")

    @property
    def custom(self) -> dict | None:
        return self.data.get("content") if self.method == "custom" else None


@dataclass
class Comm:
    comm_id: str
    state: dict
    messages: list[CommMessage] = field(default_factory=list)
    closed: bool = False

    def custom(self, kind: str) -> list[CommMessage]:
        return [m for m in self.messages if m.custom and m.custom.get("type") == kind]

    def output(self) -> bytes:
        return b"".join(b for m in self.custom("output") for b in m.buffers)

    def state_updates(self) -> list[dict]:
        return [m.data.get("state", {}) for m in self.messages if m.method in ("update", "echo_update")]


class Frontend:
    """One kernel plus the comms it opened, as a browser would see them."""

    def __init__(self) -> None:
        self.km, self.kc = start_new_kernel(kernel_name="python3", startup_timeout=60)
        self.comms: dict[str, Comm] = {}
        self.streams: list[str] = []  # stdout/stderr/error text the kernel published
        #: ``execution_state`` of every status message, by the msg_id it answers.
        self.statuses: dict[str, list[str]] = {}

    def shutdown(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=False)

    # -- iopub ---------------------------------------------------------------------------

    def pump(self, timeout: float = 0.05, budget: float = 0.5) -> bool:
        """Read every waiting iopub message; return whether any arrived.

        Returns after ``budget`` seconds at most, even while messages keep coming (many
        terminals streaming), so callers waiting for something else get their turn.
        """
        got = False
        until = time.monotonic() + budget
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=timeout if not got else 0.001)
            except queue.Empty:
                return got
            got = True
            self._dispatch(msg)
            if time.monotonic() >= until:
                return True

    def _dispatch(self, msg: dict) -> None:
        kind = msg["header"]["msg_type"]
        content = msg["content"]
        if kind == "comm_open":
            data = content.get("data", {})
            self.comms[content["comm_id"]] = Comm(content["comm_id"], dict(data.get("state", {})))
        elif kind == "comm_msg":
            comm = self.comms.get(content["comm_id"])
            if comm is not None:
                buffers = [bytes(b) for b in msg.get("buffers", [])]
                date = msg["header"].get("date")
                message = CommMessage(content["comm_id"], content["data"], buffers, date)
                comm.messages.append(message)
                if message.method in ("update", "echo_update"):
                    comm.state.update(message.data.get("state", {}))
        elif kind == "comm_close":
            comm = self.comms.get(content["comm_id"])
            if comm is not None:
                comm.closed = True
        elif kind == "status":
            parent = msg.get("parent_header", {}).get("msg_id")
            self.statuses.setdefault(parent, []).append(content["execution_state"])
        elif kind == "stream":
            self.streams.append(content["text"])
        elif kind == "error":
            self.streams.append("\n".join(content.get("traceback", [])))

    def wait_for(self, predicate, timeout: float = TIMEOUT, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            self.pump()

    # -- shell ---------------------------------------------------------------------------

    def execute(self, code: str, *, metadata: dict | None = None, timeout: float = TIMEOUT) -> dict:
        """Run code; return the execute_reply content (raises on an error reply)."""
        msg = self.kc.session.msg(
            "execute_request",
            {
                "code": code,
                "silent": False,
                "store_history": False,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
            metadata=metadata or {},
        )
        self.kc.shell_channel.send(msg)
        reply = self._reply(msg["header"]["msg_id"], timeout)
        self.pump(0.01)
        if reply["status"] != "ok":
            raise KernelError("\n".join(reply.get("traceback", [])) or reply.get("evalue", "error"))
        return reply

    def eval(self, expression: str, timeout: float = TIMEOUT):
        """Evaluate a Python literal-valued expression in the kernel."""
        msg = self.kc.session.msg(
            "execute_request",
            {
                "code": "",
                "silent": True,
                "store_history": False,
                "user_expressions": {"value": f"repr(({expression}))"},
                "allow_stdin": False,
                "stop_on_error": False,
            },
        )
        self.kc.shell_channel.send(msg)
        reply = self._reply(msg["header"]["msg_id"], timeout)
        result = reply["user_expressions"]["value"]
        if result["status"] != "ok":
            raise KernelError(f"{expression}: {result.get('ename')}: {result.get('evalue')}")
        return ast.literal_eval(ast.literal_eval(result["data"]["text/plain"]))

    def _reply(self, msg_id: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no reply from the kernel within {timeout} s")
            self.pump(0.001)
            try:
                reply = self.kc.get_shell_msg(timeout=min(left, 0.05))
            except queue.Empty:
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply["content"]

    # -- comms ---------------------------------------------------------------------------

    def terminal_comm(self, variable: str) -> Comm:
        """The comm of the Terminal bound to ``variable`` in the kernel."""
        comm_id = self.eval(f"{variable}.comm.comm_id")
        return self.wait_for(lambda: self.comms.get(comm_id), what=f"comm_open of {variable}")

    def send_comm(self, comm: Comm, data: dict, buffers: list[bytes] | None = None) -> str:
        """Send a comm message; return its msg_id."""
        msg = self.kc.session.msg("comm_msg", {"comm_id": comm.comm_id, "data": data})
        self.kc.session.send(self.kc.shell_channel.socket, msg, buffers=buffers or [])
        return msg["header"]["msg_id"]

    def send_custom(self, comm: Comm, content: dict, buffers: list[bytes] | None = None) -> str:
        return self.send_comm(comm, {"method": "custom", "content": content}, buffers)

    def send_update(self, comm: Comm, state: dict) -> None:
        self.send_comm(comm, {"method": "update", "state": state, "buffer_paths": []})

    def close_comm(self, comm: Comm) -> None:
        msg = self.kc.session.msg("comm_close", {"comm_id": comm.comm_id, "data": {}})
        self.kc.shell_channel.send(msg)

    def type(self, comm: Comm, text: str) -> None:
        self.send_custom(comm, {"type": "input"}, [text.encode()])

    def expect_output(self, comm: Comm, needle: bytes, timeout: float = TIMEOUT) -> bytes:
        def seen():
            data = comm.output()
            return data if needle in data else None

        try:
            return self.wait_for(seen, timeout, what=repr(needle))
        except AssertionError:
            raise AssertionError(f"{needle!r} not in output; got {comm.output()[-400:]!r}") from None


def new_view_id() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


def open_view(fe: Frontend, variable: str, code: str, timeout: float = 20.0):
    """Run ``VARIABLE = CODE`` (a Terminal), attach a view to it, wait until it is connected."""
    fe.execute(f"{variable} = {code}")
    comm = fe.terminal_comm(variable)
    fe.send_custom(comm, {"type": "ready", "view": new_view_id()})
    fe.wait_for(lambda: comm.state.get("status") == "connected", timeout, what="connected")
    return comm
