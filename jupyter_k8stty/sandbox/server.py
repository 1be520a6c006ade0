"""The :class:`Sandbox`: a local HTTPS server that speaks the Kubernetes API we use."""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import time
from http.server import HTTPServer, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from jupyter_k8stty.exec import protocol
from jupyter_k8stty.sandbox import kubeconfig, tls
from jupyter_k8stty.sandbox.exec_stream import ExecStream
from jupyter_k8stty.sandbox.handler import SandboxHandler
from jupyter_k8stty.sandbox.pods import PodSpec, PodStore, default_pods
from jupyter_k8stty.sandbox.process import log
from jupyter_k8stty.sandbox.websocket import shutdown_socket

#: A client that has not finished the TLS handshake by then is dropped, so a
#: stray TCP connection cannot pin a thread forever.
HANDSHAKE_TIMEOUT = 10.0
#: How long :meth:`Sandbox.stop` waits for connection threads to end.
STOP_TIMEOUT = 1.5


class _TLSServer(ThreadingHTTPServer):
    """A threaded HTTP server doing the TLS handshake in each connection's thread.

    Handshaking in the accept loop would let one slow client stall every other
    connection, so the listener accepts plain TCP and each thread wraps its own.
    """

    daemon_threads = True
    block_on_close = False  # stop() tracks and joins its threads with a deadline
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, sandbox: Sandbox):
        try:
            is_v6 = ipaddress.ip_address(address[0]).version == 6
        except ValueError:
            is_v6 = False
        self.address_family = socket.AF_INET6 if is_v6 else socket.AF_INET
        self.ssl_context = context
        self.sandbox = sandbox
        self.connections: set[socket.socket] = set()
        self.threads: set[threading.Thread] = set()
        self.lock = threading.Lock()
        super().__init__(address, SandboxHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the FQDN of the host, which can stall
        # for seconds on machines without working reverse DNS.
        HTTPServer.__base__.server_bind(self)  # type: ignore[misc]
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: socket.socket, client_address: tuple[str, int]) -> None:
        if self.sandbox.stopping:
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def finish_request(self, request: socket.socket, client_address: tuple[str, int]) -> None:
        thread = threading.current_thread()
        with self.lock:
            self.threads.add(thread)
            self.connections.add(request)
        conn = request
        try:
            request.settimeout(HANDSHAKE_TIMEOUT)
            try:
                conn = self.ssl_context.wrap_socket(request, server_side=True)
            except (OSError, ValueError) as exc:
                if not self.sandbox.stopping:
                    log(f"TLS handshake with {client_address[0]} failed: {exc}")
                return
            with self.lock:
                self.connections.discard(request)
                self.connections.add(conn)
            if self.sandbox.stopping:
                return
            conn.settimeout(None)
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            with self.lock:
                self.connections.discard(conn)
                self.connections.discard(request)
                self.threads.discard(thread)
            try:
                conn.close()
            except OSError:
                pass

    def drop_all(self) -> None:
        """Shut every open connection so that the threads serving them finish."""
        with self.lock:
            conns = list(self.connections)
        for conn in conns:
            shutdown_socket(conn)


