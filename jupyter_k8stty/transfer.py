"""Copy files and folders to and from a pod, like ``kubectl cp``: tar over exec.

``copy_to`` streams a tar archive, built on the fly with :mod:`tarfile` in stream
mode, into ``tar -x`` in the pod and closes stdin with the v5 close message.
``copy_from`` runs ``tar -c`` in the pod and extracts its output as it arrives, with
flow control, so neither side ever holds a whole file in memory.

Paths follow ``cp -r``: when the destination is an existing directory the source
goes inside it under its own name; otherwise the destination is the new name. A
remote destination ending in ``/`` is a directory (created if needed).

Extraction is safe: members that would land outside the destination (absolute
paths, ``..``, links pointing out), devices and FIFOs are skipped with a warning
(``tarfile``'s ``data`` filter). The pod needs ``sh`` and ``tar`` (busybox is enough).
"""

from __future__ import annotations

import os
import posixpath
import sys
import tarfile
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable
from pathlib import Path

from .errors import K8sTTYError, StreamError
from .exec.protocol import STDOUT_CHANNEL, V5_PROTOCOL
from .exec.session import ExecSession

__all__ = ["CopyError", "copy_from", "copy_to"]

#: Bytes handed to the session per write (tar stream buffer size).
STREAM_CHUNK: int = 256 * 1024
#: Unread archive bytes from the pod after which its output is paused (flow control).
RECEIVE_WINDOW: int = 8 * 1024 * 1024
#: Stderr kept for error messages.
_STDERR_LIMIT = 64 * 1024
#: Seconds between two updates of the text progress line.
_PROGRESS_INTERVAL = 0.25

ProgressCallback = Callable[[int, "int | None"], None]

_NO_TAR_MARK = "k8stty-cp: tar: not found"
_READY_INTO = "K8STTY-CP-INTO"
_READY_AS = "K8STTY-CP-AS"

# $1 = destination. Prints which of the two cp cases applies, then becomes tar -x.
_RECEIVE_SCRIPT = f"""\
command -v tar >/dev/null 2>&1 || {{ echo "{_NO_TAR_MARK}" >&2; exit 127; }}
dest=$1
case $dest in */) mkdir -p -- "$dest" || exit 1;; esac
if [ -d "$dest" ]; then
  cd -- "$dest" || exit 1
  echo {_READY_INTO}
else
  case $dest in */*) dir=${{dest%/*}}; [ -n "$dir" ] || dir=/;; *) dir=.;; esac
  mkdir -p -- "$dir" && cd -- "$dir" || exit 1
  echo {_READY_AS}
fi
exec tar -xmf -
"""

# $1 = parent folder, $2 = name in it, $3 = the path as the user wrote it.
_SEND_SCRIPT = f"""\
command -v tar >/dev/null 2>&1 || {{ echo "{_NO_TAR_MARK}" >&2; exit 127; }}
if [ ! -e "$1/$2" ] && [ ! -L "$1/$2" ]; then echo "$3: No such file or directory" >&2; exit 2; fi
cd -- "$1" && exec tar -cf - -- "$2"
"""

_NO_TAR_MESSAGE = "the container has no tar; copying needs tar in the image (as kubectl cp does)"


class CopyError(K8sTTYError):
    """A copy failed in the pod: no ``tar``, no such path, no space, no permission...

    Attributes:
        exit_code: the exit code of the pod's side (``127``: no ``tar``), or ``None``.
        stderr: what the pod's side wrote to stderr.
    """

    def __init__(self, message: str, *, exit_code: int | None = None, stderr: bytes = b""):
        super().__init__(message)
        self.exit_code = exit_code
        self.stderr = stderr


# -- shared pieces ------------------------------------------------------------------------


