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
    parser.add_argument("pod", help="pod name")
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

    Usage: ``%k8sexec POD [-n NS] [-c CONTAINER] [--context CTX] [--kubeconfig PATH]
    [--rows N] [--option KEY=VALUE ...] [-- COMMAND ...]``
    """
    own, command = split_command(line)
    args = _line_parser().parse_args(own)
    options = parse_options(args.option)
    if args.rows < 2 or args.rows > 500:
        raise UsageError("%k8sexec: --rows must be between 2 and 500")
    from ..widget import Terminal

    try:
        return Terminal(
            args.pod,
            command,
            namespace=args.namespace,
            container=args.container,
            context=args.context,
            kubeconfig=args.kubeconfig,
            rows=args.rows,
            options=options,
        )
    except K8sTTYError as exc:
        raise UsageError(f"%k8sexec: {exc}") from None
