"""The sandbox's listener: a threaded HTTPS server that handshakes in each connection's thread.

It tracks its connections and their threads so that :meth:`TLSServer.stop` ends them
within a deadline, and refuses new ones while the sandbox stops.
"""

from __future__ import annotations

import ipaddress
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING

from jupyter_k8stty.sandbox.handler import SandboxHandler
from jupyter_k8stty.sandbox.process import log
from jupyter_k8stty.sandbox.websocket import shutdown_socket

if TYPE_CHECKING:
    from jupyter_k8stty.sandbox.server import Sandbox

__all__ = ["HANDSHAKE_TIMEOUT", "TLSServer"]

#: A client that has not finished the TLS handshake by then is dropped, so a
#: stray TCP connection cannot pin a thread forever.
HANDSHAKE_TIMEOUT = 10.0


class TLSServer(ThreadingHTTPServer):
    """A threaded HTTP server doing the TLS handshake in each connection's thread.

    Handshaking in the accept loop would let one slow client stall every other
    connection, so the listener accepts plain TCP and each thread wraps its own.
    """

    daemon_threads = True
    block_on_close = False  # stop() tracks and joins its threads with a deadline
    allow_reuse_address = True
    # socketserver's default listen backlog of 5 drops SYNs when many clients connect
    # at once (fan-out), and each dropped SYN costs a 1 s retransmit.
    request_queue_size = 128

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
        #: TCP connections accepted so far (a client reusing keep-alive connections opens few).
        self.accepted = 0
        self.lock = threading.Lock()
        super().__init__(address, SandboxHandler)

    def server_bind(self) -> None:
        """Bind the socket, without looking up the host's name."""
        # HTTPServer.server_bind resolves the FQDN of the host, which can stall
        # for seconds on machines without working reverse DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    # TCP only: requests are sockets, not the (data, socket) pairs of UDP servers.
    def process_request(self, request: socket.socket,  # type: ignore[override]
                        client_address: tuple[str, int]) -> None:
        """Serve the connection on a thread of its own, unless the sandbox is stopping."""
        if self.sandbox.stopping:
            self.shutdown_request(request)
            return
        with self.lock:
            self.accepted += 1
        super().process_request(request, client_address)

    def finish_request(self, request: socket.socket,  # type: ignore[override]
                       client_address: tuple[str, int]) -> None:
        """Do the TLS handshake and serve the connection (on its own thread), tracked for :meth:`stop`."""
        thread = threading.current_thread()
        with self.lock:
            self.threads.add(thread)
            self.connections.add(request)
        conn = request
        try:
            # Headers and body leave in separate writes; without this, Nagle plus the
            # client's delayed ACK add 40 ms to every small response.
            try:
                request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
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
            self.RequestHandlerClass(conn, client_address, self)  # type: ignore[arg-type]
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

    def serve_in_thread(self) -> threading.Thread:
        """Serve on a daemon thread (``k8stty-sandbox``); return it."""
        thread = threading.Thread(target=self.serve_forever, args=(0.05,), name="k8stty-sandbox",
                                  daemon=True)
        thread.start()
        return thread

    def stop(self, serving: threading.Thread | None, *, before_drop: Callable[[], None],
             timeout: float) -> None:
        """Stop listening, drop every connection and wait up to ``timeout`` s for their threads.

        Args:
            serving: the thread of :meth:`serve_in_thread`.
            before_drop: called once nothing listens, before connections are shut (the
                sandbox kills its exec streams there).
            timeout: seconds to wait for the threads.
        """
        self.shutdown()
        self.server_close()
        before_drop()
        self.drop_all()
        deadline = time.monotonic() + timeout
        with self.lock:
            threads = list(self.threads)
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if serving is not None:
            serving.join(max(0.0, deadline - time.monotonic()))
        alive = [t for t in threads if t.is_alive()]
        if alive:
            log(f"{len(alive)} connection thread(s) still running after stop")
