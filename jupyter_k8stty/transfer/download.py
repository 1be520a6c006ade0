"""``copy_from``: a file or folder out of a pod, ``tar -c`` there extracted here as it arrives."""

from __future__ import annotations

import os
import tarfile
import warnings
from pathlib import Path
from typing import Any

from typing_extensions import Unpack

from ..errors import ArgumentError, CopyError
from ..exec.checks import check_text
from ..exec.session import ExecSession
from ..exec.target import ExecTarget, TargetArgs
from .pod_side import SEND_SCRIPT, PodSide, failure
from .progress import ProgressCallback, finish, progress_callback
from .streams import EXIT_GRACE, STREAM_CHUNK, OutputPipe, split_path

__all__ = ["RECEIVE_WINDOW", "copy_from"]

#: Unread archive bytes from the pod after which its output is paused (flow control).
RECEIVE_WINDOW: int = 8 * 1024 * 1024


def copy_from(
    target: ExecTarget | str | None,
    remote_path: str,
    local_path: str | os.PathLike[str],
    *,
    progress: ProgressCallback | bool | None = None,
    **where: Unpack[TargetArgs],
) -> int:
    """Copy a file or folder out of a pod (like ``kubectl cp POD:REMOTE LOCAL``).

    Members that would escape the destination (absolute paths, ``..``, links pointing
    out), devices and FIFOs are skipped with a ``UserWarning`` (``tarfile``'s ``data``
    filter).

    Args:
        target: an :class:`~jupyter_k8stty.exec.target.ExecTarget`, or the pod's name or
            a target such as ``deploy/web`` (one pod is picked), with ``where``.
        remote_path: the file or folder in the pod (relative paths start at the
            container's working directory).
        local_path: where it goes. An existing folder receives it under its own name;
            any other path is its new name (missing parent folders are created).
        progress: a progress bar (``tqdm.auto``: a widget in a notebook, text on
            stderr elsewhere) with bytes, rate and time left, unless ``False``; or a
            callable ``progress(bytes_received, bytes_total)`` called as the archive
            arrives. The total is the archive's size as estimated in the pod with ``du``
            before ``tar`` starts (``None`` when the image has no ``du``).
        **where: :class:`~jupyter_k8stty.exec.target.TargetArgs` (``namespace``,
            ``container``, ``context``, ``kubeconfig``, ``impersonate``, ...).

    Returns:
        The number of bytes of file data written locally.

    Raises:
        ArgumentError: an empty or invalid ``remote_path`` or target (before any request).
        CopyError: the pod has no ``tar`` (or ``sh``), or the remote path cannot be
            read (the message carries tar's complaint, e.g. no such file).
        ApiError, ConfigError, StreamError: as for :func:`~jupyter_k8stty.run`.

    Example:
        >>> copy_from("web-0", "/var/log/app", "logs/", namespace="prod")
        >>> copy_from("web-0", "/data/big.bin", ".", progress=False)  # no bar
    """
    if not remote_path:
        raise ArgumentError("remote_path must not be empty")
    check_text(remote_path, "remote_path")
    parent, base = split_path(remote_path)
    session = ExecSession(target, ["sh", "-c", SEND_SCRIPT, "k8stty-cp", parent, base, remote_path],
                          tty=False, stdin=False, flow_window=RECEIVE_WINDOW, **where)
    dest = Path(local_path).absolute()
    final = (dest if base == "." else dest / base) if dest.is_dir() else dest
    root = final.parent
    root.mkdir(parents=True, exist_ok=True)
    report = progress_callback(progress, f"{session.pod}:{remote_path}")
    side = PodSide()
    received = 0

    def advance(n: int) -> None:
        nonlocal received
        received += n
        if report is not None:
            report(received, side.estimate)

    pipe = OutputPipe(session, on_read=advance)
    pipe.listen(side)
    session.start()
    ok = False
    try:
        written, skipped = _extract(session, side, pipe, remote_path, base, final, root)
        ok = True
    finally:
        if not session.done:
            session.close()
        finish(report, ok)
    if skipped:
        shown = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        warnings.warn(f"copy_from skipped {len(skipped)} unsafe archive member(s): {shown}",
                      UserWarning, stacklevel=2)
    return written


def _extract(session: ExecSession, side: PodSide, pipe: OutputPipe, remote_path: str, base: str,
             final: Path, root: Path) -> tuple[int, list[str]]:
    """Extract the archive as it arrives; return the file bytes written and the members skipped."""
    skipped: list[str] = []
    written = 0
    try:
        with tarfile.open(fileobj=pipe, mode="r|", bufsize=STREAM_CHUNK) as archive:  # type: ignore[call-overload]
            for member in archive:
                local = _local_name(member.name, base, final.name)
                if local is None:
                    skipped.append(member.name)
                    continue
                renamed = _rename(member, local, base, final.name)
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
        session.wait(EXIT_GRACE)
        if session.status != "exited" or session.exit_code != 0:
            raise failure(session, side, f"reading {remote_path}") from None
        raise CopyError(f"the archive from {session.name} is damaged: {exc}") from None
    pipe.drain()
    session.wait()
    if session.status != "exited" or session.exit_code != 0:
        raise failure(session, side, f"reading {remote_path}")
    return written, skipped


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
    changes: dict[str, Any] = {"name": target, "deep": False}
    if member.islnk():
        # Hard link targets are archive names too: map them the same way.
        changes["linkname"] = _local_name(member.linkname, base, top) or member.linkname
    return member.replace(**changes)
