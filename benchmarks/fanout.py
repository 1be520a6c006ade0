"""Fan-out at scale: one command on 1,000 sandbox pods, against ``xargs -P 16 kubectl exec``.

Usage::

    python benchmarks/fanout.py [--pods 1000] [--max-parallel 100] [--sleep 1] [--no-kubectl]

The sandbox runs in its own process (pods ``w-0`` .. ``w-N``, label ``app=w``). Each pod
runs ``sh -c 'echo $HOSTNAME; sleep S'``. Measured in one run:

* one pod through ``run_many`` (the unit of work);
* every pod through ``run_many(..., max_parallel=M)``, with the peak number of the
  kernel's threads and its RSS growth sampled meanwhile;
* every pod through ``run_many(..., max_parallel=16)``, the same parallelism as the
  reference;
* the reference: ``xargs -P 16 kubectl exec POD -- sh -c ...``, what a user would
  otherwise type.

Targets (issue 13): wall time at most 1.5 x (pods / M) x one pod's time, at least 5x
faster than the kubectl loop, threads bounded by M (not by the pod count).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time

import psutil

sys.path.insert(0, os.path.dirname(__file__))

from sandbox_process import sandbox_process  # noqa: E402

from jupyter_k8stty import run_many  # noqa: E402

SCALE_TARGET = 1.5
KUBECTL_TARGET = 5.0


class Sampler:
    """Samples this process's thread count and RSS every 50 ms while in use."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.threads = 0
        self.rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self.base_rss = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.threads = max(self.threads, threading.active_count())
            self.rss = max(self.rss, self.process.memory_info().rss)


def ours(pods, command, kubeconfig: str, max_parallel: int) -> tuple[float, Sampler]:
    with Sampler() as sampler:
        started = time.perf_counter()
        results = run_many(pods, command, kubeconfig=kubeconfig, max_parallel=max_parallel)
        elapsed = time.perf_counter() - started
    failed = results.failed
    if failed:
        raise SystemExit(f"{len(failed)} pods failed: {next(iter(failed.values()))}")
    names = [r.stdout.decode().strip() for r in results.values()]
    if "echo $HOSTNAME" in command[-1] and sorted(names) != sorted(results):
        raise SystemExit("a pod answered with another pod's name")
    return elapsed, sampler


def kubectl_loop(count: int, script: str, kubeconfig: str, parallel: int) -> tuple[float, int]:
    """Return the loop's wall time and how many pods' output kubectl did not print.

    kubectl's websocket executor (client-go) drops a message that arrives before it has
    set up the stream it belongs to (``Unknown stream id 1, discarding message``); with
    a server that answers at once on a busy machine, a pod's only line is sometimes lost
    while kubectl still exits 0. That is counted and shown, not treated as a failure of
    the run: the time is still the reference's.
    """
    names = "".join(f"w-{i}\n" for i in range(count))
    started = time.perf_counter()
    done = subprocess.run(
        ["xargs", "-P", str(parallel), "-I", "{}", "kubectl", "exec", "{}", "--", "sh", "-c", script],
        input=names, capture_output=True, text=True, env={**os.environ, "KUBECONFIG": kubeconfig},
        check=False,
    )
    elapsed = time.perf_counter() - started
    lost = count - len(set(done.stdout.split()))
    # One kubectl may discard several messages (its output can come in more than one).
    if done.returncode != 0 or (lost and "Unknown stream id" not in done.stderr):
        raise SystemExit(f"kubectl loop failed ({done.returncode}, {lost} pods without output): "
                         f"{done.stderr[-500:]}")
    return elapsed, lost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=1000, help="number of pods (default 1000)")
    parser.add_argument("--max-parallel", type=int, default=100, help="pods at once (default 100)")
    parser.add_argument("--sleep", type=float, default=1.0, help="seconds each command sleeps")
    parser.add_argument("--no-kubectl", action="store_true", help="skip the kubectl reference")
    args = parser.parse_args()
    script = f"echo $HOSTNAME; sleep {args.sleep:g}"
    command = ["sh", "-c", script]
    with sandbox_process(f"w-{{0..{args.pods - 1}}}", timeout=120) as kubeconfig:
        ours(["w-0"], ["true"], kubeconfig, 1)  # warm up: config load, TLS session
        one, _ = ours(["w-0"], command, kubeconfig, 1)
        wide, sampled = ours("app=w", command, kubeconfig, args.max_parallel)
        capped, _ = ours("app=w", command, kubeconfig, 16)
        reference, lost = None, 0
        if not args.no_kubectl and shutil.which("kubectl") and shutil.which("xargs"):
            reference, lost = kubectl_loop(args.pods, script, kubeconfig, 16)
    bound = SCALE_TARGET * (args.pods / args.max_parallel) * one
    rows = [
        (f"one pod ({script})", one),
        (f"{args.pods} pods, run_many max_parallel={args.max_parallel}", wide),
        (f"{args.pods} pods, run_many max_parallel=16", capped),
    ]
    if reference is not None:
        rows.append((f"{args.pods} pods, xargs -P 16 kubectl exec", reference))
        if lost:
            print(f"kubectl printed no output for {lost} of {args.pods} pods (client-go: "
                  "'Unknown stream id 1, discarding message'); every pod's output came through ours")
    width = max(len(label) for label, _ in rows)
    for label, seconds in rows:
        print(f"{label:<{width}}  {seconds:7.2f} s")
    print(f"scale: {wide:.2f} s vs bound 1.5 x {args.pods}/{args.max_parallel} x {one:.2f} s = "
          f"{bound:.2f} s: {'met' if wide <= bound else 'MISSED'}")
    if reference is not None:
        print(f"kubectl loop / ours (max_parallel={args.max_parallel}) = {reference / wide:.1f}x "
              f"(target >= {KUBECTL_TARGET:g}x); at the same parallelism (16): {reference / capped:.1f}x")
    print(f"peak threads {sampled.threads} (max_parallel {args.max_parallel}), RSS growth "
          f"{(sampled.rss - sampled.base_rss) / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
