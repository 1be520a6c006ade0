"""Restart a running sandbox from another process: the demo notebook's kernel, a test.

``jupyter-k8stty demo`` runs the sandbox in its own process, beside JupyterLab, so a
notebook cannot call :meth:`Sandbox.restart <jupyter_k8stty.sandbox.server.Sandbox.restart>`
itself. A :class:`ControlServer` takes such requests for the sandbox on a Unix socket
beside its kubeconfig (:func:`control_path`), and :func:`restart_sandbox` and
:func:`drop_connections`, called with the same kubeconfig (``KUBECONFIG`` by default),
send them::

    from jupyter_k8stty.sandbox.control import restart_sandbox

    restart_sandbox(downtime=3)  # every connection drops; nothing listens for 3 s

The socket is private (mode 0600) and, where the system tells (Linux), only
processes of the same user (or root) are served. A request is one line of JSON,
``{"action": "restart", "downtime": 3}``, ``{"action": "drop"}`` or
``{"action": "ping"}``; the answer is one line, ``{"ok": true}`` or
``{"ok": false, "error": "..."}``, sent once the action is done (after a restart:
once the API server listens again).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import stat
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from jupyter_k8stty.errors import K8sTTYError

if TYPE_CHECKING:
    from jupyter_k8stty.sandbox.server import Sandbox

__all__ = ["MAX_DOWNTIME", "ControlError", "ControlServer", "control_path", "drop_connections",
           "restart_sandbox", "serve_control"]

#: The longest downtime a restart request may ask for, in seconds.
MAX_DOWNTIME = 60.0
#: Longest request line, in bytes.
MAX_REQUEST = 4096
#: Seconds a client has to send its request.
REQUEST_TIMEOUT = 5.0
#: Seconds a request may take on top of the downtime it asks for (stopping the server
#: waits up to 1.5 s for its connections).
ANSWER_MARGIN = 15.0
#: Unix socket paths longer than this (bytes) do not fit ``sockaddr_un`` everywhere.
_MAX_SOCKET_PATH = 100


class ControlError(K8sTTYError):
    """A sandbox control request failed: no sandbox listens, or it refused."""


def control_path(kubeconfig: str | os.PathLike[str]) -> Path:
    """Return the control socket's path for the sandbox whose kubeconfig is ``kubeconfig``.

    ``KUBECONFIG.control`` beside the kubeconfig; when that path is too long for a Unix
    socket, a name derived from it in a private folder of the temporary directory.
    """
    path = Path(os.path.abspath(os.path.expanduser(os.fspath(kubeconfig))))
    beside = path.with_name(path.name + ".control")
    if len(os.fsencode(beside)) <= _MAX_SOCKET_PATH:
        return beside
    digest = hashlib.sha256(os.fsencode(path)).hexdigest()[:20]
    return _private_dir() / f"{digest}.sock"


def _private_dir() -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else 0
    folder = Path(tempfile.gettempdir()) / f"k8stty-control-{uid}"
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != uid):
        raise ControlError(f"{folder} is not a folder of this user's: not using it")
    return folder


def _peer_uid(conn: socket.socket) -> int | None:
    """Return the connecting process's user id where the system tells (Linux), else ``None``."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None or not sys.platform.startswith("linux"):
        return None
    try:
        _pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, option,
                                                              struct.calcsize("3i")))
    except OSError:
        return None
    return uid


