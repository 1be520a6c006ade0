"""A small HTTP CONNECT proxy for tests: tunnels to loopback targets, remembers what it tunnelled."""

from __future__ import annotations

import socket
import threading


class ConnectProxy:
    """Listens on 127.0.0.1; ``CONNECT host:port`` opens a tunnel to ``routes.get(host, host):port``.

    ``requests`` lists the ``host:port`` of every CONNECT; ``auth`` is the last
    ``Proxy-Authorization`` header seen. Use it as a context manager.
    """

    def __init__(self, routes: dict[str, str] | None = None):
        self.routes = dict(routes or {})
        self.requests: list[str] = []
        self.auth: str | None = None
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, name="test-connect-proxy", daemon=True)

    def __enter__(self) -> ConnectProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass
        self._server.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._sockets.append(client)
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        client.settimeout(5)
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            try:
                chunk = client.recv(4096)
            except OSError:  # timed out, or the proxy was closed under this thread
                chunk = b""
            if not chunk:
                client.close()
                return
            head += chunk
        lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "proxy-authorization":
                self.auth = value.strip()
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            client.close()
            return
        self.requests.append(target)
        host, _, port = target.rpartition(":")
        try:
            upstream = socket.create_connection((self.routes.get(host, host), int(port)), timeout=5)
        except OSError:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            client.close()
            return
        self._sockets.append(upstream)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        client.settimeout(None)
        upstream.settimeout(None)
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
