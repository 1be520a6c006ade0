"""The flags both magics share, declared once, and the checks applied to a magic's line.

``%k8sexec`` and ``%%k8sexec`` say where to exec with kubectl's flags
(:func:`add_target_flags`); :func:`target_from_args` turns them into one
:class:`~jupyter_k8stty.exec.target.ExecTarget`. A new connection option is one flag
here and one field there. Tab completion asks the parsers which flags take a value
(:func:`value_flags`) instead of keeping its own list.

Every argument is checked here, before any request, and a bad one is one
``UsageError`` line (``%%k8sexec: --timeout must be ...``), never a traceback.
"""

from __future__ import annotations

import argparse
import builtins
import keyword
import math
import shlex
from collections.abc import Iterable
from typing import Any

from IPython.core.error import UsageError

from ..errors import K8sTTYError, one_line
from ..exec.checks import check_text, check_timeout
from ..exec.kinds import kinds_help
from ..exec.target import DEFAULT_POD_RUNNING_TIMEOUT, CommonTargetArgs, ExecTarget

__all__ = [
    "MagicArgumentParser",
    "add_debug_flags",
    "add_target_flags",
    "add_terminal_session_flags",
    "check_seconds",
    "check_variables",
    "parse_line",
    "split_line",
    "target_from_args",
    "target_help",
    "usage_error",
    "value_flags",
    "where_from_args",
]


class _HelpShown(Exception):
    """``-h`` printed the help: the magic does nothing else."""


class MagicArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one-line ``UsageError`` s and whose ``-h`` prints once."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Raise a ``UsageError``: the problem and the usage line, no traceback."""
        raise UsageError(f"{self.prog}: {message}\n{self.format_usage().strip()}")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        """Stop parsing; argparse calls this after printing the help for ``-h``."""
        if status == 0:
            # The help is already printed: raising a UsageError with it would show it again.
            raise _HelpShown
        raise UsageError(f"{self.prog}: {one_line(message or 'invalid arguments')}")


def target_help(what: str) -> str:
    """Return the help text of a magic's TARGET argument, with the kinds from :mod:`~..exec.kinds`."""
    return f"POD, or KIND/NAME with KIND one of {kinds_help()}; {what}"


def add_target_flags(parser: argparse.ArgumentParser, *, dest: str, nargs: str, target_note: str,
                     selector_help: str) -> None:
    """Add the TARGET argument and kubectl's flags for where to exec (``-n``, ``-c``, ``--as`` ...).

    The parsed values are read back by :func:`where_from_args` / :func:`target_from_args`.

    Args:
        parser: the magic's parser.
        dest: the attribute the TARGET argument is stored in.
        nargs: how many TARGETs (``?``: at most one, ``*``: any number).
        target_note: the end of TARGET's help (see :func:`target_help`).
        selector_help: the help of ``-l``.
    """
    parser.add_argument(dest, nargs=nargs, metavar="TARGET", help=target_help(target_note))
    parser.add_argument("-l", "--selector", help=selector_help)
    parser.add_argument("-n", "--namespace", help="namespace (default: the context's)")
    parser.add_argument("-c", "--container", help="container (default: the pod's default container)")
    parser.add_argument("--context", help="kubeconfig context (default: the current one)")
    parser.add_argument("--kubeconfig", help="kubeconfig path (default: $KUBECONFIG or ~/.kube/config)")
    parser.add_argument(
        "--pod-running-timeout", type=float, default=None, metavar="SECONDS",
        help=f"how long to wait for a Pending pod; 0 does not wait "
             f"(default {DEFAULT_POD_RUNNING_TIMEOUT:g})",
    )
    parser.add_argument("--as", dest="impersonate", metavar="USER",
                        help="act as this user (kubectl --as; needs impersonation rights)")
    parser.add_argument("--as-group", dest="impersonate_groups", action="append", metavar="GROUP",
                        help="act as this group too, with --as (repeatable)")


def add_terminal_session_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--persist [NAME]``, ``--record PATH`` and ``--record-input`` (``%k8sexec``)."""
    parser.add_argument(
        "--persist", nargs="?", const=True, default=None, metavar="NAME",
        help="run the shell in tmux (else screen) in the container, named after you and NAME "
             "(default 'default'): reconnects, reloads and new kernels find the same shell",
    )
    parser.add_argument("--record", metavar="PATH",
                        help="record the session to PATH as an asciicast v2 file")
    parser.add_argument("--record-input", action="store_true",
                        help="with --record, record the keys typed too (passwords included)")


def add_debug_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--debug [IMAGE]``, ``--target``, ``--profile`` and ``--attach`` (``%k8sexec``).

    They are read back as ``debug``, ``debug_target``, ``debug_profile`` and ``attach``,
    ``Terminal``'s keywords.
    """
    from ..exec.profiles import DEBUG_IMAGE_ENV, DEFAULT_DEBUG_IMAGE, DEFAULT_PROFILE, PROFILES

    parser.add_argument(
        "--debug", nargs="?", const=True, default=None, metavar="IMAGE",
        help=f"add an ephemeral debug container to the pod and open its shell, as kubectl debug "
             f"(default image: ${DEBUG_IMAGE_ENV}, else {DEFAULT_DEBUG_IMAGE}); for a pod whose "
             "image has no shell. Ephemeral containers cannot be removed from a pod",
    )
    parser.add_argument("--target", dest="debug_target", metavar="CONTAINER",
                        help="with --debug: the container whose processes the debug container sees")
    parser.add_argument("--profile", dest="debug_profile", choices=sorted(PROFILES),
                        help=f"with --debug or node/NAME: the security profile, as kubectl debug "
                             f"(default {DEFAULT_PROFILE})")
    parser.add_argument("--attach", action="store_true",
                        help="attach to the container's main process (kubectl attach) instead of "
                             "starting a shell; read-only unless the container has stdin: true")


