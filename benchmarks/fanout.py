"""Fan-out wall time on the sandbox: ``sleep 1`` on 50 pods at once vs on one pod.

Usage::

    python benchmarks/fanout.py [--pods 50] [--repeat 3] [--sleep 1]

The sandbox runs in its own process (pods ``w-0`` .. ``w-N``, label ``app=w``). Each
round times ``run_many`` over one pod, then over every pod with ``max_parallel`` equal
to the pod count, then with the default ``max_parallel`` (16) for reference. The
target is a fan-out no slower than twice one pod.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

from sandbox_process import sandbox_process  # noqa: E402

from jupyter_k8stty import run_many  # noqa: E402
from jupyter_k8stty.exec.fanout import DEFAULT_MAX_PARALLEL  # noqa: E402

TARGET_RATIO = 2.0


def timed(pods, command, kubeconfig: str, max_parallel: int) -> float:
    started = time.perf_counter()
    results = run_many(pods, command, kubeconfig=kubeconfig, max_parallel=max_parallel)
    elapsed = time.perf_counter() - started
    failed = results.failed
    if failed:
        raise SystemExit(f"{len(failed)} pods failed: {next(iter(failed.values()))}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=50, help="number of pods (default 50)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds, median reported (default 3)")
    parser.add_argument("--sleep", type=float, default=1.0, help="seconds each command sleeps")
    args = parser.parse_args()
    command = ["sleep", f"{args.sleep:g}"]
    with sandbox_process(f"w-{{0..{args.pods - 1}}}") as kubeconfig:
        timed(["w-0"], ["true"], kubeconfig, 1)  # warm up: config load, TLS session
        single, wide, default = [], [], []
        for _ in range(args.repeat):
            single.append(timed(["w-0"], command, kubeconfig, 1))
            wide.append(timed("app=w", command, kubeconfig, args.pods))
            default.append(timed("app=w", command, kubeconfig, DEFAULT_MAX_PARALLEL))
    one, many, capped = (statistics.median(x) for x in (single, wide, default))
    ratio = many / one
    rows = [
        (f"one pod ({' '.join(command)})", one),
        (f"{args.pods} pods, max_parallel={args.pods}", many),
        (f"{args.pods} pods, max_parallel={DEFAULT_MAX_PARALLEL} (default)", capped),
    ]
    width = max(len(label) for label, _ in rows)
    for label, seconds in rows:
        print(f"{label:<{width}}  {seconds:6.3f} s")
    verdict = "ok" if ratio <= TARGET_RATIO else "SLOWER THAN TARGET"
    print(f"ratio {args.pods} pods / one pod: {ratio:.2f}x (target <= {TARGET_RATIO:g}x): {verdict}")


if __name__ == "__main__":
    main()
