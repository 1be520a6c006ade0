"""The ``jupyter-k8stty`` command line: one function per subcommand.

To add a subcommand, write ``_add_NAME(subparsers)`` that registers its
arguments and sets ``func`` to a ``_run_NAME(args) -> int`` function, and call
it from :func:`build_parser`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from jupyter_k8stty import demo


def _add_sandbox(subparsers: argparse._SubParsersAction) -> None:
    from jupyter_k8stty.sandbox.pods import INLINE_HELP

    parser = subparsers.add_parser(
        "sandbox",
        help="run a local Kubernetes API stand-in with exec into fake pods",
        description="Serve the Kubernetes API (discovery, pods, websocket exec) over TLS on "
        "this machine and write a kubeconfig for it, so kubectl and the notebook widget "
        "work with no cluster. Exec runs commands here, in a working directory per pod "
        "container. Stop with Ctrl-C.",
        epilog=INLINE_HELP + "\nA JSON file holds a list of objects with the fields name, "
        "namespace, containers, labels, annotations and phase.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0,
                        help="TCP port (default: 0, a free port)")
    parser.add_argument("--kubeconfig", metavar="PATH", default=None,
                        help="where to write the kubeconfig (default: "
                        "~/.cache/jupyter-k8stty/sandbox.kubeconfig)")
    parser.add_argument("--pods", metavar="SPEC", default=None,
                        help="pods to serve: a JSON file or the inline form below "
                        "(default: demo, worker-0..2, finished, team-a/analytics)")
    parser.add_argument("--fault", metavar="KIND[:KEY=VALUE,...]", action="append", default=[],
                        help="make the next exec stream misbehave, for testing (repeatable; "
                        "count=N for N streams): drop, close, stall, slow, throttle, "
                        "unknown-channel, invalid-utf8, huge-frame, bad-status, "
                        "truncated-status; keys after, delay, seconds, rate, size, count. "
                        "Example: stall:after=2,seconds=60")
    parser.set_defaults(func=_run_sandbox)


def _run_sandbox(args: argparse.Namespace) -> int:
    from jupyter_k8stty.sandbox import missing_extra

    problem = missing_extra("cryptography")
    if problem is not None:
        print(f"jupyter-k8stty sandbox: {problem}", file=sys.stderr)
        return 1
    from jupyter_k8stty.sandbox import Sandbox
    from jupyter_k8stty.sandbox.control import ControlServer, serve_control
    from jupyter_k8stty.sandbox.faults import parse_fault
    from jupyter_k8stty.sandbox.kubeconfig import default_kubeconfig_path
    from jupyter_k8stty.sandbox.pods import load_pods

    try:
        pods = load_pods(args.pods) if args.pods else None
    except (OSError, ValueError, TypeError) as exc:
        print(f"jupyter-k8stty sandbox: bad --pods: {exc}", file=sys.stderr)
        return 2
    try:
        faults = [parse_fault(spec) for spec in args.fault]
    except ValueError as exc:
        print(f"jupyter-k8stty sandbox: bad --fault: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        done.set()

    # Handlers are installed before starting so a signal during start-up is not lost.
    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    sandbox = Sandbox(host=args.host, port=args.port, pods=pods,
                      kubeconfig_path=args.kubeconfig or default_kubeconfig_path())
    control: ControlServer | None = None
    try:
        try:
            sandbox.start()
        except OSError as exc:
            print(f"jupyter-k8stty sandbox: cannot listen on {args.host}:{args.port}: {exc}",
                  file=sys.stderr)
            return 1
        for kind, params in faults:
            sandbox.inject(kind, **params)
        control = serve_control(sandbox, "jupyter-k8stty sandbox")
        print(f"Sandbox ready: {sandbox.url}  KUBECONFIG={sandbox.kubeconfig_path}", flush=True)
        while not done.wait(1.0):
            pass
    finally:
        if control is not None:
            control.stop()
        sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("Sandbox stopped.", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="jupyter-k8stty",
        description="Interactive terminals into Kubernetes pods inside Jupyter notebooks.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    _add_sandbox(subparsers)
    demo.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``jupyter-k8stty`` command line and return its exit code."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
