"""``%%k8sexec TARGET``: run the cell as a script in a pod, or in many pods at once.

The cell body is fed on stdin to ``sh -s`` (or the ``--shell`` program) without a
TTY. Output streams live into the cell as ordinary stdout/stderr stream outputs, so
it is saved in the notebook and renders in nbconvert and on GitHub.

Bounds: ``--timeout`` is one deadline for the lookups, the connection and the run;
output reaches the cell through a flow-control window (a notebook that cannot keep up
throttles the pod), and ``--out``/``--err`` keep at most ``--max-output`` bytes.
One pod: :mod:`.script_one`; many: :mod:`.script_many`.
"""

from __future__ import annotations

import posixpath
import shlex
from typing import Any

from IPython.core.error import UsageError

from ..errors import K8sTTYError
from ..exec.fanout import DEFAULT_MAX_PARALLEL
from ..exec.output import DEFAULT_MAX_OUTPUT
from ..exec.run import check_max_output
from .flags import (
    MagicArgumentParser,
    add_target_flags,
    check_seconds,
    check_variables,
    parse_line,
    split_line,
    target_from_args,
    usage_error,
    where_from_args,
)

__all__ = ["cell_parser", "run_cell", "shell_command"]

PROG = "%%k8sexec"
#: Interpreters that read a program from stdin with ``-`` rather than ``-s``.
_DASH_PROGRAMS = ("python", "perl", "ruby", "node", "Rscript", "php")


def cell_parser() -> MagicArgumentParser:
    """Return the parser of ``%%k8sexec``'s line."""
    parser = MagicArgumentParser(
        prog=PROG,
        description="Run the cell as a script in a pod (fed on stdin to `sh -s`), or in every "
        "pod matching -l SELECTOR / a workload target such as deploy/NAME, in parallel.",
    )
    add_target_flags(parser, dest="targets", nargs="*",
                     target_note="a workload stands for all its pods; several targets run on each",
                     selector_help="label selector: run on every matching pod")
    parser.add_argument(
        "--shell", default="sh", metavar="PROGRAM",
        help="program that reads the script on stdin (default sh: `sh -s`; bash: `bash -s`; "
        "python3: `python3 -`; several words are used as given)",
    )
    parser.add_argument("--out", metavar="VAR", help="store stdout (str) in VAR instead of showing it")
    parser.add_argument("--err", metavar="VAR", help="store stderr (str) in VAR instead of showing it")
    parser.add_argument(
        "--max-output", type=int, default=DEFAULT_MAX_OUTPUT, metavar="BYTES",
        help=f"bytes kept per stream (per pod) by --out/--err and in results; the rest is dropped "
             f"(default {DEFAULT_MAX_OUTPUT})",
    )
    parser.add_argument(
        "--raise-error", action="store_true",
        help="raise ExecError on a non-zero exit (so Run All stops)",
    )
    parser.add_argument(
        "--timeout", type=float, metavar="S",
        help="end the run after S seconds, lookups and connecting included (per pod when fanning out)",
    )
    parser.add_argument(
        "--max-parallel", type=int, default=DEFAULT_MAX_PARALLEL, metavar="N",
        help=f"pods run at once when fanning out (default {DEFAULT_MAX_PARALLEL})",
    )
    return parser


def shell_command(program: str) -> list[str]:
    """Return the argv that reads a script on stdin: ``sh`` → ``sh -s``, ``python3`` → ``python3 -``."""
    try:
        words = shlex.split(program)
    except ValueError as exc:
        raise UsageError(f"{PROG}: cannot parse --shell {program!r}: {exc}") from None
    if not words:
        raise UsageError(f"{PROG}: --shell must name a program")
    if len(words) > 1:
        return words
    base = posixpath.basename(words[0])
    return [words[0], "-" if base.startswith(_DASH_PROGRAMS) else "-s"]


def run_cell(shell: Any, line: str, cell: str) -> Any:
    """Run the ``%%k8sexec`` cell magic.

    Returns ``None`` for one pod (the output was streamed) and a
    :class:`~jupyter_k8stty.exec.fanout.FanoutResults` dict when fanning out (it shows
    as the summary table), unless ``--out`` took it.

    Raises:
        UsageError: a bad argument (one line, before any request), or the pod could
            not be reached.
    """
    __tracebackhide__ = True
    tokens, command_after = split_line(line, PROG)
    if command_after is not None:
        raise UsageError(f"{PROG}: the cell is the script: give the program that reads it with "
                         "--shell, not after `--`")
    args = parse_line(cell_parser(), tokens)
    if args is None:
        return None  # -h printed the help
    if not args.targets and not args.selector:
        raise UsageError(f"{PROG}: name a pod (or a target such as deploy/NAME), or give -l SELECTOR")
    check_seconds(args.timeout, "--timeout", PROG)
    if args.max_parallel < 1:
        raise UsageError(f"{PROG}: --max-parallel must be at least 1, got {args.max_parallel}")
    try:
        check_max_output(args.max_output)
    except K8sTTYError as exc:
        raise usage_error(PROG, str(exc).replace("max_output", "--max-output")) from None
    check_variables((("--out", args.out), ("--err", args.err)), PROG,
                    reserved=getattr(shell, "user_ns_hidden", ()))
    command = shell_command(args.shell)
    try:
        script = cell.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UsageError(f"{PROG}: the cell cannot be encoded as UTF-8 ({exc.reason} at character "
                         f"{exc.start}: {cell[exc.start:exc.end]!r})") from None
    where = where_from_args(args, PROG)
    targets = [target_from_args(args, name, PROG, with_selector=False) for name in args.targets]
    if args.selector:
        targets.append(target_from_args(args, None, PROG))
    if len(targets) == 1 and not targets[0].spans_pods:
        from .script_one import run_single

        return run_single(shell, args, targets[0], command, script)
    from .script_many import run_fanout

    return run_fanout(shell, args, where, command, script)

