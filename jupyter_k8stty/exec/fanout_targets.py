"""Which pods a fan-out runs on: a list of names or targets, or a label selector.

``run_many``'s first argument is:

* a ``list``/``tuple`` of pod names or targets (``"web-0"``, ``"deploy/web"``,
  ``"statefulset/db"``); a workload target stands for all of its pods;
* a ``str`` containing any of ``= ! ( ) ,`` or a space is a label selector
  (``"app=worker"``, ``"tier!=db"``, ``"env in (a,b)"``); any other ``str`` is one
  pod name or target (pod names never contain those characters);
* or ``selector=...`` explicitly (needed for a bare existence selector such as ``"app"``).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import ArgumentError
from .kinds import parse_target

__all__ = ["is_selector", "is_workload_target", "split_pods"]

_SELECTOR_CHARS = frozenset("=!(), ")


def is_selector(text: str) -> bool:
    """Whether ``text`` reads as a label selector rather than a pod name or target."""
    return any(ch in _SELECTOR_CHARS for ch in text)


def is_workload_target(target: str) -> bool:
    """Whether ``target`` is ``KIND/NAME`` for a kind other than pod (it may have many pods).

    Raises:
        TargetError: the target does not parse (unknown kind, invalid name).
    """
    return parse_target(target).spans_pods


def split_pods(pods_or_selector: str | Iterable[str] | None,
               selector: str | None = None) -> tuple[list[str], str | None]:
    """Return ``(pods, selector)`` from :func:`run_many`'s first argument and ``selector``."""
    pods: list[str] = []
    if isinstance(pods_or_selector, str):
        if is_selector(pods_or_selector):
            if selector is not None:
                raise ArgumentError("give one selector, not a selector string and selector=")
            selector = pods_or_selector
        else:
            pods = [pods_or_selector]
    elif pods_or_selector is not None:
        pods = list(pods_or_selector)
    if not pods and selector is None:
        raise ArgumentError("name some pods (a list of names or targets) or a label selector")
    return pods, selector
