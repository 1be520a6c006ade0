"""The pod's side of a copy: the ``sh`` scripts run there, and what their output means.

The scripts need ``sh`` and ``tar`` (busybox is enough). ``copy_to`` runs
:data:`RECEIVE_SCRIPT`, which says on its first line of stdout which ``cp -r`` case
applies and then becomes ``tar -x``; ``copy_from`` runs :data:`SEND_SCRIPT`, which
becomes ``tar -c``.
"""

from __future__ import annotations

import re
import threading

from ..errors import CopyError
from ..exec.platform import WINDOWS_HINT
from ..exec.session import ExecSession

__all__ = ["READY_AS", "READY_INTO", "RECEIVE_SCRIPT", "SEND_SCRIPT", "SIZE_MARK", "PodSide", "failure"]

#: Stderr kept for error messages.
STDERR_LIMIT: int = 64 * 1024

_NO_TAR_MARK = "k8stty-cp: tar: not found"
#: First line of :data:`RECEIVE_SCRIPT`: the destination is a folder, the source goes inside.
READY_INTO = "K8STTY-CP-INTO"
#: First line of :data:`RECEIVE_SCRIPT`: the destination is the copy's new name.
READY_AS = "K8STTY-CP-AS"

#: ``$1`` = destination. Prints which of the two ``cp`` cases applies, then becomes ``tar -x``.
RECEIVE_SCRIPT = f"""\
command -v tar >/dev/null 2>&1 || {{ echo "{_NO_TAR_MARK}" >&2; exit 127; }}
dest=$1
case $dest in */) mkdir -p -- "$dest" || exit 1;; esac
if [ -d "$dest" ]; then
  cd -- "$dest" || exit 1
  echo {READY_INTO}
else
  case $dest in */*) dir=${{dest%/*}}; [ -n "$dir" ] || dir=/;; *) dir=.;; esac
  mkdir -p -- "$dir" && cd -- "$dir" || exit 1
  echo {READY_AS}
fi
exec tar -xmf -
"""

#: First line of :data:`SEND_SCRIPT`'s stderr, when ``du`` can tell: the size of what
#: is sent, the unit of that number (1 for ``du -sb``, 1024 for ``du -sk``) and the count
#: of files and folders, for the progress bar's total.
SIZE_MARK = "K8STTY-CP-SIZE"

#: ``$1`` = parent folder, ``$2`` = name in it, ``$3`` = the path as the user wrote it.
#: Before ``tar`` runs, ``du`` (and ``find`` for a folder) walk the metadata once to
#: estimate the archive's size; a pod without them sends no estimate.
SEND_SCRIPT = f"""\
command -v tar >/dev/null 2>&1 || {{ echo "{_NO_TAR_MARK}" >&2; exit 127; }}
if [ ! -e "$1/$2" ] && [ ! -L "$1/$2" ]; then echo "$3: No such file or directory" >&2; exit 2; fi
cd -- "$1" || exit 1
if s=$(du -sb "./$2" 2>/dev/null); then u=1; elif s=$(du -sk "./$2" 2>/dev/null); then u=1024; else s=; fi
if [ -n "$s" ]; then
  n=1; [ -d "./$2" ] && n=$(find "./$2" 2>/dev/null | wc -l)
  echo "{SIZE_MARK} ${{s%%[!0-9]*}} $u $n" >&2
fi
exec tar -cf - -- "$2"
"""
#: tar pads its output to whole records of this many bytes (GNU tar's and busybox's default).
TAR_RECORD = 10240
_SIZE_RE = re.compile(rf"{SIZE_MARK} (\d+) (\d+) \s*(\d+)\s*\n".encode())

_NO_TAR_MESSAGE = "the container has no tar; copying needs tar in the image (as kubectl cp does)"


class PodSide:
    """Collects the pod side's stderr (bounded) and watches its stdout for the ready line."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.stdout = bytearray()
        self.ready = threading.Event()
        #: The archive's estimated size in bytes, once :data:`SEND_SCRIPT` has said.
        self.estimate: int | None = None

    def add(self, data: bytes) -> None:
        """Keep what fits of a stderr chunk (the size line of :data:`SEND_SCRIPT` is taken out)."""
        room = STDERR_LIMIT - len(self.data)
        if room > 0:
            self.data += data[:room]
        if self.estimate is None and SIZE_MARK.encode() in self.data:
            found = _SIZE_RE.search(self.data)
            if found:
                size, unit, entries = (int(g) for g in found.groups())
                # Each entry has a 512-byte header and is padded to 512 bytes (half a
                # block on average); two zero blocks end the archive; whole records.
                raw = size * unit + entries * 768 + 1024
                self.estimate = -(-raw // TAR_RECORD) * TAR_RECORD
                del self.data[found.start():found.end()]

    def ready_line(self) -> str:
        """Return the first line the receiving script wrote (:data:`READY_INTO`, :data:`READY_AS`)."""
        return bytes(self.stdout).split(b"\n", 1)[0].decode("ascii", errors="replace").strip()

    def text(self) -> str:
        """Return the kept stderr as one line."""
        return " ".join(bytes(self.data).decode("utf-8", errors="replace").split())


def failure(session: ExecSession, side: PodSide, what: str) -> CopyError:
    """Return the error for a session that did not end with exit code 0."""
    text = side.text()
    if session.status == "exited":
        code = session.exit_code
        if _NO_TAR_MARK in text or (code == 127 and "tar" in text):
            return CopyError(f"{_NO_TAR_MESSAGE} ({session.name})", exit_code=code,
                             stderr=bytes(side.data))
        detail = text.replace(_NO_TAR_MARK, "").strip() or f"exit code {code}"
        return CopyError(f"{what} failed in {session.name}: {detail}", exit_code=code,
                         stderr=bytes(side.data))
    error = session.error or f"the session {session.status}"
    if session.pod_os == "windows":
        return CopyError(f"{WINDOWS_HINT} ({session.name})")
    if "executable file not found" in error and '"sh"' in error:
        return CopyError(f"the container has no sh; copying needs sh and tar in the image "
                         f"({session.name})")
    return CopyError(f"{what} failed: {' '.join(error.split())}")
