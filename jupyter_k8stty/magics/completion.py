"""Tab completion for ``%k8sexec`` / ``%%k8sexec`` lines: pod and node names, kinds, namespaces.

Which flags take a value comes from the magics' parsers, and the ``KIND/`` prefixes
from :data:`~jupyter_k8stty.exec.kinds.KINDS`, so a new flag or kind completes
without a change here.
"""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from ..exec.kinds import KINDS, NODE, POD, kind_for
from ..exec.profiles import PROFILES

__all__ = ["COMPLETION_TIMEOUT", "COMPLETION_TTL", "complete_line", "register_completer"]

#: Seconds a list of names fetched for completion is reused.
COMPLETION_TTL = 10.0
#: Seconds completion may wait for the cluster before giving up (a slow cluster must
#: not freeze the notebook's Tab key).
COMPLETION_TIMEOUT = 2.0

_completion_cache: dict[tuple, tuple[float, list[str]]] = {}


@lru_cache(maxsize=1)
def _value_flags() -> frozenset[str]:
    from .flags import value_flags
    from .script import cell_parser
    from .terminal import line_parser

    return value_flags(line_parser(), cell_parser())


def _option_value(tokens: list[str], *names: str) -> str | None:
    for i, token in enumerate(tokens):
        for name in names:
            if token == name and i + 1 < len(tokens):
                return tokens[i + 1]
            if name.startswith("--") and token.startswith(name + "="):
                return token.split("=", 1)[1]
    return None


def _cached(key: tuple, fetch: Callable[[], list[str]]) -> list[str]:
    now = time.monotonic()
    hit = _completion_cache.get(key)
    if hit is not None and now - hit[0] < COMPLETION_TTL:
        return hit[1]
    names = _bounded(fetch)
    _completion_cache[key] = (now, names)
    return names


def _bounded(fetch: Callable[[], list[str]]) -> list[str]:
    """``fetch()`` within :data:`COMPLETION_TIMEOUT` (plus a little), else ``[]``.

    The connection's timeout bounds only connecting: a server that accepts and never
    answers would hold the Tab key for the read timeout, so the fetch runs on a daemon
    thread that is left behind.
    """
    result: list[list[str]] = []

    def run() -> None:
        try:
            result.append(fetch())
        except Exception:  # completion never raises: no cluster means no suggestions
            result.append([])

    thread = threading.Thread(target=run, name="k8stty-completion", daemon=True)
    thread.start()
    thread.join(COMPLETION_TIMEOUT + 0.5)
    return result[0] if result else []


def complete_line(line: str) -> list[str]:
    """Return completions for the last word of a ``%k8sexec`` / ``%%k8sexec`` line.

    Pod names (and ``KIND/`` prefixes) for the target, node names after ``node/``,
    namespaces after ``-n``, debug profiles after ``--profile``; the names come from the
    current context (or ``--context``/``--kubeconfig``/``-n`` on the line), are cached for
    :data:`COMPLETION_TTL` seconds and asked for at most :data:`COMPLETION_TIMEOUT`.
    """
    from ..exec.listing import list_namespaces, list_node_names, list_pods

    text = line.split(None, 1)[1] if len(line.split(None, 1)) > 1 else ""
    ends_with_space = line.endswith((" ", "\t"))
    try:
        tokens = shlex.split(text)
    except ValueError:
        return []
    if "--" in tokens:
        return []  # the command part: nothing to suggest
    word = "" if ends_with_space or not tokens else tokens[-1]
    before = tokens if ends_with_space else tokens[:-1]
    context = _option_value(before, "--context")
    kubeconfig = _option_value(before, "--kubeconfig")
    namespace = _option_value(before, "-n", "--namespace")
    where = {"context": context, "kubeconfig": kubeconfig, "impersonate": _option_value(before, "--as")}
    previous = before[-1] if before else ""
    if previous in ("-n", "--namespace"):
        names = _cached(("ns", *where.values()), lambda: list_namespaces(
            connect_timeout=COMPLETION_TIMEOUT, **where))
        return [n for n in names if n.startswith(word)]
    if previous == "--profile" and line.split(None, 1)[0] == "%k8sexec":  # %%k8sexec has none
        return [p for p in sorted(PROFILES) if p.startswith(word)]
    if word.startswith("-") or previous in _value_flags():
        return []
    prefix, slash, rest = word.rpartition("/")
    if slash and kind_for(prefix) is NODE:
        nodes = _cached(("nodes", *where.values()), lambda: list_node_names(
            connect_timeout=COMPLETION_TIMEOUT, **where))
        return [f"{prefix}/{n}" for n in nodes if n.startswith(rest)]
    pods = _cached(("pods", namespace, *where.values()), lambda: [
        p["metadata"]["name"] for p in list_pods(namespace, connect_timeout=COMPLETION_TIMEOUT, **where)])
    if slash:
        if kind_for(prefix) is POD:
            return [f"{prefix}/{p}" for p in sorted(pods) if p.startswith(rest)]
        return []
    matches = [p for p in sorted(pods) if p.startswith(word)]
    if word:
        matches += [k.prefix for k in KINDS if k.prefix.startswith(word)]
    return matches


def _completer(_shell: Any, event: Any) -> list[str]:
    return complete_line(getattr(event, "line", "") or "")


def register_completer(ipython: Any) -> None:
    """Complete pod names after ``%k8sexec `` and ``%%k8sexec `` in ``ipython``."""
    for command in ("%k8sexec", "%%k8sexec"):
        ipython.set_hook("complete_command", _completer, str_key=command)
