"""``copy_to``: a local file or folder into a pod, as a tar stream into ``tar -x`` there."""

from __future__ import annotations

import os
import posixpath
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from typing_extensions import Unpack

from ..errors import ArgumentError
from ..exec.checks import check_text
from ..exec.session import ExecSession
from ..exec.target import ExecTarget, TargetArgs
from .pod_side import READY_AS, READY_INTO, RECEIVE_SCRIPT, PodSide, failure
from .progress import ProgressCallback, finish, progress_callback
from .streams import STREAM_CHUNK, SessionWriter, require_v5, send_archive, watch_receiver

__all__ = ["STREAM_CHUNK", "copy_to"]


class _CountingReader:
    """Wraps a local file and reports progress as ``tarfile`` reads it."""

    def __init__(self, raw: BinaryIO, report: Callable[[int], None]):
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
    target: ExecTarget | str | None,
    local_path: str | os.PathLike[str],
    remote_path: str,
    *,
    progress: ProgressCallback | bool | None = None,
    **where: Unpack[TargetArgs],
) -> int:
    """Copy a local file or folder into a pod (like ``kubectl cp LOCAL POD:REMOTE``).

    Args:
        target: an :class:`~jupyter_k8stty.exec.target.ExecTarget`, or the pod's name or
            a target such as ``deploy/web`` (one pod is picked), with ``where``.
        local_path: the file or folder to send.
        remote_path: where it goes. An existing folder (or a path ending in ``/``)
            receives it under its own name; any other path is its new name (missing
            parent folders are created). Relative paths start at the container's
            working directory.
        progress: a progress bar (``tqdm.auto``: a widget in a notebook, text on
            stderr elsewhere) with bytes, rate and time left, unless ``False``; or a
            callable ``progress(bytes_done, bytes_total)`` called as file data is sent.
        **where: :class:`~jupyter_k8stty.exec.target.TargetArgs` (``namespace``,
            ``container``, ``context``, ``kubeconfig``, ``impersonate``, ...).

    Returns:
        The number of bytes of file data sent.

    Raises:
        FileNotFoundError: ``local_path`` does not exist.
        ArgumentError: an empty or invalid ``remote_path`` or target (before any request).
        CopyError: the pod has no ``tar`` (or ``sh``), or ``tar`` failed there (the
            message carries its complaint, e.g. no space left, permission denied).
        ApiError, ConfigError, StreamError: as for :func:`~jupyter_k8stty.run`.

    Example:
        >>> copy_to("web-0", "data.csv", "/tmp/", namespace="prod")
    """
    source = Path(local_path)
    if not source.exists() and not source.is_symlink():
        raise FileNotFoundError(f"no such local file or folder: {source}")
    if not remote_path:
        raise ArgumentError("remote_path must not be empty")
    check_text(remote_path, "remote_path")
    session = ExecSession(target, ["sh", "-c", RECEIVE_SCRIPT, "k8stty-cp", remote_path],
                          tty=False, stdin=True, **where)
    entries, total = _local_entries(source)
    report = progress_callback(progress, f"{source.name or source} → {session.pod}")
    side = PodSide()
    watch_receiver(session, side)
    session.start()
    sent = 0
    ok = False
    try:
        require_v5(session, "copying to a pod")
        side.ready.wait()
        marker = side.ready_line()
        if marker not in (READY_INTO, READY_AS):
            session.wait(5)
            raise failure(session, side, "copying")
        top = (source.resolve().name if marker == READY_INTO
               else posixpath.basename(remote_path.rstrip("/")))
        if not top or top in (".", ".."):
            raise ArgumentError(f"cannot name the copy of {source} in {remote_path!r}")

        def advance(n: int) -> None:
            nonlocal sent
            sent += n
            if report is not None:
                report(sent, total)

        _send_archive(session, entries, top, advance)
        code = session.wait()
        if code != 0:
            raise failure(session, side, "copying")
        ok = True
    finally:
        if not session.done:
            session.close()
        finish(report, ok)
    return sent


def _send_archive(session: ExecSession, entries: list[tuple[Path, str]], top: str,
                  advance: Callable[[int], None]) -> None:
    """Stream the archive of ``entries`` (named under ``top``) to ``tar -x``, then close stdin."""

    def write() -> None:
        # typeshed wants an IO object; tarfile's stream mode only calls write() and flush().
        with tarfile.open(fileobj=SessionWriter(session), mode="w|",  # type: ignore[call-overload]
                          bufsize=STREAM_CHUNK) as archive:
            for path, rel in entries:
                _add(archive, path, f"{top}/{rel}" if rel else top, advance)

    send_archive(session, write)


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
            archive.addfile(info, _CountingReader(f, advance))  # type: ignore[arg-type]
    else:
        archive.addfile(info)