class _Stderr:
    """Collects the pod side's stderr (bounded) and watches stdout for the ready line."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.stdout = bytearray()
        self.ready = threading.Event()

    def add(self, data: bytes) -> None:
        room = _STDERR_LIMIT - len(self.data)
        if room > 0:
            self.data += data[:room]

    def text(self) -> str:
        return " ".join(bytes(self.data).decode("utf-8", errors="replace").split())


def _failure(session: ExecSession, stderr: _Stderr, what: str) -> CopyError:
    """Return the error for a session that did not end with exit code 0."""
    text = stderr.text()
    if session.status == "exited":
        code = session.exit_code
        if _NO_TAR_MARK in text or (code == 127 and "tar" in text):
            return CopyError(f"{_NO_TAR_MESSAGE} ({session.name})", exit_code=code,
                             stderr=bytes(stderr.data))
        detail = text.replace(_NO_TAR_MARK, "").strip() or f"exit code {code}"
        return CopyError(f"{what} failed in {session.name}: {detail}", exit_code=code,
                         stderr=bytes(stderr.data))
    error = session.error or f"the session {session.status}"
    if "executable file not found" in error and '"sh"' in error:
        return CopyError(f"the container has no sh; copying needs sh and tar in the image "
                         f"({session.name})")
    return CopyError(f"{what} failed: {' '.join(error.split())}")


class TextProgress:
    """A progress callback that keeps one carriage-return-updated line on stderr (no tqdm needed)."""

    def __init__(self, label: str, stream=None) -> None:
        self.label = label
        self.stream = stream
        self.last = 0.0
        self.shown = False
        self.latest: tuple[int, int | None] | None = None

    def __call__(self, done: int, total: int | None) -> None:
        self.latest = (done, total)
        now = time.monotonic()
        if now - self.last < _PROGRESS_INTERVAL and (total is None or done < total):
            return
        self.last = now
        stream = self.stream or sys.stderr
        if total:
            text = f"{self.label}: {_size(done)} of {_size(total)} ({100 * done // total}%)"
        else:
            text = f"{self.label}: {_size(done)}"
        stream.write(f"\r{text}")
        stream.flush()
        self.shown = True

    def finish(self) -> None:
        if self.latest is not None:
            self.last = 0.0
            done, total = self.latest
            self(done, total if total else None)
        if self.shown:
            stream = self.stream or sys.stderr
            stream.write("\n")
            stream.flush()


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"  # pragma: no cover


def _progress_callback(progress: ProgressCallback | bool | None, label: str):
    if progress is True:
        return TextProgress(label)
    if progress is False or progress is None:
        return None
    if not callable(progress):
        raise TypeError("progress must be a callable(bytes_done, bytes_total) or True")
    return progress


# -- copy_to --------------------------------------------------------------------------------


class _SessionWriter:
    """A write-only file object that sends everything to the pod's stdin."""

    def __init__(self, session: ExecSession):
        self.session = session
        self.sent = 0

    def write(self, data: bytes) -> int:
        self.session.write(bytes(data))
        self.sent += len(data)
        return len(data)

    def flush(self) -> None:
        pass


class _CountingReader:
    """Wraps a local file and reports progress as ``tarfile`` reads it."""

    def __init__(self, raw, report: Callable[[int], None]):
        self.raw = raw
        self.report = report

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        if data:
            self.report(len(data))
        return data


def _local_entries(root: Path) -> tuple[list[tuple[Path, str]], int]:
    """``[(path, relative name)]`` of ``root`` (a file or a folder, walked) and the bytes in it.

    ``root`` itself is followed when it is a symbolic link; links inside a folder are
    copied as links.
    """
    root = root.resolve() if root.is_symlink() else root
    if not root.is_dir():
        return [(root, "")], root.stat().st_size
    entries: list[tuple[Path, str]] = [(root, "")]
    total = 0
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        base = Path(folder)
        for name in [*dirs, *sorted(files)]:
            path = base / name
            entries.append((path, path.relative_to(root).as_posix()))
            if name in files and not path.is_symlink() and path.is_file():
                total += path.stat().st_size
    return entries, total


