"""Copy files and folders to and from a pod, like ``kubectl cp``: tar over exec.

``copy_to`` (:mod:`.upload`) streams a tar archive, built on the fly with
:mod:`tarfile` in stream mode, into ``tar -x`` in the pod and closes stdin with the
v5 close message. ``copy_from`` (:mod:`.download`) runs ``tar -c`` in the pod and
extracts its output as it arrives, with flow control, so neither side ever holds a
whole file in memory. The pod's side (scripts, errors) is in :mod:`.pod_side`, the
progress bar (``tqdm.auto``) in :mod:`.progress`.

Both take an :class:`~jupyter_k8stty.exec.target.ExecTarget`, or a pod name or
``KIND/NAME`` plus the same keyword arguments as :func:`~jupyter_k8stty.run`
(``namespace``, ``container``, ``context``, ``kubeconfig``, ``impersonate`` ...).

Paths follow ``cp -r``: when the destination is an existing directory the source
goes inside it under its own name; otherwise the destination is the new name. A
remote destination ending in ``/`` is a directory (created if needed).

Extraction is safe: members that would land outside the destination (absolute
paths, ``..``, links pointing out), devices and FIFOs are skipped with a warning
(``tarfile``'s ``data`` filter). The pod needs ``sh`` and ``tar`` (busybox is enough).
"""

from ..errors import CopyError
from .download import copy_from
from .progress import ByteProgress, ProgressCallback
from .upload import copy_to

__all__ = ["ByteProgress", "CopyError", "ProgressCallback", "copy_from", "copy_to"]
