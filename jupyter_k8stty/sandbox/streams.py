"""The streaming routes of the handler: ``pods/NAME/exec`` and ``pods/NAME/attach`` over websockets.

Both check the pod, the container and the stream flags as the API server and kubelet do,
then upgrade with the same handshake (``v5.channel.k8s.io`` or ``v4.channel.k8s.io``).
Exec starts a new process (:class:`~jupyter_k8stty.sandbox.exec_stream.ExecStream`);
attach joins the container's main process
(:class:`~jupyter_k8stty.sandbox.attach_stream.AttachStream`). SPDY (``POST`` with
``Upgrade: SPDY/3.1``) is refused with a 400 that says so; kubectl then retries with
websockets.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from jupyter_k8stty.exec import protocol
from jupyter_k8stty.sandbox import apistatus
from jupyter_k8stty.sandbox.apistatus import HTTPError
from jupyter_k8stty.sandbox.attach_stream import AttachStream
from jupyter_k8stty.sandbox.containers import Container
from jupyter_k8stty.sandbox.exec_stream import ExecStream
from jupyter_k8stty.sandbox.faults import Fault
from jupyter_k8stty.sandbox.mainproc import MainProcess
from jupyter_k8stty.sandbox.pods import Pod
from jupyter_k8stty.sandbox.process import ExecRequest
from jupyter_k8stty.sandbox.websocket import WebSocket, accept_key, select_subprotocol

if TYPE_CHECKING:
    from jupyter_k8stty.sandbox.server import Sandbox

__all__ = ["START_WAIT", "StreamRoutes", "bad_request"]

#: How long attach waits for a declared container's main process to (re)start.
START_WAIT = 2.0


def bad_request(message: str) -> HTTPError:
    """Return the API server's 400 ``BadRequest`` with ``message``."""
    return HTTPError(400, apistatus.status_body(400, message, "BadRequest"))