def copy_to(
    pod: str,
    local_path: str | os.PathLike[str],
    remote_path: str,
    *,
    namespace: str | None = None,
    container: str | None = None,
    context: str | None = None,
    kubeconfig: str | None = None,
    progress: ProgressCallback | bool | None = None,
) -> int:
    """Copy a local file or folder into a pod (like ``kubectl cp LOCAL POD:REMOTE``).

    Args:
        pod: the pod's name, or a target such as ``deploy/web`` (one pod is picked).
        local_path: the file or folder to send.
        remote_path: where it goes. An existing folder (or a path ending in ``/``)
            receives it under its own name; any other path is its new name (missing
            parent folders are created). Relative paths start at the container's
            working directory.
        namespace: defaults to the context's namespace.
        container: defaults to the pod's default container.
        context: kubeconfig context.
        kubeconfig: kubeconfig path(s).
        progress: ``progress(bytes_done, bytes_total)`` as file data is sent, or
            ``True`` for a text progress line on stderr.

    Returns:
        The number of bytes of file data sent.

    Raises:
        FileNotFoundError: ``local_path`` does not exist.
        CopyError: the pod has no ``tar`` (or ``sh``), or ``tar`` failed there (the
            message carries its complaint, e.g. no space left, permission denied).
        ApiError, ConfigError, StreamError: as for :func:`~jupyter_k8stty.run`.
    """
    source = Path(local_path)
    if not source.exists() and not source.is_symlink():
        raise FileNotFoundError(f"no such local file or folder: {source}")
    if not remote_path:
        raise ValueError("remote_path must not be empty")
    entries, total = _local_entries(source)
    report = _progress_callback(progress, f"copying {source.name or source} to {pod}")
    session = ExecSession(
        pod, ["sh", "-c", _RECEIVE_SCRIPT, "k8stty-cp", remote_path], namespace=namespace,
        container=container, tty=False, stdin=True, context=context, kubeconfig=kubeconfig,
    )
    side = _Stderr()

    def on_output(channel: int, data: bytes) -> None:
        if channel == STDOUT_CHANNEL:
            if not side.ready.is_set():
                side.stdout += data
                if b"\n" in side.stdout:
                    side.ready.set()
        else:
            side.add(data)

    session.on_output(on_output)
    session.on_exit(lambda _s: side.ready.set())
    session.start()
    sent = 0
    try:
        if session.protocol != V5_PROTOCOL:
            raise StreamError(
                "copying to a pod needs exec protocol v5 (Kubernetes 1.30+) to close stdin; "
                f"the API server only speaks {session.protocol}"
            )
        side.ready.wait()
        marker = bytes(side.stdout).split(b"\n", 1)[0].decode("ascii", errors="replace").strip()
        if marker not in (_READY_INTO, _READY_AS):
            session.wait(5)
            raise _failure(session, side, "copying")
        top = (source.resolve().name if marker == _READY_INTO
               else posixpath.basename(remote_path.rstrip("/")))
        if not top or top in (".", ".."):
            raise ValueError(f"cannot name the copy of {source} in {remote_path!r}")

        def advance(n: int) -> None:
            nonlocal sent
            sent += n
            if report is not None:
                report(sent, total)

        writer = _SessionWriter(session)
        try:
            with tarfile.open(fileobj=writer, mode="w|", bufsize=STREAM_CHUNK) as archive:
                for path, rel in entries:
                    _add(archive, path, f"{top}/{rel}" if rel else top, advance)
        except StreamError:
            # tar in the pod stopped reading: it failed, or (exit 0) it saw the end
            # of the archive before the last padding arrived.
            session.wait(10)
            if session.status != "exited":
                raise
            if session.exit_code != 0:
                raise _failure(session, side, "copying") from None
        try:
            session.close_stdin()
        except StreamError:
            # tar may already have exited after the end-of-archive blocks.
            if session.wait(10) is None and not session.done:
                raise
        code = session.wait()
        if code != 0:
            raise _failure(session, side, "copying")
    finally:
        if not session.done:
            session.close()
        if isinstance(report, TextProgress):
            report.finish()
    return sent


def _add(archive: tarfile.TarFile, path: Path, arcname: str, advance: Callable[[int], None]) -> None:
    try:
        info = archive.gettarinfo(str(path), arcname)
    except FileNotFoundError:  # vanished while walking
        return
    if info is None or not (info.isreg() or info.isdir() or info.issym()):
        return  # sockets, FIFOs, devices: not copied (kubectl cp skips them too)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if info.isreg():
        with open(path, "rb") as f:
            archive.addfile(info, _CountingReader(f, advance))
    else:
        archive.addfile(info)


# -- copy_from ------------------------------------------------------------------------------


class _OutputPipe:
    """A blocking, read-only file object over the session's stdout chunks.

    Bytes are acknowledged to the session as they are read, so the session stops
    reading the socket while :data:`RECEIVE_WINDOW` bytes wait here.
    """

    def __init__(self, session: ExecSession, report: Callable[[int], None]):
        self.session = session
        self.report = report
        self.chunks: deque[bytes] = deque()
        self.cond = threading.Condition()
        self.closed = False
        self.offset = 0

    def feed(self, data: bytes) -> None:
        with self.cond:
            self.chunks.append(data)
            self.cond.notify()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def read(self, size: int = -1) -> bytes:
        with self.cond:
            while not self.chunks and not self.closed:
                self.cond.wait()
            if not self.chunks:
                return b""
            if size is None or size < 0:
                data = b"".join(self.chunks)
                self.chunks.clear()
            else:
                parts = []
                need = size
                while self.chunks and need > 0:
                    chunk = self.chunks[0]
                    if len(chunk) <= need:
                        parts.append(self.chunks.popleft())
                        need -= len(chunk)
                    else:
                        parts.append(chunk[:need])
                        self.chunks[0] = chunk[need:]
                        need = 0
                data = b"".join(parts)
        self.offset += len(data)
        self.session.acknowledge(len(data))
        self.report(len(data))
        return data

    def drain(self) -> None:
        while self.read(STREAM_CHUNK):
            pass


