"""The sandbox's kubelet: runs containers' main processes, "pulls" images, deletes pods.

Everything happens on one thread, ``k8stty-kubelet``, which lives as long as the sandbox:
processes get a parent-death signal tied to the thread that forks them (see
:mod:`.lifetime`), so a connection thread that ends must never be their parent. Work
arrives through :meth:`Kubelet.post` (the pod store's listener posts a sync for each
change) and runs in due order.

What a container goes through:

* declared pods (:class:`~jupyter_k8stty.sandbox.pods.PodSpec`): a container with a
  ``commands`` entry runs it while the pod is Running, restarted after it exits; the
  others are idle. Their status follows the pod's phase.
* created pods and ephemeral containers: ``waiting: ContainerCreating`` for the start
  delay, then the image is "pulled": an unpullable image ends in ``ErrImagePull`` and
  then ``ImagePullBackOff`` (with the runtime's messages); otherwise the main process
  starts (``running``) and its end is reported (``terminated``). Ephemeral containers are
  never restarted; a created pod follows its ``restartPolicy`` and, when no container
  runs any more, ends ``Succeeded`` or ``Failed``.
* deletion: the pod is marked Terminating, its processes get SIGTERM, then SIGKILL after
  at most :data:`KILL_AFTER` seconds (real grace periods are capped: the sandbox is for
  tests), then the pod is removed.
"""

from __future__ import annotations

import heapq
import itertools
import signal
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from jupyter_k8stty.sandbox.containers import (
    Container,
    ContainerState,
    now,
    pull_error,
)
from jupyter_k8stty.sandbox.mainproc import MainProcess
from jupyter_k8stty.sandbox.pods import Pod, PodStore
from jupyter_k8stty.sandbox.process import ExecRequest, log, missing_executable_error

__all__ = ["KILL_AFTER", "Kubelet"]

#: Longest wait between SIGTERM and SIGKILL when a pod is deleted.
KILL_AFTER = 1.0
#: After ``ErrImagePull``, how long until the status says ``ImagePullBackOff``.
PULL_BACKOFF = 1.0
#: How long a main process that exited waits before it is restarted.
RESTART_DELAY = 0.5