class StreamRoutes:
    """Exec and attach for :class:`~jupyter_k8stty.sandbox.handler.SandboxHandler`."""

    if TYPE_CHECKING:  # provided by BaseHTTPRequestHandler and SandboxHandler
        headers: Any
        connection: Any
        rfile: Any
        close_connection: bool

        @property
        def sandbox(self) -> Sandbox: ...  # noqa: D102

        def send_response(self, code: int, message: str | None = None) -> None: ...  # noqa: D102
        def send_header(self, keyword: str, value: str) -> None: ...  # noqa: D102
        def end_headers(self) -> None: ...  # noqa: D102
        def _discard_body(self) -> None: ...
        def _pod(self, namespace: str, name: str) -> Pod: ...

    def _container(self, pod: Pod, query: dict[str, list[str]]) -> Container:
        name = query.get("container", [""])[0] or next(iter(pod.containers))
        container = pod.container(name)
        if container is None:
            raise bad_request(f"container {name} is not valid for pod {pod.spec.name}")
        return container

    def _stream_flags(self, query: dict[str, list[str]]) -> dict[str, bool]:
        def flag(key: str) -> bool:
            return query.get(key, ["false"])[0].lower() in ("1", "true")

        streams = {k: flag(k) for k in ("stdin", "stdout", "stderr", "tty")}
        if not (streams["stdin"] or streams["stdout"] or streams["stderr"]):
            raise bad_request("you must specify at least 1 of stdin, stdout, stderr")
        if streams["tty"]:
            streams["stderr"] = False  # a terminal merges stderr into stdout
        return streams

    def _running_container(self, pod: Pod, query: dict[str, list[str]], verb: str) -> Container:
        container = self._container(pod, query)
        if pod.phase in ("Succeeded", "Failed"):
            raise bad_request(f"cannot {verb} into a container in a completed pod; "
                              f"current phase is {pod.phase}")
        state = container.state
        if pod.phase != "Running" or (state is not None and state.kind != "running"):
            raise HTTPError(500, apistatus.status_body(
                500, f'unable to upgrade connection: container not found ("{container.name}")',
                "InternalError"))
        return container

    def _upgrade(self, method: str, what: str) -> tuple[str, Fault | None]:
        """Answer the websocket upgrade; return the chosen protocol and the injected fault."""
        upgrade = self.headers.get("Upgrade", "").lower()
        if method != "GET" or upgrade != "websocket":
            self.close_connection = True
            raise bad_request(
                f"the jupyter-k8stty sandbox only supports {what} over websockets "
                f"({protocol.V5_PROTOCOL} or {protocol.V4_PROTOCOL}); "
                f"got a {method} request{' to upgrade to ' + upgrade if upgrade else ''}")
        key = self.headers.get("Sec-WebSocket-Key")
        if not key or self.headers.get("Sec-WebSocket-Version", "").strip() != "13":
            self.close_connection = True
            raise bad_request("websocket upgrade needs Sec-WebSocket-Key and "
                              "Sec-WebSocket-Version: 13")
        offered = ", ".join(self.headers.get_all("Sec-WebSocket-Protocol") or [])
        chosen = select_subprotocol(offered, self.sandbox.protocols)
        if chosen is None:
            self.close_connection = True
            asked = [p.strip() for p in offered.split(",") if p.strip()]
            raise HTTPError(403, apistatus.status_body(
                403, f"requested protocol(s) are not supported: {asked}; "
                f"supports {list(self.sandbox.protocols)}", "Forbidden"))
        self.close_connection = True
        fault = self.sandbox.faults.take() if what == "exec" else None
        if fault is not None and fault.delay > 0:  # fault injection: a slow answer
            deadline = time.monotonic() + fault.delay
            while time.monotonic() < deadline and not self.sandbox.stopping:
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
            fault.triggered.set()
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept_key(key))
        self.send_header("Sec-WebSocket-Protocol", chosen)
        self.end_headers()
        return chosen, fault

    def _run_stream(self, stream: ExecStream | AttachStream) -> None:
        if not self.sandbox.register_stream(stream):
            stream.kill()
            return
        try:
            stream.run()
        finally:
            self.sandbox.unregister_stream(stream)

    def _exec(self, method: str, namespace: str, name: str, query: dict[str, list[str]]) -> None:
        self._discard_body()
        pod = self._pod(namespace, name)
        container = self._running_container(pod, query, "exec")
        command = tuple(query.get("command", []))
        if not command:
            raise bad_request("you must specify at least 1 command")
        streams = self._stream_flags(query)
        chosen, fault = self._upgrade(method, "exec")
        request = ExecRequest(namespace=namespace, pod=name, container=container.name,
                              command=command, workdir=container.workdir,
                              executables=container.executables(), env=pod.environment(container),
                              **streams)
        self._run_stream(ExecStream(WebSocket(self.connection, self.rfile), request, chosen, fault,
                                    self.sandbox.container_runtime))

    def _main_process(self, pod: Pod, container: Container) -> MainProcess | None:
        """Return the container's main process; ``None`` for an idle container.

        A declared container's status follows its pod, so its process may be starting (or
        restarting) still: it gets :data:`START_WAIT` seconds, then the kubelet's 500.
        """
        kubelet = self.sandbox.kubelet
        if kubelet is None:
            return None
        if container.state is not None or not container.main_command(default_shell=False):
            return kubelet.process(pod, container.name)
        deadline = time.monotonic() + START_WAIT
        while (process := kubelet.process(pod, container.name)) is None:
            if time.monotonic() > deadline or self.sandbox.stopping:
                raise HTTPError(500, apistatus.status_body(
                    500, f'unable to upgrade connection: container not found ("{container.name}")',
                    "InternalError"))
            time.sleep(0.02)
        return process

    def _attach(self, method: str, namespace: str, name: str, query: dict[str, list[str]]) -> None:
        self._discard_body()
        pod = self._pod(namespace, name)
        container = self._running_container(pod, query, "attach")
        streams = self._stream_flags(query)
        process = self._main_process(pod, container)
        chosen, _ = self._upgrade(method, "attach")
        self._run_stream(AttachStream(
            WebSocket(self.connection, self.rfile), process,
            stdin=streams["stdin"] and container.stdin, stdout=streams["stdout"],
            stderr=streams["stderr"], v5=chosen == protocol.V5_PROTOCOL))