def copy_from(
    pod: str,
    remote_path: str,
    local_path: str | os.PathLike[str],
    *,
    namespace: str | None = None,
    container: str | None = None,
    context: str | None = None,
    kubeconfig: str | None = None,
    progress: ProgressCallback | bool | None = None,
) -> int:
    """Copy a file or folder out of a pod (like ``kubectl cp POD:REMOTE LOCAL``).

    Args:
        pod: the pod's name, or a target such as ``deploy/web`` (one pod is picked).
        remote_path: the file or folder in the pod (relative paths start at the
            container's working directory).
        local_path: where it goes. An existing folder receives it under its own name;
            any other path is its new name (missing parent folders are created).
        namespace: defaults to the context's namespace.
        container: defaults to the pod's default container.
        context: kubeconfig context.
        kubeconfig: kubeconfig path(s).
        progress: ``progress(bytes_received, None)`` as the archive arrives (the size
            is not known in advance), or ``True`` for a text progress line on stderr.

    Returns:
        The number of bytes of file data written locally.

    Raises:
        CopyError: the pod has no ``tar`` (or ``sh``), or the remote path cannot be
            read (the message carries tar's complaint, e.g. no such file).
        ApiError, ConfigError, StreamError: as for :func:`~jupyter_k8stty.run`.

    Members that would escape the destination are skipped with a ``UserWarning``.
    """
    if not remote_path:
        raise ValueError("remote_path must not be empty")
    trimmed = remote_path.rstrip("/") or "/"
    parent, base = posixpath.split(trimmed)
    if trimmed == "/" or base in (".", ".."):
        parent, base = trimmed, "."
    parent = parent or "."
    dest = Path(local_path).absolute()
    if dest.is_dir():
        final = dest if base == "." else dest / base
    else:
        final = dest
    root = final.parent
    root.mkdir(parents=True, exist_ok=True)
    report = _progress_callback(progress, f"copying {remote_path} from {pod}")
    session = ExecSession(
        pod, ["sh", "-c", _SEND_SCRIPT, "k8stty-cp", parent, base, remote_path], namespace=namespace,
        container=container, tty=False, stdin=False, context=context, kubeconfig=kubeconfig,
        flow_window=RECEIVE_WINDOW,
    )
    side = _Stderr()
    received = 0

    def advance(n: int) -> None:
        nonlocal received
        received += n
        if report is not None:
            report(received, None)

    pipe = _OutputPipe(session, advance)

    def on_output(channel: int, data: bytes) -> None:
        if channel == STDOUT_CHANNEL:
            pipe.feed(data)
        else:
            side.add(data)
            session.acknowledge(len(data))

    session.on_output(on_output)
    session.on_exit(lambda _s: pipe.close())
    session.start()
    skipped: list[str] = []
    written = 0
    try:
        try:
            with tarfile.open(fileobj=pipe, mode="r|", bufsize=STREAM_CHUNK) as archive:
                for member in archive:
                    target = _local_name(member.name, base, final.name)
                    if target is None:
                        skipped.append(member.name)
                        continue
                    renamed = _rename(member, target, base, final.name)
                    try:
                        safe = tarfile.data_filter(renamed, str(root))
                    except tarfile.FilterError as exc:
                        skipped.append(f"{member.name} ({exc})")
                        continue
                    archive.extract(safe, str(root), filter="fully_trusted")
                    if safe.isreg():
                        written += safe.size
        except tarfile.TarError as exc:
            pipe.drain()
            session.wait(10)
            if session.status != "exited" or session.exit_code != 0:
                raise _failure(session, side, f"reading {remote_path}") from None
            raise CopyError(f"the archive from {session.name} is damaged: {exc}") from None
        pipe.drain()
        session.wait()
        if session.status != "exited" or session.exit_code != 0:
            raise _failure(session, side, f"reading {remote_path}")
    finally:
        if not session.done:
            session.close()
        if isinstance(report, TextProgress):
            report.finish()
    if skipped:
        shown = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        warnings.warn(f"copy_from skipped {len(skipped)} unsafe archive member(s): {shown}",
                      UserWarning, stacklevel=2)
    return written


def _local_name(name: str, base: str, top: str) -> str | None:
    """Map an archive name under ``base`` to the same path under ``top``; ``None`` if outside."""
    while name.startswith("./"):
        name = name[2:]
    name = name.rstrip("/")
    if base == ".":
        rel = "" if name in ("", ".") else name
    elif name == base:
        rel = ""
    elif name.startswith(base + "/"):
        rel = name[len(base) + 1:]
    else:
        return None
    return f"{top}/{rel}" if rel else top


def _rename(member: tarfile.TarInfo, target: str, base: str, top: str) -> tarfile.TarInfo:
    changes: dict = {"name": target, "deep": False}
    if member.islnk():
        # Hard link targets are archive names too: map them the same way.
        changes["linkname"] = _local_name(member.linkname, base, top) or member.linkname
    return member.replace(**changes)