class Kubelet:
    """Runs the containers of one pod store (see the module docstring).

    Args:
        store: the pods; the kubelet becomes its listener.
        start_delay: seconds a new container stays ``ContainerCreating``.
        unpullable: image name fragments that fail to pull.
    """

    def __init__(self, store: PodStore, *, start_delay: float, unpullable: Iterable[str]):
        self.store = store
        self.start_delay = start_delay
        self.unpullable = tuple(unpullable)
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = itertools.count()
        self._stopped = False
        self._processes: dict[tuple[str, str], MainProcess] = {}
        self._last: dict[tuple[str, str], MainProcess] = {}  # for logs, until the pod goes
        self._pending: set[tuple[str, str]] = set()
        self._thread = threading.Thread(target=self._loop, name="k8stty-kubelet", daemon=True)
        self._thread.start()
        store.listener = self._heard
        for pod in store.list():
            self.post(self._sync, pod)

    # ---- public ---------------------------------------------------------------------

    def post(self, fn: Callable[..., None], *args: Any, delay: float = 0.0) -> None:
        """Run ``fn(*args)`` on the kubelet thread after ``delay`` seconds."""
        with self._cond:
            if self._stopped:
                return
            heapq.heappush(self._queue, (time.monotonic() + delay, next(self._seq), fn, args))
            self._cond.notify()

    def process(self, pod: Pod, container: str) -> MainProcess | None:
        """Return the running main process of ``container`` in ``pod``, if any."""
        with self._cond:
            return self._processes.get((pod.uid, container))

    def logs(self, pod: Pod, container: str) -> bytes:
        """Return the output of the last main process of ``container`` (empty if none ran)."""
        with self._cond:
            proc = self._last.get((pod.uid, container))
        return proc.logs() if proc is not None else b""

    def delete(self, pod: Pod, grace: int) -> None:
        """Mark ``pod`` Terminating and stop its containers; it is removed once they are gone."""
        def mark(p: Pod) -> None:
            if p.deletion is None:
                p.deletion, p.grace = now(), grace
        self.store.change(pod, mark, tell=False)
        self.post(self._terminate, pod, min(float(grace), KILL_AFTER))

    def stop(self) -> None:
        """Kill every main process and end the thread (the node goes away)."""
        with self._cond:
            self._stopped = True
            self._queue.clear()
            procs = list(self._processes.values())
            self._cond.notify()
        for proc in procs:
            proc.kill()
        for proc in procs:
            if not proc.wait(2.0):
                log(f"main process {proc.pid} did not end after SIGKILL")
        self._thread.join(2.0)

    # ---- the thread -----------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (
                        not self._queue or self._queue[0][0] > time.monotonic()):
                    timeout = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                _, _, fn, args = heapq.heappop(self._queue)
            try:
                fn(*args)
            except Exception as exc:  # one broken container must not stop the node
                log(f"kubelet: {getattr(fn, '__name__', fn)} failed: {exc!r}")

    def _heard(self, kind: str, pod: Pod) -> None:
        self.post(self._forget if kind == "DELETED" else self._sync, pod)

    def _live(self, pod: Pod) -> bool:
        return self.store.get(pod.spec.namespace, pod.spec.name) is pod and pod.deletion is None

    def _sync(self, pod: Pod) -> None:
        if not self._live(pod) or (pod.manifest is not None and pod.node not in self.store.node_ips):
            return  # a pod bound to a node that does not exist stays Pending, as on a cluster
        for container in pod.containers.values():
            key = (pod.uid, container.name)
            if key in self._processes or key in self._pending:
                continue
            if pod.manifest is None:
                if pod.phase == "Running" and container.main_command(default_shell=False):
                    self._run(pod, container)
            elif container.state is not None and container.state.reason == "ContainerCreating":
                self._pending.add(key)
                self.post(self._pull, pod, container, delay=self.start_delay)
        for container in pod.ephemeral.values():
            key = (pod.uid, container.name)
            if (key not in self._pending and container.state is not None
                    and container.state.reason == "ContainerCreating"):
                self._pending.add(key)
                self.post(self._pull, pod, container, delay=self.start_delay)

    def _forget(self, pod: Pod) -> None:
        with self._cond:
            for key in [k for k in self._last if k[0] == pod.uid]:
                del self._last[key]
            procs = [p for (uid, _), p in self._processes.items() if uid == pod.uid]
        for proc in procs:
            proc.kill()

    # ---- starting -------------------------------------------------------------------

    def _set(self, pod: Pod, container: Container, state: ContainerState) -> None:
        def update(_: Pod) -> None:
            if container.state is not None and container.state.kind != "waiting":
                container.last_state = container.state
            container.state = state
        self.store.change(pod, update, tell=False)

    def _pull(self, pod: Pod, container: Container) -> None:
        self._pending.discard((pod.uid, container.name))
        if not self._live(pod):
            return
        error = pull_error(container.image, self.unpullable)
        if error is not None:
            self._set(pod, container, ContainerState("waiting", "ErrImagePull", error))
            self.post(self._back_off, pod, container, delay=PULL_BACKOFF)
            return
        self._run(pod, container)

    def _back_off(self, pod: Pod, container: Container) -> None:
        if self._live(pod) and container.state is not None and container.state.reason == "ErrImagePull":
            self._set(pod, container, ContainerState(
                "waiting", "ImagePullBackOff", f'Back-off pulling image "{container.image}"'))

    def _request(self, pod: Pod, container: Container, command: tuple[str, ...]) -> ExecRequest:
        return ExecRequest(namespace=pod.spec.namespace, pod=pod.spec.name, container=container.name,
                           command=command, workdir=container.workdir, stdin=container.stdin,
                           stdout=True, stderr=not container.tty, tty=container.tty,
                           executables=container.executables(), env=pod.environment(container))

    def _run(self, pod: Pod, container: Container) -> None:
        declared = pod.manifest is None and not container.ephemeral
        command = container.main_command(default_shell=not declared)
        error = None
        if not command:
            error = 'exec: "sh": executable file not found in $PATH'
        else:
            request = self._request(pod, container, command)
            missing = missing_executable_error(command, request.environment(), container.workdir,
                                               request.executables)
            if missing is not None:
                error = missing.rsplit("unable to start container process: ", 1)[-1].removesuffix(
                    ": unknown")
        if error is not None:
            self._set(pod, container, ContainerState(
                "terminated", "StartError", "failed to create containerd task: failed to create "
                f"shim task: OCI runtime create failed: runc create failed: unable to start "
                f"container process: {error}: unknown", 128, now(), now()))
            self._settle(pod)
            return
        try:
            proc = MainProcess(request, lambda code: self.post(self._exited, pod, container, code))
        except OSError as exc:
            log(f"kubelet: cannot start {container.name} of {pod.spec.name}: {exc}")
            self._set(pod, container, ContainerState("terminated", "StartError", str(exc), 128,
                                                     now(), now()))
            self._settle(pod)
            return
        with self._cond:
            self._processes[(pod.uid, container.name)] = proc
            self._last[(pod.uid, container.name)] = proc
        if not declared:
            self._set(pod, container, ContainerState("running", started=now()))
            if not container.ephemeral and pod.phase == "Pending" and all(
                    c.state is not None and c.state.kind == "running"
                    for c in pod.containers.values()):
                self.store.change(pod, _phase("Running"), tell=False)

    # ---- ending ---------------------------------------------------------------------

    def _exited(self, pod: Pod, container: Container, code: int) -> None:
        with self._cond:
            self._processes.pop((pod.uid, container.name), None)
        if pod.deletion is not None:
            self._remove_when_done(pod)
            return
        if self.store.get(pod.spec.namespace, pod.spec.name) is not pod:
            return
        if pod.manifest is None and not container.ephemeral:
            if pod.phase == "Running":  # a declared container restarts, whatever its code
                self.store.change(pod, lambda _: setattr(
                    container, "restart_count", container.restart_count + 1), tell=False)
                self.post(self._sync, pod, delay=RESTART_DELAY)
            return
        started = container.state.started if container.state is not None else None
        self._set(pod, container, ContainerState(
            "terminated", "Completed" if code == 0 else "Error", "", code, started, now()))
        policy = pod.restart_policy
        if not container.ephemeral and (policy == "Always" or (policy == "OnFailure" and code)):
            def restart(_: Pod) -> None:
                container.restart_count += 1
                container.last_state, container.state = container.state, ContainerState(
                    "waiting", "ContainerCreating")
            self.store.change(pod, restart, tell=False)
            self.post(self._sync, pod, delay=RESTART_DELAY)
            return
        self._settle(pod)

    def _settle(self, pod: Pod) -> None:
        """End a created pod's phase once none of its regular containers can run again."""
        states = [c.state for c in pod.containers.values()]
        if pod.manifest is None or not all(s is not None and s.kind == "terminated" for s in states):
            return
        failed = any(s is not None and s.exit_code != 0 for s in states)
        self.store.change(pod, _phase("Failed" if failed else "Succeeded"), tell=False)

    def _terminate(self, pod: Pod, grace: float) -> None:
        procs = self._pod_processes(pod)
        for proc in procs:
            proc.kill(signal.SIGTERM)
        if procs:
            self.post(self._kill, pod, delay=grace)
        self._remove_when_done(pod)

    def _kill(self, pod: Pod) -> None:
        for proc in self._pod_processes(pod):
            proc.kill(signal.SIGKILL)

    def _pod_processes(self, pod: Pod) -> list[MainProcess]:
        with self._cond:
            return [p for (uid, _), p in self._processes.items() if uid == pod.uid]

    def _remove_when_done(self, pod: Pod) -> None:
        if not self._pod_processes(pod):
            self.store.remove(pod)


def _phase(phase: str) -> Callable[[Pod], None]:
    def update(pod: Pod) -> None:
        pod.spec.phase = phase
    return update

