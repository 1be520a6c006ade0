"""``%k8sexec POD``: open an interactive terminal into a pod under the cell."""

from __future__ import annotations

import argparse
import json
import shlex
from typing import Any

from IPython.core.error import UsageError

from ..errors import K8sTTYError


class _ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors become one-line IPython usage errors."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}\n{self.format_usage().strip()}")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise UsageError(message or self.format_help())


def _line_parser() -> _ArgumentParser:
    parser = _ArgumentParser(
        prog="%k8sexec",
        description="Open an interactive terminal into a pod. Everything after `--` is the "
        "command (default: a login shell, bash else ash else sh).",
        add_help=True,
    )
    parser.add_argument(
        "pod", nargs="?", default=None,
        help="POD, pod/POD, deploy/NAME, sts/NAME, ds/NAME, rs/NAME, job/NAME or svc/NAME "
        "(omit it, and -l, for a picker)",
    )
    parser.add_argument("-l", "--selector", help="label selector: the most active matching pod")
    parser.add_argument(
        "--pod-running-timeout", type=float, default=60.0, metavar="SECONDS",
        help="how long to wait for a Pending pod (default 60)",
    )
    parser.add_argument("-n", "--namespace", help="namespace (default: the context's)")
    parser.add_argument("-c", "--container", help="container (default: the pod's default container)")
    parser.add_argument("--context", help="kubeconfig context (default: the current one)")
    parser.add_argument("--kubeconfig", help="kubeconfig path (default: $KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--rows", type=int, default=24, help="terminal height in rows (default 24)")
    parser.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE",
        help="an xterm.js option, e.g. screenReaderMode=true or fontSize=15 (repeatable)",
    )
    return parser


def split_command(line: str) -> tuple[list[str], list[str] | None]:
    """Split a magic line into its own arguments and the command after ``--``."""
    try:
        tokens = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"%k8sexec: cannot parse the line: {exc}") from None
    if "--" in tokens:
        at = tokens.index("--")
        return tokens[:at], tokens[at + 1:] or None
    return tokens, None


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """Turn ``KEY=VALUE`` strings into an xterm.js options dict (values parsed as JSON if they can be)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"%k8sexec: --option takes KEY=VALUE, got {pair!r}")
        try:
            options[key] = json.loads(raw)
        except ValueError:
            options[key] = raw
    return options


def open_terminal(line: str) -> Any:
    """Run the ``%k8sexec`` line magic: return a :class:`~jupyter_k8stty.Terminal` to display.

    Usage: ``%k8sexec [TARGET | -l SELECTOR] [-n NS] [-c CONTAINER] [--context CTX]
    [--kubeconfig PATH] [--pod-running-timeout S] [--rows N] [--option KEY=VALUE ...]
    [-- COMMAND ...]``. TARGET is ``POD`` or ``KIND/NAME`` (``deploy/web``, ``sts/db``,
    ``svc/web``...). With neither TARGET nor ``-l``, a :class:`PodPicker` is returned.
    """
    own, command = split_command(line)
    args = _line_parser().parse_args(own)
    options = parse_options(args.option)
    if args.rows < 2 or args.rows > 500:
        raise UsageError("%k8sexec: --rows must be between 2 and 500")
    from ..widget import Terminal

    try:
        if args.pod is None and args.selector is None:
            from ..widget.picker import PodPicker

            return PodPicker(args.namespace, context=args.context, kubeconfig=args.kubeconfig,
                             command=command, rows=args.rows, options=options)
        return Terminal(
            args.pod,
            command,
            namespace=args.namespace,
            container=args.container,
            context=args.context,
            kubeconfig=args.kubeconfig,
            rows=args.rows,
            options=options,
            selector=args.selector,
            pod_running_timeout=args.pod_running_timeout,
        )
    except (K8sTTYError, ValueError) as exc:
        raise UsageError(f"%k8sexec: {exc}") from None


# ---- tab completion ----------------------------------------------------------------------

#: Seconds a list of names fetched for completion is reused.
COMPLETION_TTL = 10.0
#: Seconds completion may wait for the cluster before giving up (a slow cluster must
#: not freeze the notebook's Tab key).
COMPLETION_TIMEOUT = 2.0

_completion_cache: dict[tuple, tuple[float, list[str]]] = {}
_KIND_PREFIXES = ("pod/", "deploy/", "sts/", "ds/", "rs/", "job/", "svc/")


def _option_value(tokens: list[str], *names: str) -> str | None:
    for i, token in enumerate(tokens):
        for name in names:
            if token == name and i + 1 < len(tokens):
                return tokens[i + 1]
            if name.startswith("--") and token.startswith(name + "="):
                return token.split("=", 1)[1]
    return None


def _cached(key: tuple, fetch: Any) -> list[str]:
    import time

    now = time.monotonic()
    hit = _completion_cache.get(key)
    if hit is not None and now - hit[0] < COMPLETION_TTL:
        return hit[1]
    try:
        names = fetch()
    except Exception:  # completion never raises: no cluster means no suggestions
        names = []
    _completion_cache[key] = (now, names)
    return names


def complete_line(line: str) -> list[str]:
    """Return completions for the last word of a ``%k8sexec`` / ``%%k8sexec`` line.

    Pod names (and ``KIND/`` prefixes) for the target, namespaces after ``-n``; the
    names come from the current context (or ``--context``/``--kubeconfig``/``-n`` on
    the line) and are cached for :data:`COMPLETION_TTL` seconds.
    """
    from ..exec.resolve import list_namespaces, list_pods

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
    previous = before[-1] if before else ""
    if previous in ("-n", "--namespace"):
        names = _cached(("ns", context, kubeconfig), lambda: list_namespaces(
            context=context, kubeconfig=kubeconfig, connect_timeout=COMPLETION_TIMEOUT))
        return [n for n in names if n.startswith(word)]
    takes_value = ("-c", "--container", "-l", "--selector", "--context", "--kubeconfig",
                   "--rows", "--option", "--pod-running-timeout", "--shell", "--out")
    if word.startswith("-") or previous in takes_value:
        return []
    pods = _cached(("pods", context, kubeconfig, namespace), lambda: [
        p["metadata"]["name"] for p in list_pods(
            namespace, context=context, kubeconfig=kubeconfig,
            connect_timeout=COMPLETION_TIMEOUT)])
    prefix, slash, rest = word.rpartition("/")
    if slash:
        if f"{prefix}/" in ("pod/", "pods/", "po/"):
            return [f"{prefix}/{p}" for p in sorted(pods) if p.startswith(rest)]
        return []
    matches = [p for p in sorted(pods) if p.startswith(word)]
    matches += [k for k in _KIND_PREFIXES if k.startswith(word) and word]
    return matches


def _completer(_shell: Any, event: Any) -> list[str]:
    return complete_line(getattr(event, "line", "") or "")


def register_completer(ipython: Any) -> None:
    """Complete pod names after ``%k8sexec `` and ``%%k8sexec `` in ``ipython``."""
    for command in ("%k8sexec", "%%k8sexec"):
        ipython.set_hook("complete_command", _completer, str_key=command)