def where_from_args(args: argparse.Namespace, prog: str) -> CommonTargetArgs:
    """Return where to exec as :func:`add_target_flags`' flags say, ``-l`` aside.

    The result is :class:`~jupyter_k8stty.exec.target.CommonTargetArgs`: namespace,
    container, context, kubeconfig, impersonation and the pod-running timeout.

    Raises:
        UsageError: a value is not valid (one line, naming the flag).
    """
    wait = args.pod_running_timeout
    if wait is not None and (not math.isfinite(wait) or wait < 0):
        raise UsageError(f"{prog}: --pod-running-timeout must be 0 (do not wait) or a finite number "
                         f"of seconds above 0, got {wait:g}")
    where: dict[str, Any] = {
        "namespace": args.namespace,
        "container": args.container,
        "context": args.context,
        "kubeconfig": args.kubeconfig,
        "impersonate": args.impersonate,
        "impersonate_groups": tuple(args.impersonate_groups) if args.impersonate_groups else None,
        "pod_running_timeout": args.pod_running_timeout,
    }
    return {k: v for k, v in where.items() if v is not None}  # type: ignore[return-value]


def target_from_args(args: argparse.Namespace, name: str | None, prog: str = "%k8sexec", *,
                     with_selector: bool = True) -> ExecTarget:
    """Build the :class:`~jupyter_k8stty.exec.target.ExecTarget` for ``name`` (or ``-l``) from the flags.

    ``with_selector=False`` leaves ``-l`` out, for a fan-out that runs on named targets
    and on a selector's pods.

    Raises:
        UsageError: an invalid target, namespace, container, user, group or timeout.
    """
    where = where_from_args(args, prog)
    try:
        return ExecTarget.of(name, selector=args.selector if with_selector else None, **where)
    except (K8sTTYError, ValueError, TypeError) as exc:
        raise usage_error(prog, exc) from None


def value_flags(*parsers: argparse.ArgumentParser) -> frozenset[str]:
    """Every option string of ``parsers`` that takes a value (``-n``, ``--timeout`` ...)."""
    return frozenset(
        flag
        for parser in parsers
        for action in parser._actions  # argparse has no public list of its actions
        if action.option_strings and action.nargs != 0
        for flag in action.option_strings
    )


def usage_error(prog: str, error: BaseException | str) -> UsageError:
    """Return a one-line ``UsageError`` ``PROG: message`` for ``error``."""
    return UsageError(f"{prog}: {one_line(error)}")


def split_line(line: str, prog: str) -> tuple[list[str], list[str] | None]:
    """Split a magic line into its own arguments and the command after ``--`` (``None`` if none).

    Raises:
        UsageError: the line cannot be parsed (unbalanced quotes), has a NUL byte, or
            ``--`` is followed by nothing.
    """
    try:
        check_text(line, "the line")
    except K8sTTYError as exc:
        raise usage_error(prog, exc) from None
    try:
        tokens = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"{prog}: cannot parse the line: {exc}") from None
    if "--" not in tokens:
        return tokens, None
    at = tokens.index("--")
    command = tokens[at + 1:]
    if not command:
        raise UsageError(f"{prog}: nothing after `--`: give the command to run, or leave out `--`")
    return tokens[:at], command


def parse_line(parser: MagicArgumentParser, tokens: list[str]) -> argparse.Namespace | None:
    """Parse ``tokens``; ``None`` when ``-h`` printed the help (the magic then does nothing).

    Raises:
        UsageError: an unknown flag or a bad value (one line plus the usage line).
    """
    try:
        return parser.parse_args(tokens)
    except _HelpShown:
        return None


def check_seconds(value: float | None, flag: str, prog: str) -> float | None:
    """Return ``value`` if it is ``None`` or a finite number of seconds above 0 (``run()``'s rule).

    Raises:
        UsageError: ``0``, negative, ``nan`` or ``inf``.
    """
    try:
        return check_timeout(value, flag)
    except K8sTTYError as exc:
        raise usage_error(prog, exc) from None


def check_variables(names: Iterable[tuple[str, str | None]], prog: str,
                    reserved: Iterable[str] = ()) -> None:
    """Check that each ``(flag, name)`` names a variable the magic may set.

    ``reserved`` are names the shell keeps for itself (IPython's ``In``, ``Out``, ``_ih`` ...).

    Raises:
        UsageError: a name is not an identifier, is a keyword (``class``), a builtin
            (``print``: storing there would hide it), a ``__dunder__`` or reserved, or two
            flags name the same variable.
    """
    reserved = frozenset(reserved)
    seen: dict[str, str] = {}
    for flag, name in names:
        if name is None:
            continue
        if not name.isidentifier():
            raise UsageError(f"{prog}: {flag} {name!r} is not a valid variable name")
        if name.startswith("__") and name.endswith("__"):
            raise UsageError(f"{prog}: {flag} {name!r}: names like __x__ are Python's own, pick another")
        if keyword.iskeyword(name):
            raise UsageError(f"{prog}: {flag} {name!r} is a Python keyword, not a variable name")
        if name in reserved:
            raise UsageError(f"{prog}: {flag} {name!r} is a variable IPython keeps for itself: "
                             "pick another name")
        if hasattr(builtins, name):
            raise UsageError(f"{prog}: {flag} {name!r} would hide the builtin {name}(): pick another name")
        if name in seen:
            raise UsageError(f"{prog}: {seen[name]} and {flag} name the same variable {name!r}")
        seen[name] = flag