class Sandbox:
    """A local stand-in for a Kubernetes API server with exec into fake pods.

    Args:
        host: address to listen on (loopback by default).
        port: TCP port; 0 picks a free one.
        pods: the pods to serve; ``None`` gives :func:`default_pods`.
        kubeconfig_path: where to write the kubeconfig; ``None`` writes one in
            a temporary directory that :meth:`stop` removes.
        protocols: exec subprotocols served, most preferred first; pass
            ``("v4.channel.k8s.io",)`` to act like a server older than Kubernetes 1.30.
    """

    context_name = kubeconfig.DEFAULT_CONTEXT

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 pods: list[PodSpec] | None = None,
                 kubeconfig_path: str | os.PathLike[str] | None = None,
                 protocols: tuple[str, ...] = (protocol.V5_PROTOCOL, protocol.V4_PROTOCOL)):
        self.host = host
        self.protocols = tuple(protocols)
        self._requested_port = port
        self._initial_pods = list(default_pods() if pods is None else pods)
        self._kubeconfig_arg = kubeconfig_path
        self._tmpdir: str | None = None
        self.token = secrets.token_urlsafe(32)
        self.ca_pem: bytes = b""
        self.kubeconfig_path: str = ""
        self.pods: PodStore | None = None  # type: ignore[assignment]
        self.stopping = False
        self._server: _TLSServer | None = None
        self._thread: threading.Thread | None = None
        self._streams: set[ExecStream] = set()
        self._lock = threading.Lock()

    # ---- lifecycle ------------------------------------------------------

    def start(self) -> Sandbox:
        """Listen, serve in a background thread and write the kubeconfig.

        Returns once the socket is listening; calling it again does nothing.
        """
        with self._lock:
            if self._server is not None:
                return self
            if self.stopping:
                raise RuntimeError("a stopped Sandbox cannot be started again")
            certs = tls.make_certificates(self.host)
            server = _TLSServer((self.host, self._requested_port),
                                tls.server_context(certs), self)
            self.ca_pem = certs.ca_pem
            self.pods = PodStore(self._initial_pods)
            self._server = server
            if self._kubeconfig_arg is None:
                self._tmpdir = tempfile.mkdtemp(prefix="k8stty-sandbox-")
                path: str | os.PathLike[str] = Path(self._tmpdir) / "kubeconfig"
            else:
                path = self._kubeconfig_arg
            self.kubeconfig_path = str(kubeconfig.write_kubeconfig(
                path, kubeconfig.render_kubeconfig(self.url, self.ca_pem, self.token,
                                                   self.context_name)))
            self._thread = threading.Thread(target=server.serve_forever, args=(0.05,),
                                            name="k8stty-sandbox", daemon=True)
            self._thread.start()
        return self

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._server is None:
            return self._requested_port
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The server URL, e.g. ``https://127.0.0.1:43121``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    def stop(self) -> None:
        """Stop serving, drop every connection and kill every exec process.

        Returns within about two seconds even with busy connections.
        """
        with self._lock:
            if self.stopping:
                return
            self.stopping = True
            server, thread = self._server, self._thread
        try:
            if server is not None:
                self._stop_server(server, thread)
        finally:
            if self.pods is not None:
                self.pods.cleanup()
            if self._tmpdir is not None:
                shutil.rmtree(self._tmpdir, ignore_errors=True)

    def _stop_server(self, server: _TLSServer, thread: threading.Thread | None) -> None:
        server.shutdown()
        server.server_close()
        for stream in self._take_streams():
            stream.kill()
        server.drop_all()
        deadline = time.monotonic() + STOP_TIMEOUT
        with server.lock:
            threads = list(server.threads)
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t for t in threads if t.is_alive()]
        if alive:
            log(f"{len(alive)} connection thread(s) still running after stop")

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ---- runtime changes --------------------------------------------------

    def _store(self) -> PodStore:
        if self.pods is None:
            raise RuntimeError("the Sandbox is not started")
        return self.pods

    def add_pod(self, spec: PodSpec) -> None:
        """Add a pod (or replace the one with the same namespace and name)."""
        self._store().add(spec)

    def set_phase(self, namespace: str, name: str, phase: str) -> None:
        """Set a pod's phase, e.g. ``Pending`` then ``Running``.

        Raises:
            KeyError: there is no such pod.
            ValueError: ``phase`` is not a pod phase.
        """
        self._store().set_phase(namespace, name, phase)

    def drop_connections(self) -> None:
        """Abruptly close every exec websocket, without a status, like a network drop."""
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            stream.drop()

    # ---- used by the handler ----------------------------------------------

    def register_stream(self, stream: ExecStream) -> bool:
        """Track an exec stream; ``False`` when the sandbox is stopping."""
        with self._lock:
            if self.stopping:
                return False
            self._streams.add(stream)
            return True

    def unregister_stream(self, stream: ExecStream) -> None:
        """Forget a finished exec stream."""
        with self._lock:
            self._streams.discard(stream)

    def _take_streams(self) -> list[ExecStream]:
        with self._lock:
            streams = list(self._streams)
            self._streams.clear()
            return streams
