"""run_many() against the sandbox: 20 real pods, real sessions, errors kept per pod."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from jupyter_k8stty import ExecError, ExecResult, FanoutResults, K8sTTYError, PodResult, run_many
from jupyter_k8stty.exec.fanout import Fanout
from jupyter_k8stty.exec.fanout_targets import is_selector, split_pods
from jupyter_k8stty.sandbox.pods import PodSpec
from jupyter_k8stty.sandbox.server import Sandbox

from .helpers import live_threads, wait_until

PODS = [f"w-{i}" for i in range(20)]
FAIL_ON_W7 = 'echo "hello from $HOSTNAME"; [ "$HOSTNAME" = w-7 ] && { echo broken >&2; exit 1; }; exit 0'


@pytest.fixture(scope="module")
def workers() -> Iterator[str]:
    """A sandbox with 20 pods w-0..w-19 labelled app=w (plus one app=other); its kubeconfig."""
    pods = [PodSpec(name, labels={"app": "w"}) for name in PODS]
    pods.append(PodSpec("other-0", labels={"app": "other"}))
    sb = Sandbox(pods=pods)
    sb.start()
    try:
        yield sb.kubeconfig_path
    finally:
        sb.stop()


def test_selector_runs_on_every_matching_pod_and_one_failure_stops_nothing(workers):
    results = run_many("app=w", ["sh", "-c", FAIL_ON_W7], kubeconfig=workers)
    assert isinstance(results, FanoutResults)
    assert sorted(results) == sorted(PODS)  # other-0 does not match
    for name, result in results.items():
        assert isinstance(result, ExecResult) and isinstance(result, PodResult)
        assert result.name == name and result.pod == f"default/{name}"
        assert result.stdout == f"hello from {name}\n".encode()
        assert result.error is None
        assert result.duration > 0
    assert results["w-7"].exit_code == 1 and results["w-7"].stderr == b"broken\n"
    assert not results["w-7"].ok
    assert all(results[n].exit_code == 0 and results[n].ok for n in PODS if n != "w-7")
    assert list(results.failed) == ["w-7"]
    assert results.summary() == "20 pods: 19 exited 0, 1 failed"


def test_explicit_list_keeps_order_and_reports_missing_pods_in_their_row(workers):
    results = run_many(["w-3", "ghost", "w-1", "pod/w-2"], ["sh", "-c", "echo $HOSTNAME"],
                       kubeconfig=workers)
    assert list(results) == ["w-3", "ghost", "w-1", "w-2"]
    assert [results[n].stdout for n in ("w-3", "w-1", "w-2")] == [b"w-3\n", b"w-1\n", b"w-2\n"]
    ghost = results["ghost"]
    assert ghost.exit_code is None and not ghost.ok
    assert 'pods "ghost" not found' in ghost.error
    with pytest.raises(K8sTTYError, match="ghost"):
        ghost.check_returncode()
    assert results["w-3"].check_returncode() is results["w-3"]


def test_unreachable_api_server_is_an_error_row_not_an_exception(workers, tmp_path):
    # A kubeconfig pointing at a port where nothing listens: every pod fails fast, alone.
    text = open(workers).read()
    import re

    dead = re.sub(r"https://127\.0\.0\.1:\d+", "https://127.0.0.1:1", text)
    path = tmp_path / "dead-kubeconfig"
    path.write_text(dead)
    results = run_many(["w-0", "w-1"], ["true"], kubeconfig=str(path))
    assert set(results) == {"w-0", "w-1"}
    for result in results.values():
        assert result.exit_code is None
        assert "cannot reach the Kubernetes API server" in result.error


def test_stdin_is_fed_to_every_pod_and_closed(workers):
    results = run_many(PODS[:5], ["sh", "-c", "wc -c; echo from $HOSTNAME >&2"], stdin="héllo\n",
                       kubeconfig=workers)
    for name, result in results.items():
        assert result.stdout.strip() == b"7"  # é is two bytes
        assert result.stderr == f"from {name}\n".encode()


def test_runs_in_parallel_but_never_more_than_max_parallel(workers):
    # Each script records when it ran; overlapping intervals show the concurrency.
    script = "date +%s.%N; sleep 0.5; date +%s.%N"
    started = time.monotonic()
    results = run_many("app=w", ["sh", "-c", script], kubeconfig=workers, max_parallel=5)
    elapsed = time.monotonic() - started
    spans = sorted(tuple(float(x) for x in r.stdout.split()) for r in results.values())
    peak = max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)
    assert peak <= 5
    assert peak >= 3  # really parallel
    assert 2.0 <= elapsed < 10  # 20 pods / 5 at a time * 0.5 s


def test_timeout_applies_per_pod(workers):
    script = '[ "$HOSTNAME" = w-2 ] && sleep 30; echo done'
    started = time.monotonic()
    results = run_many(PODS[:4], ["sh", "-c", script], kubeconfig=workers, timeout=1.5)
    assert time.monotonic() - started < 10
    assert results["w-2"].exit_code is None and results["w-2"].error == "timed out after 1.5 s"
    assert all(results[n].stdout == b"done\n" for n in ("w-0", "w-1", "w-3"))


def test_callbacks_see_every_chunk_and_result(workers):
    seen: dict[str, bytes] = {}
    done: list[str] = []
    lock = threading.Lock()

    def on_output(pod, channel, data):
        with lock:
            seen[pod] = seen.get(pod, b"") + data

    fanout = Fanout(PODS[:6], ["sh", "-c", "echo out-$HOSTNAME"], kubeconfig=workers,
                    on_output=on_output, on_result=lambda pod, result: done.append(pod))
    fanout.start()
    assert fanout.wait(20)
    assert sorted(done) == sorted(PODS[:6])
    assert seen == {n: f"out-{n}\n".encode() for n in PODS[:6]}


def test_cancel_closes_running_sessions_and_skips_queued_pods(workers):
    fanout = Fanout(PODS, ["sh", "-c", "sleep 30"], kubeconfig=workers, max_parallel=4)
    fanout.start()
    assert wait_until(lambda: len(live_threads("k8stty-reader-")) >= 4)
    started = time.monotonic()
    fanout.cancel()
    assert fanout.wait(10)
    assert time.monotonic() - started < 5
    assert {r.error for r in fanout.results.values()} == {"cancelled"}
    assert wait_until(lambda: not live_threads("k8stty-fanout"))


def test_workload_target_stands_for_all_its_pods(kubeconfig):
    # The shared sandbox has deployment web with two pods.
    results = run_many(["deploy/web"], ["sh", "-c", "echo $HOSTNAME"], kubeconfig=kubeconfig)
    assert len(results) == 2
    assert all(name.startswith("web-") and r.stdout == f"{name}\n".encode()
               for name, r in results.items())


def test_selector_without_matches_raises(workers):
    with pytest.raises(K8sTTYError, match="no pods found"):
        run_many("app=nothing-here", ["true"], kubeconfig=workers)


def test_non_zero_exit_raises_only_on_request(workers):
    results = run_many(["w-7"], ["sh", "-c", FAIL_ON_W7], kubeconfig=workers)
    with pytest.raises(ExecError) as info:
        results["w-7"].check_returncode()
    assert info.value.exit_code == 1 and info.value.stderr == b"broken\n"


def test_summary_table_in_text_and_html(workers):
    results = run_many(["w-7", "w-8", "ghost"], ["sh", "-c", FAIL_ON_W7], kubeconfig=workers)
    text = results.table()
    lines = text.splitlines()
    assert lines[0].split() == ["POD", "EXIT", "DURATION", "ERROR"]
    # failures first, each group in the order the pods were listed
    assert lines[1].split()[:2] == ["w-7", "1"]
    assert lines[2].split()[:2] == ["ghost", "-"] and "not found" in lines[2]
    assert lines[3].split()[:2] == ["w-8", "0"]
    assert lines[-1] == "3 pods: 1 exited 0, 2 failed"
    page = results._repr_html_()
    assert page.startswith('<p class="k8stty-fanout-summary">3 pods: 1 exited 0, 2 failed</p>')
    assert "&quot;ghost&quot;" in page
    failures, folded = page.split("<details>")
    assert failures.count("<td") == 8 and "w-8" in folded and "1 pod exited 0" in folded


def test_a_thousand_results_stay_readable():
    from jupyter_k8stty.exec.fanout_results import SHOWN_OK

    results = FanoutResults()
    for i in range(1000):
        code = 1 if i in (17, 503) else 0
        results[f"w-{i}"] = PodResult(["true"], code, name=f"w-{i}", pod=f"default/w-{i}")
    page = results._repr_html_()
    failures, folded = page.split("<details>")
    assert failures.count("<tr>") == 3  # the header and the two failures, unfolded
    assert "<summary>998 pods exited 0</summary>" in folded and SHOWN_OK < 998
    assert results.table().splitlines()[1].split()[:2] == ["w-17", "1"]


def test_how_strings_are_told_apart():
    assert split_pods("app=w") == ([], "app=w")
    assert split_pods("env in (a,b)") == ([], "env in (a,b)")
    assert split_pods("!canary") == ([], "!canary")
    assert split_pods("web-0") == (["web-0"], None)
    assert split_pods("deploy/web") == (["deploy/web"], None)
    assert split_pods(["a", "b"]) == (["a", "b"], None)
    assert split_pods(None, "app") == ([], "app")
    assert is_selector("a=b") and not is_selector("web-0")
    with pytest.raises(ValueError):
        split_pods([])
    with pytest.raises(TypeError):
        run_many(["w-0"], "echo hi")  # a shell string is refused, as by run()
