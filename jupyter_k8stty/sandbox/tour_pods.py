"""The demo's cluster: an ML team's namespace for the tour notebook.

``jupyter-k8stty demo`` serves these pods instead of the sandbox's default ones, so the
tour (``notebooks/demo.ipynb``) reads like real work, and ``tests/test_tour.py`` runs the
tour against the same set:

==========================  ===========  ==========================================
pods                        namespace    what they are
==========================  ===========  ==========================================
``notebook``                ``default``  containers ``notebook`` (default), ``git-sync``
``trainer-0`` .. ``-3``     ``default``  StatefulSet ``trainer``, label ``app=trainer``
``serving-…`` (2)           ``default``  Deployment and Service ``serving``
``model-server-0``          ``default``  the next model's canary, from a distroless
                                         image: container ``server`` has no shell
``finetune-…``              ``default``  Job ``finetune`` on node ``sandbox-gpu``: its
                                         main process waits at a ``finetune>`` prompt
``prometheus-0``            monitoring   StatefulSet ``prometheus``
==========================  ===========  ==========================================

:func:`seed` then puts in each pod the files the tour reads: a ``train.log`` and
``checkpoints/`` per trainer (``trainer-3`` has just restarted and has no checkpoint
yet, so the fan-out shows one failure), an ``eval.py`` that stands in for an
evaluation, and the served model's version. Sandbox pods run on this machine, so the
files live in each container's working directory (its ``HOME``) and the tour uses
relative paths.

``model-server-0`` and the ``finetune`` job are there for the tour's "Pods without a
shell" section: a terminal into the distroless server finds no shell and offers a debug
container (``--debug --target server``), and the job's main process is a small
interactive program to ``--attach`` to (its container has ``stdin`` and ``tty``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import shlex
from typing import TYPE_CHECKING

from jupyter_k8stty.sandbox.pods import DEFAULT_CONTAINER_ANNOTATION, PodSpec
from jupyter_k8stty.sandbox.workloads import Workload, deployment, job, service, statefulset

if TYPE_CHECKING:
    from jupyter_k8stty.sandbox.server import Sandbox

__all__ = ["CANARY_IMAGE", "CHECKPOINT_BYTES", "CHECKPOINT_STEPS", "FINETUNE_NODE", "MODEL_VERSION",
           "PERSIST_NAME", "TRAINERS", "end_persistent_shell", "loss_at", "seed", "tour_pods",
           "tour_sandbox", "tour_workloads"]

#: How many ``trainer-N`` pods the ``trainer`` StatefulSet has.
TRAINERS: int = 4
#: Size of each seeded checkpoint file (random bytes).
CHECKPOINT_BYTES: int = 2 * 1024 * 1024
#: Steps at which the healthy trainers saved a checkpoint.
CHECKPOINT_STEPS: tuple[int, ...] = (400, 800, 1200)
#: The model version the ``serving`` pods report.
MODEL_VERSION = "resnet50-2024-11-03"
#: The image of ``model-server-0``'s ``server`` container: distroless, so it has no shell.
CANARY_IMAGE = "gcr.io/distroless/python3-debian12"
#: ``model-server-0``'s main process. A stand-in for a model server: it serves files on
#: a free local port (the sandbox's pods are processes on this machine).
CANARY_COMMAND = ("python3", "-m", "http.server", "0", "--bind", "127.0.0.1")
#: The node the ``finetune`` job runs on.
FINETUNE_NODE = "sandbox-gpu"
#: The ``--persist`` name of the tour's persistent shell (in ``trainer-0``).
PERSIST_NAME = "tour"

#: The ``finetune`` job's main process (``python3 -c``): fine-tuning paused at a plateau,
#: waiting for an operator at a ``finetune>`` prompt, to attach to. An empty line shows
#: the prompt again, so "press enter" after attaching does what kubectl says it does.
FINETUNE_SCRIPT = '''\
import time

step, loss, lr = 1200, 0.4721, 3.0e-4
HELP = "commands: status, lr VALUE, resume, help (close the terminal to detach)"


def status():
    print(f"step={step} loss={loss:.4f} lr={lr:.1e}")


def handle(words):
    global step, loss, lr
    if not words:
        return
    if words[0] == "status":
        status()
    elif words[0] == "lr" and len(words) == 2:
        try:
            lr = float(words[1])
        except ValueError:
            print(f"not a number: {words[1]}")
        else:
            print(f"learning rate set to {lr:.1e}")
    elif words[0] == "resume":
        for _ in range(3):
            time.sleep(0.3)
            step += 100
            loss -= 4 * lr + 0.0005
            status()
        print(f"paused again at step {step}")
    else:
        print(HELP)


print(f"finetune: the loss has not improved for 300 steps; paused at step {step}", flush=True)
print(HELP, flush=True)
while True:
    try:
        handle(input("finetune> ").split())
    except EOFError:
        print("(end of input ignored: close the terminal to detach)")
        time.sleep(0.5)
    except KeyboardInterrupt:
        print("\\n(the job keeps running: close the terminal to detach)")
'''

#: ``python3 eval.py`` in a trainer: a sandbox stand-in for evaluating the newest
#: checkpoint. It takes about 1.5 s, as a real evaluation takes a while, so a fan-out
#: over the trainers shows its progress bar.
EVAL_SCRIPT = '''\
"""Evaluate the newest checkpoint on the validation split.

