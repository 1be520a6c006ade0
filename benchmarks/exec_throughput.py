"""Exec throughput on the sandbox: kubectl, the client's update() loop, raw frames, ours.

Usage::

    python benchmarks/exec_throughput.py [--mb 50] [--repeat 3]

Every variant streams the same ``head -c N /dev/zero`` (tty=false) from the same
sandbox, which runs in its own process. Prints MB/s and the ratio to raw frames.
"""

from __future__ import annotations

import argparse
import io
import mmap
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

from kubernetes import client, config  # noqa: E402
from kubernetes.stream import stream  # noqa: E402
from sandbox_process import sandbox_process  # noqa: E402

from jupyter_k8stty import ExecSession, run  # noqa: E402

MB = 1024 * 1024


def command(nbytes: int) -> list[str]:
    return ["head", "-c", str(nbytes), "/dev/zero"]


def bench_kubectl(kubeconfig: str, nbytes: int) -> int:
    env = dict(os.environ, KUBECONFIG=kubeconfig)
    out = subprocess.run(
        ["kubectl", "exec", "demo", "-c", "main", "--", *command(nbytes)],
        env=env, capture_output=True, check=True,
    )
    return len(out.stdout)


def _api(kubeconfig: str) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))


def bench_update_loop(kubeconfig: str, nbytes: int) -> int:
    """Read with the loop from the kubernetes client's documentation and examples."""
    resp = stream(
        _api(kubeconfig).connect_get_namespaced_pod_exec, "demo", "default",
        command=command(nbytes), stderr=True, stdin=False, stdout=True, tty=False,
        _preload_content=False, binary=True,
    )
    received = 0
    while resp.is_open():
        resp.update(timeout=1)
        if resp.peek_stdout():
            received += len(resp.read_stdout())
    resp.close()
    return received


def bench_raw_frames(kubeconfig: str, nbytes: int) -> int:
    """Frames straight off the websocket with the websocket client's own reader (the reference).

    It keeps nothing. ``ExecSession`` parses frames itself (``exec/frames.py``), so it can
    be faster than this.
    """
    resp = stream(
        _api(kubeconfig).connect_get_namespaced_pod_exec, "demo", "default",
        command=command(nbytes), stderr=True, stdin=False, stdout=True, tty=False,
        _preload_content=False, binary=True,
    )
    ws = resp.sock
    received = 0
    while True:
        opcode, frame = ws.recv_data_frame(True)
        if opcode == 0x8:
            break
        data = frame.data
        if data and data[0] == 1:
            received += len(data) - 1
        elif data and data[0] == 3:
            break
    ws.close()
    return received


def bench_session(kubeconfig: str, nbytes: int) -> int:
    received = 0

    def count(channel: int, data: bytes) -> None:
        nonlocal received
        received += len(data)

    s = ExecSession("demo", command(nbytes), kubeconfig=kubeconfig, tty=False, stdin=False)
    s.on_output(count)
    s.start()
    if s.wait(300) != 0:
        raise RuntimeError(s.error)
    return received


def bench_run(kubeconfig: str, nbytes: int) -> int:
    return len(run("demo", command(nbytes), kubeconfig=kubeconfig).stdout)


VARIANTS = {
    "raw frames (ws.sock)": bench_raw_frames,
    "ExecSession": bench_session,
    "run()": bench_run,
    "kubectl exec": bench_kubectl,
    "client update() loop": bench_update_loop,
}


def fresh_memory_ms(nbytes: int) -> float:
    """Milliseconds the kernel takes to hand this process ``nbytes`` of new, zeroed memory.

    What any result held in memory pays on top of reading the frames (the raw loop keeps
    nothing): measured with ``MADV_POPULATE_WRITE`` (Linux 5.14+), which faults a whole
    mapping in one call, so no Python code is timed; else by writing one byte per page.
    """
    started = time.perf_counter()
    memory = mmap.mmap(-1, nbytes)
    try:
        memory.madvise(getattr(mmap, "MADV_POPULATE_WRITE", 23))
    except OSError:
        for offset in range(0, nbytes, mmap.PAGESIZE):
            memory[offset] = 1
    elapsed = time.perf_counter() - started
    memory.close()
    return elapsed * 1000