class ControlServer:
    """Serves restart and drop requests for ``sandbox`` on its control socket.

    Args:
        sandbox: a started :class:`~jupyter_k8stty.sandbox.server.Sandbox`.
        path: the socket; default :func:`control_path` of the sandbox's kubeconfig.

    Example:
        >>> with tour_sandbox() as sandbox, ControlServer(sandbox):
        ...     ...  # restart_sandbox(kubeconfig=sandbox.kubeconfig_path) works from anywhere
    """

    def __init__(self, sandbox: Sandbox, path: str | os.PathLike[str] | None = None):
        self.sandbox = sandbox
        self._path_arg = path
        self.path: Path | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._busy = threading.Lock()  # one restart at a time
        self._inode: tuple[int, int] | None = None

    def start(self) -> ControlServer:
        """Listen on the socket and serve in a background thread; return ``self``.

        Raises:
            OSError: the socket cannot be made (another process listens there, say).
            RuntimeError: the sandbox is not started.
        """
        if not self.sandbox.kubeconfig_path:
            raise RuntimeError("start the Sandbox before its ControlServer")
        path = Path(self._path_arg) if self._path_arg is not None else control_path(
            self.sandbox.kubeconfig_path)
        self._remove_stale(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(os.fspath(path))
            os.chmod(path, 0o600)
            sock.listen(8)
            sock.settimeout(0.2)
        except OSError:
            sock.close()
            raise
        info = path.stat()
        self._inode = (info.st_dev, info.st_ino)
        self.path, self._sock = path, sock
        self._thread = threading.Thread(target=self._serve, name="k8stty-sandbox-control", daemon=True)
        self._thread.start()
        return self

    @staticmethod
    def _remove_stale(path: Path) -> None:
        """Remove a socket left by a sandbox that was killed; refuse one that still answers."""
        try:
            info = path.lstat()
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(info.st_mode):
            raise FileExistsError(f"{path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.settimeout(1.0)
            probe.connect(os.fspath(path))
        except OSError:
            path.unlink(missing_ok=True)  # nobody listens: left over
        else:
            raise OSError(f"another sandbox's control socket listens at {path}")
        finally:
            probe.close()

    def stop(self) -> None:
        """Stop serving and remove the socket (requests under way finish on their own)."""
        self._stopping.set()
        sock, self._sock = self._sock, None
        if self._thread is not None:
            self._thread.join(2.0)
        if sock is not None:
            sock.close()
        path = self.path
        if path is not None and self._inode is not None:
            with contextlib.suppress(OSError):
                info = path.lstat()
                if (info.st_dev, info.st_ino) == self._inode:  # still ours
                    path.unlink()

    def __enter__(self) -> ControlServer:
        return self.start() if self._sock is None else self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ---- serving ------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stopping.is_set():
            sock = self._sock
            if sock is None:
                return
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), name="k8stty-sandbox-control-request",
                             daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            uid = _peer_uid(conn)
            if uid is not None and uid not in (0, os.getuid()):
                self._answer(conn, {"ok": False, "error": "only the sandbox's own user may control it"})
                return
            try:
                request = self._read_request(conn)
            except (OSError, ValueError) as exc:
                self._answer(conn, {"ok": False, "error": f"bad request: {exc}"})
                return
            conn.settimeout(None)
            try:
                answer = self._act(request)
            except Exception as exc:  # the answer says what went wrong
                answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            self._answer(conn, answer)

    @staticmethod
    def _read_request(conn: socket.socket) -> dict[str, Any]:
        conn.settimeout(REQUEST_TIMEOUT)
        request = json.loads(_read_line(conn) or b"null")
        if not isinstance(request, dict):
            raise ValueError("not a JSON object")
        return request

    def _act(self, request: dict[str, Any]) -> dict[str, Any]:
        action = request.get("action")
        if action == "ping":
            return {"ok": True, "url": self.sandbox.url}
        if action == "drop":
            self.sandbox.drop_connections()
            return {"ok": True}
        if action == "restart":
            downtime = request.get("downtime", 0)
            if isinstance(downtime, bool) or not isinstance(downtime, (int, float)) \
                    or not 0 <= downtime <= MAX_DOWNTIME:
                return {"ok": False, "error": f"downtime must be 0 to {MAX_DOWNTIME:g} seconds, "
                        f"got {downtime!r}"}
            with self._busy:
                started = time.monotonic()
                self.sandbox.restart(downtime=float(downtime))
                return {"ok": True, "seconds": round(time.monotonic() - started, 3)}
        return {"ok": False, "error": f"unknown action {action!r} (restart, drop or ping)"}

    @staticmethod
    def _answer(conn: socket.socket, answer: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps(answer).encode() + b"\n")


def serve_control(sandbox: Sandbox, prog: str) -> ControlServer | None:
    """Start a :class:`ControlServer` for ``sandbox``; ``None`` (said on stderr) if it cannot.

    For the command lines that run a sandbox (``jupyter-k8stty sandbox``, ``demo``):
    without the socket everything works but :func:`restart_sandbox` and
    :func:`drop_connections`.
    """
    try:
        return ControlServer(sandbox).start()
    except (ControlError, OSError) as exc:
        print(f"{prog}: restart_sandbox() and drop_connections() will not reach this sandbox: {exc}",
              file=sys.stderr)
        return None


def _read_line(sock: socket.socket) -> bytes:
    """Read one newline-ended message (its first line) of at most ``MAX_REQUEST`` bytes."""
    data = b""
    while b"\n" not in data:
        chunk = sock.recv(MAX_REQUEST)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise ValueError(f"message longer than {MAX_REQUEST} bytes")
    return data.split(b"\n", 1)[0]


# ---- the client side ------------------------------------------------------------------


def _kubeconfigs(kubeconfig: str | os.PathLike[str] | None) -> list[str]:
    if kubeconfig is not None:
        return [os.fspath(kubeconfig)]
    listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return listed or [os.path.expanduser("~/.kube/config")]


def request(message: dict[str, Any], *, kubeconfig: str | os.PathLike[str] | None = None,
            timeout: float = REQUEST_TIMEOUT) -> dict[str, Any]:
    """Send ``message`` to the control socket of the sandbox behind ``kubeconfig``; return the answer.

    ``kubeconfig`` defaults to ``KUBECONFIG`` (the first of its files with a sandbox
    behind it), else ``~/.kube/config``.

    Raises:
        ControlError: no sandbox control socket answers there, or the request was refused.
    """
    candidates = _kubeconfigs(kubeconfig)
    for config in candidates:
        try:
            path = control_path(config)
        except ControlError:
            continue
        if not path.exists():
            continue
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(os.fspath(path))
            sock.sendall(json.dumps(message).encode() + b"\n")
            data = _read_line(sock)
        except (OSError, ValueError) as exc:
            raise ControlError(f"the sandbox control socket {path} did not answer: {exc}") from None
        finally:
            sock.close()
        try:
            answer = json.loads(data)
        except ValueError:
            raise ControlError(f"the sandbox control socket {path} answered {data[:200]!r}") from None
        if not isinstance(answer, dict) or not answer.get("ok"):
            error = answer.get("error") if isinstance(answer, dict) else answer
            raise ControlError(f"the sandbox refused: {error}")
        return answer
    raise ControlError(
        f"no jupyter-k8stty sandbox control socket beside {os.pathsep.join(candidates)}: "
        "only a sandbox started by `jupyter-k8stty demo` (or with a ControlServer) can be "
        "restarted from here. On a real cluster, drop the network for a few seconds instead.")


def _terminals() -> list[Any]:
    """Return the terminals open in this process (a kernel's), if the widget is loaded."""
    if "jupyter_k8stty.widget.terminal" not in sys.modules:
        return []
    from jupyter_k8stty.widget.cells import live
    from jupyter_k8stty.widget.terminal import Terminal

    return [item for item in live() if isinstance(item, Terminal)]


def _wait(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)


def restart_sandbox(downtime: float = 3.0, *, kubeconfig: str | os.PathLike[str] | None = None,
                    wait: float = 30.0) -> float:
    """Restart the sandbox behind ``kubeconfig`` (``KUBECONFIG``) with ``downtime`` seconds of nothing.

    Every connection to its API server drops and every exec process is killed, like an
    API server (or the node behind it) going away; for ``downtime`` seconds nothing
    listens, then it serves again on the same address, with the same credentials and
    pods. Terminals reconnect by themselves.

    In a kernel, the terminals it shows are waited for (``wait`` seconds at most each
    time): first those still making their first connection, since a first connection
    that fails is never retried (with **Run All**, the terminal of the cell above may
    still be starting); then, after the restart, those that were connected, until each
    has reconnected (or given up).

    Returns:
        The seconds the API server was away.

    Raises:
        ControlError: no sandbox there (a real cluster), or it could not restart.
    """
    if isinstance(downtime, bool) or not isinstance(downtime, (int, float)) \
            or not 0 <= downtime <= MAX_DOWNTIME:
        raise ControlError(f"downtime must be 0 to {MAX_DOWNTIME:g} seconds, got {downtime!r}")
    terminals = _terminals()
    _wait(lambda: not [t for t in terminals if t.status in ("connecting", "waiting")], wait)
    connected = [(t, t.session) for t in terminals if t.status == "connected"]
    answer = request({"action": "restart", "downtime": downtime}, kubeconfig=kubeconfig,
                     timeout=downtime + ANSWER_MARGIN)

    def reconnected(terminal: Any, before: Any) -> bool:
        if terminal.status in ("error", "exited", "closed"):
            return True
        return terminal.status == "connected" and terminal.session is not before

    _wait(lambda: all(reconnected(t, before) for t, before in connected), wait)
    return float(answer.get("seconds", downtime))


def drop_connections(*, kubeconfig: str | os.PathLike[str] | None = None) -> None:
    """Hang up every exec and attach connection of the sandbox, without a status, like a network drop.

    Raises:
        ControlError: no sandbox there (a real cluster).
    """
    request({"action": "drop"}, kubeconfig=kubeconfig)