(Sandbox stand-in: it waits a moment, as an evaluation would, then derives its
metrics from train.log.)
"""
import pathlib
import re
import sys
import time

checkpoints = sorted(pathlib.Path("checkpoints").glob("step-*.pt"),
                     key=lambda p: int(re.findall(r"\\d+", p.name)[0]))
if not checkpoints:
    sys.exit("eval.py: no checkpoint in checkpoints/ yet")
newest = checkpoints[-1]
step = int(re.findall(r"\\d+", newest.name)[0])
losses = {int(m[0]): float(m[1]) for m in
          re.findall(r"step=(\\d+) loss=([\\d.]+)", pathlib.Path("train.log").read_text())}
time.sleep(1.5)
val_loss = losses[step] * 1.08
print(f"checkpoint={newest.name} step={step} val_loss={val_loss:.4f} "
      f"val_acc={1 - val_loss / 3:.3f}")
'''


def tour_pods() -> list[PodSpec]:
    """Return the pods that belong to no workload: the team's ``notebook`` pod and the canary."""
    return [
        PodSpec("notebook", containers=("notebook", "git-sync"), labels={"app": "notebook"},
                annotations={DEFAULT_CONTAINER_ANNOTATION: "notebook"}, age=86400.0),
        PodSpec("model-server-0", containers=("server",), labels={"app": "model-server",
                                                                   "track": "canary"},
                images={"server": CANARY_IMAGE}, commands={"server": CANARY_COMMAND}, age=5400.0),
    ]


def _finetune() -> Workload:
    """Return the ``finetune`` job: one pod on the GPU node whose main process takes a terminal."""
    workload = job("finetune", containers=("finetune",), labels={"app": "finetune"})
    workload.pods = [dataclasses.replace(
        pod, node=FINETUNE_NODE, commands={"finetune": ("python3", "-u", "-c", FINETUNE_SCRIPT)},
        stdin=("finetune",), tty=("finetune",)) for pod in workload.pods]
    return workload


def tour_workloads() -> list[Workload | list[Workload]]:
    """Return the trainers, the model server, a fine-tuning job and a monitoring stack."""
    return [
        statefulset("trainer", TRAINERS, containers=("trainer",), labels={"app": "trainer"}),
        deployment("serving", 2, containers=("model-server",), labels={"app": "serving"},
                   ages=(7200.0, 1800.0)),
        service("serving"),
        _finetune(),
        statefulset("prometheus", 1, namespace="monitoring", containers=("prometheus",)),
    ]