def collect_ms(nbytes: int, piece: int = 256 * 1024) -> float:
    """Milliseconds to gather ``nbytes`` from Python into new memory, as ``run()`` must.

    One ``io.BytesIO`` written in ``piece``-sized chunks from a buffer that is reused (as
    the reader's is) and handed over with ``getvalue()``. It reads no socket: what is left
    is the kernel faulting in fresh zeroed pages one by one and the copy, the least any
    collector that keeps the output pays (a ``bytearray`` or one allocated up front pays
    the same).
    """
    chunk = memoryview(bytearray(piece))
    started = time.perf_counter()
    sink = io.BytesIO()
    for _ in range(nbytes // piece):
        sink.write(chunk)
    sink.write(chunk[:nbytes % piece])
    value = sink.getvalue()
    elapsed = time.perf_counter() - started
    del value
    return elapsed * 1000


def measure_once(fn, kubeconfig: str, nbytes: int) -> float:
    started = time.perf_counter()
    got = fn(kubeconfig, nbytes)
    elapsed = time.perf_counter() - started
    if got != nbytes:
        raise RuntimeError(f"{fn.__name__} received {got} of {nbytes} bytes")
    return nbytes / MB / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50, help="megabytes per transfer (default 50)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant; the median is shown")
    parser.add_argument("--slow-repeat", type=int, default=1,
                        help="runs of the client's update() loop, which is slow (default 1)")
    args = parser.parse_args()
    nbytes = args.mb * MB
    with sandbox_process() as kubeconfig:
        bench_session(kubeconfig, MB)  # warm up: config cache, TLS, page cache
        rates: dict[str, list[float]] = {name: [] for name in VARIANTS}
        fresh: list[float] = []
        collect: list[float] = []
        # Round-robin, so load from elsewhere on the machine hits every variant alike.
        for round_ in range(max(args.repeat, args.slow_repeat)):
            for name, fn in VARIANTS.items():
                wanted = args.slow_repeat if fn is bench_update_loop else args.repeat
                if round_ < wanted:
                    rates[name].append(measure_once(fn, kubeconfig, nbytes))
                    print(f"  round {round_ + 1} {name}: {rates[name][-1]:.1f} MB/s",
                          file=sys.stderr, flush=True)
            fresh.append(fresh_memory_ms(nbytes))
            collect.append(collect_ms(nbytes))
        results = {name: statistics.median(values) for name, values in rates.items()}
    raw = results["raw frames (ws.sock)"]
    print(f"\nexec throughput, {args.mb} MB of stdout per run, median of {args.repeat}")
    print(f"{'variant':<24} {'MB/s':>9} {'x raw':>7}")
    for name, rate in results.items():
        print(f"{name:<24} {rate:>9.1f} {rate / raw:>7.2f}")
    ours = results["ExecSession"]
    print(f"\nExecSession / raw frames   = {ours / raw:.2f}  (target >= 0.8)")
    # run() must hold the output: what the raw loop would reach if it kept the output too
    # (its time plus the kernel's for that much fresh memory).
    floor_ms = statistics.median(fresh)
    raw_ms = nbytes / MB / raw * 1000
    ceiling = nbytes / MB / ((raw_ms + floor_ms) / 1000)
    print(f"run() / raw frames         = {results['run()'] / raw:.2f}  (target >= 0.8)")
    print(f"fresh zeroed memory for {args.mb} MB: {floor_ms:.1f} ms (median of {len(fresh)}); "
          f"raw frames plus that: {ceiling:.1f} MB/s = {ceiling / raw:.2f} x raw (the raw loop, had it kept "
          f"the output); run() / that = {results['run()'] / ceiling:.2f}")
    gather_ms = statistics.median(collect)
    keeping = nbytes / MB / ((raw_ms + gather_ms) / 1000)
    print(f"gathering {args.mb} MB from Python into new memory (BytesIO, 256 KiB writes, no socket): "
          f"{gather_ms:.1f} ms; raw frames plus that: {keeping / raw:.2f} x raw; "
          f"run() / that = {results['run()'] / keeping:.2f}")
    print(f"ExecSession / update() loop = {ours / results['client update() loop']:.0f}  (target >= 100)")


if __name__ == "__main__":
    main()
