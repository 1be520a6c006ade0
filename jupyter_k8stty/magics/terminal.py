"""``%k8sexec POD``: open an interactive terminal into a pod under the cell."""

from __future__ import annotations

import argparse
import json
from typing import Any

from IPython.core.error import UsageError

from ..errors import K8sTTYError
from ..exec.kinds import check_namespace
from .flags import (
    MagicArgumentParser,
    add_debug_flags,
    add_target_flags,
    add_terminal_session_flags,
    parse_line,
    split_line,
    target_from_args,
    usage_error,
)

__all__ = ["line_parser", "open_terminal", "parse_options"]

PROG = "%k8sexec"


def line_parser() -> MagicArgumentParser:
    """Return the parser of ``%k8sexec``'s own arguments (the command after ``--`` is split off first)."""
    parser = MagicArgumentParser(
        prog=PROG,
        description="Open an interactive terminal into a pod. Everything after `--` is the "
        "command (default: a login shell, bash else ash else sh).",
    )
    add_target_flags(parser, dest="pod", nargs="?", target_note="omit it, and -l, for a picker",
                     selector_help="label selector: the most active matching pod")
    parser.add_argument("--rows", type=int, default=24, help="terminal height in rows (default 24)")
    add_terminal_session_flags(parser)
    add_debug_flags(parser)
    parser.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE",
        help="an xterm.js option, e.g. screenReaderMode=true or fontSize=15 (repeatable)",
    )
    return parser


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """Turn ``KEY=VALUE`` strings into an xterm.js options dict (values parsed as JSON if they can be).

    Raises:
        UsageError: a pair without ``=``, or a value of the wrong type for xterm.js
            (``fontSize=abc``).
    """
    from ..widget.options import check_options  # the widget (anywidget...) loads on first use

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{PROG}: --option takes KEY=VALUE, got {pair!r}")
        try:
            options[key] = json.loads(raw)
        except ValueError:
            options[key] = raw
    try:
        return check_options(options)
    except (K8sTTYError, ValueError, TypeError) as exc:
        raise usage_error(PROG, f"--option: {exc}") from None


def open_terminal(line: str) -> Any:
    """Run the ``%k8sexec`` line magic: return a :class:`~jupyter_k8stty.Terminal` to display.

    Usage: ``%k8sexec [TARGET | -l SELECTOR] [-n NS] [-c CONTAINER] [--context CTX]
    [--kubeconfig PATH] [--as USER [--as-group GROUP ...]] [--pod-running-timeout S]
    [--rows N] [--option KEY=VALUE ...] [--persist [NAME]] [--record PATH [--record-input]]
    [--debug [IMAGE] [--target CONTAINER] [--profile PROFILE] | --attach] [-- COMMAND ...]``.
    TARGET is ``POD`` or
    ``KIND/NAME`` (``deploy/web``, ``sts/db``, ``svc/web``...), or ``node/NAME`` for a
    shell on a node (a debug pod, deleted when the terminal closes). With neither TARGET nor
    ``-l``, a :class:`PodPicker` is returned. ``-h`` prints the help and returns ``None``.
    """
    own, command = split_line(line, PROG)
    args = parse_line(line_parser(), own)
    if args is None:
        return None
    options = parse_options(args.option)
    from ..widget.options import check_size

    try:
        rows, _ = check_size(args.rows)
    except K8sTTYError as exc:
        raise usage_error(PROG, f"--{exc}") from None
    if args.record_input and args.record is None:
        raise UsageError(f"{PROG}: --record-input goes with --record PATH")
    if args.pod is None and args.selector is None:
        if isinstance(args.debug, str):
            raise UsageError(f"{PROG}: --debug took {args.debug!r} as its IMAGE and no TARGET is "
                             f"left: put the TARGET first ({PROG} POD --debug [IMAGE])")
        if args.persist is not None or args.record is not None:
            raise UsageError(f"{PROG}: --persist and --record need a TARGET or -l SELECTOR")
        if args.debug is not None or args.attach or args.debug_target or args.debug_profile:
            raise UsageError(f"{PROG}: --debug, --target, --profile and --attach need a TARGET "
                             "or -l SELECTOR")
        return _picker(args, command, rows, options)
    target = target_from_args(args, args.pod, PROG)
    from ..widget import Terminal

    try:
        return Terminal(target, command, rows=rows, options=options, persist=args.persist,
                        record=args.record, record_input=args.record_input, attach=args.attach,
                        debug=args.debug, debug_target=args.debug_target,
                        debug_profile=args.debug_profile)
    except (K8sTTYError, ValueError) as exc:
        raise usage_error(PROG, exc) from None


def _picker(args: argparse.Namespace, command: list[str] | None, rows: int,
            options: dict[str, Any]) -> Any:
    from ..widget.picker import PodPicker

    unused = [flag for flag, value in (("-c", args.container), ("--as", args.impersonate),
                                       ("--as-group", args.impersonate_groups),
                                       ("--pod-running-timeout", args.pod_running_timeout))
              if value is not None]
    if unused:
        raise UsageError(f"{PROG}: {', '.join(unused)} need a TARGET or -l SELECTOR "
                         "(the picker chooses the pod and container)")
    try:
        if args.namespace is not None:
            check_namespace(args.namespace)
        return PodPicker(args.namespace, context=args.context, kubeconfig=args.kubeconfig,
                         command=command, rows=rows, options=options)
    except (K8sTTYError, ValueError) as exc:
        raise usage_error(PROG, exc) from None