def tour_sandbox(**kwargs: object) -> Sandbox:
    """Return a (not yet started) sandbox with the tour's pods; ``kwargs`` go to ``Sandbox``."""
    from jupyter_k8stty.sandbox.server import Sandbox

    return Sandbox(pods=tour_pods(), workloads=tour_workloads(), **kwargs)  # type: ignore[arg-type]


def loss_at(step: int, trainer: int) -> float:
    """Return the made-up training loss ``train.log`` shows: falls with the step, a little per trainer."""
    return 0.35 + 2.1 * math.exp(-step / 450) + 0.013 * trainer


def _train_log(trainer: int, last_step: int) -> str:
    lines = [f"step={step} loss={loss_at(step, trainer):.4f} lr=3.0e-04"
             for step in range(100, last_step + 1, 100)]
    return "\n".join(lines) + "\n"


def _write(path: str, text: str) -> str:
    """Return a shell command that writes ``text`` to ``path`` (through a quoted here-document)."""
    return f"cat > {shlex.quote(path)} <<'K8STTY_TOUR_EOF'\n{text}K8STTY_TOUR_EOF\n"


def _trainer_script(trainer: int) -> str:
    if trainer == TRAINERS - 1:  # restarted an hour ago: a short log, no checkpoint yet
        script = _write("train.log", "restarted after a node drain\n" + _train_log(trainer, 200))
        script += "rm -rf checkpoints && mkdir checkpoints\n"
    else:
        script = _write("train.log", _train_log(trainer, max(CHECKPOINT_STEPS)))
        script += "rm -rf checkpoints && mkdir checkpoints\n"
        for step in CHECKPOINT_STEPS:
            script += (f"head -c {CHECKPOINT_BYTES} /dev/urandom > checkpoints/step-{step}.pt\n")
    return script + _write("eval.py", EVAL_SCRIPT)


def seed(kubeconfig: str | os.PathLike[str] | None = None) -> None:
    """Put the files the tour reads into the tour's pods, through exec as a user would.

    A persistent shell left by an earlier run of the tour is ended first
    (:func:`end_persistent_shell`).

    Args:
        kubeconfig: the sandbox's kubeconfig (default: ``KUBECONFIG``).

    Raises:
        ExecError: a pod's setup script failed (its stderr says why).
    """
    from jupyter_k8stty.exec.fanout import run_many
    from jupyter_k8stty.exec.run import run

    config = os.fspath(kubeconfig) if kubeconfig is not None else None
    end_persistent_shell(config)
    for i in range(TRAINERS):
        run(f"trainer-{i}", ["sh", "-s"], stdin=_trainer_script(i).encode(), timeout=30,
            kubeconfig=config).check_returncode()
    run("notebook", ["sh", "-s"], stdin=_write("README.md", "# Team notebooks\n").encode(),
        timeout=30, kubeconfig=config).check_returncode()
    # Every replica serves the same model.
    serving = "mkdir -p model\n" + _write("model/VERSION", MODEL_VERSION + "\n")
    for result in run_many(["deploy/serving"], ["sh", "-s"], stdin=serving, timeout=30,
                           progress=False, kubeconfig=config).values():
        result.check_returncode()


def end_persistent_shell(kubeconfig: str | os.PathLike[str] | None = None) -> bool:
    """End the tour's persistent shell (``--persist tour`` in ``trainer-0``); return whether one ran.

    The sandbox's pods are processes on this machine, and so is their ``tmux`` server: a
    persistent shell outlives the sandbox that started it, and the next run of the tour
    would join a shell whose pod (and working directory) is gone. The demo and the tour's
    test end it when they start and when they stop.

    Raises:
        ApiError: ``trainer-0`` could not be reached.
    """
    from jupyter_k8stty.exec.persist import sessions

    config = os.fspath(kubeconfig) if kubeconfig is not None else None
    ended = False
    for found in sessions("trainer-0", kubeconfig=config):
        if found.label == PERSIST_NAME:
            found.end()
            ended = True
    return ended
