"""``jupyter-k8stty demo``: the sandbox cluster plus JupyterLab with the tour notebook open.

The sandbox serves an ML team's namespace (:mod:`jupyter_k8stty.sandbox.tour_pods`:
trainers, a model server, a notebook pod), seeded with the files the tour reads. Its
kubeconfig reaches the notebook kernel through ``KUBECONFIG`` in JupyterLab's
environment, so ``%k8sexec trainer-0`` works with no cluster at all.

JupyterLab starts with nothing in front of the notebook: no "get notified about
Jupyter news?" toast and no update check (both would also reach for the network), and
a workspace of the demo's own, so earlier JupyterLab layouts do not crowd it.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jupyter_k8stty.sandbox.control import ControlServer

#: Seconds JupyterLab may take to answer ``/api/status`` after it starts.
LAB_START_TIMEOUT = 90.0
#: Seconds JupyterLab gets to shut down after SIGTERM before it is killed.
LAB_STOP_TIMEOUT = 15.0
DEFAULT_LAB_PORT = 8888
NOTEBOOK = "demo.ipynb"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="start the sandbox cluster and JupyterLab with the tour notebook",
        description="Start the sandbox (a local Kubernetes API with an ML team's pods: "
        "trainer-0..3, serving, notebook), then JupyterLab with KUBECONFIG pointing at it "
        "and the tour notebook open. Stop with Ctrl-C.",
    )
    parser.add_argument("--ip", default="127.0.0.1", help="JupyterLab's address (default: %(default)s)")
    parser.add_argument("--port", type=int, default=None,
                        help=f"JupyterLab's port (default: {DEFAULT_LAB_PORT}, or a free one if taken)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    parser.add_argument("--no-lab", action="store_true", help="start only the sandbox")
    parser.add_argument("--dir", metavar="PATH", default=None,
                        help="where the sandbox kubeconfig and the notebooks/ folder JupyterLab "
                        "serves go (default: ~/.cache/jupyter-k8stty/demo); "
                        "notebooks/demo.ipynb there is replaced on every start")
    parser.add_argument("--sandbox-port", type=int, default=0,
                        help="the sandbox API server's port (default: a free one)")
    parser.set_defaults(func=run)
    return parser


def demo_notebook() -> Path:
    """Return the demo notebook: the copy inside an installed wheel, else the source checkout's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "notebooks" / NOTEBOOK, here.parent / "notebooks" / NOTEBOOK):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{NOTEBOOK} is neither in the repository nor in the installed package")


def _default_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "jupyter-k8stty" / "demo"


def _port_free(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET) as s:
        try:
            s.bind((ip, port))
        except OSError:
            return False
    return True


def _free_port(ip: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET) as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


#: JupyterLab plugins the demo turns off: the news and update-check plugin, whose
#: "get notified about official Jupyter news?" toast would cover the demo's terminals
#: (it asks whatever ``news_url`` says, until the user answers).
DISABLED_LAB_PLUGINS = ("@jupyterlab/apputils-extension:announcements",)


def lab_config_dir(workdir: Path) -> Path:
    """Write the demo's own Jupyter config folder (page config only) and return it.

    It goes first on ``JUPYTER_CONFIG_PATH``, so the user's own configuration still
    applies, and the user's settings are left alone.
    """
    config = workdir / "jupyter-config"
    (config / "labconfig").mkdir(parents=True, exist_ok=True)
    page_config = {"disabledExtensions": {name: True for name in DISABLED_LAB_PLUGINS}}
    (config / "labconfig" / "page_config.json").write_text(json.dumps(page_config, indent=2) + "\n")
    return config


def lab_command(root: Path, ip: str, port: int, open_browser: bool,
                workspaces: Path | None = None) -> list[str]:
    """Return the argv that starts JupyterLab on ``root`` with the demo notebook as start page."""
    argv = [
        sys.executable, "-m", "jupyterlab",
        f"--ServerApp.root_dir={root}", "--ip", ip, "--port", str(port),
        "--ServerApp.port_retries=0", f"--ServerApp.default_url=/lab/tree/{NOTEBOOK}",
        # No news feed and no update check: the demo reaches for no network.
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if workspaces is not None:
        argv.append(f"--LabApp.workspaces_dir={workspaces}")
    if not open_browser:
        argv.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")
    return argv


def _wait_ready(proc: subprocess.Popen, url: str, stop: threading.Event) -> bool:
    deadline = time.monotonic() + LAB_START_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None and not stop.is_set():
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        stop.wait(0.25)
    return False


def _stop_lab(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(LAB_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _end_persistent_shell(kubeconfig: str) -> None:
    """End the tour's ``--persist`` shell: its tmux server is this machine's and outlives the sandbox."""
    from jupyter_k8stty.errors import K8sTTYError
    from jupyter_k8stty.sandbox.tour_pods import end_persistent_shell

    try:
        end_persistent_shell(kubeconfig)
    except (K8sTTYError, OSError) as exc:  # stopping goes on: say why and carry on
        print(f"jupyter-k8stty demo: could not end the tour's persistent shell: {exc}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Run the demo until Ctrl-C or SIGTERM (or JupyterLab exits); return the exit code."""
    from jupyter_k8stty.sandbox import missing_extra

    # Both are in the "demo" extra; say so in one line rather than with a traceback.
    problem = missing_extra("cryptography")
    if problem is None and not args.no_lab:
        # JupyterLab runs in its own process: look for it without importing it.
        problem = missing_extra("jupyterlab", "JupyterLab", import_it=False)
    if problem is not None:
        print(f"jupyter-k8stty demo: {problem}", file=sys.stderr)
        return 1
    from jupyter_k8stty.errors import K8sTTYError
    from jupyter_k8stty.sandbox.control import serve_control
    from jupyter_k8stty.sandbox.tour_pods import seed, tour_sandbox

    workdir = Path(args.dir).expanduser().resolve() if args.dir else _default_dir()
    # JupyterLab serves only notebooks/, so the kubeconfig (it holds a token) stays out of view.
    root = workdir / "notebooks"
    try:
        notebook = demo_notebook()
        root.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(notebook, root / NOTEBOOK)
    except OSError as exc:
        print(f"jupyter-k8stty demo: {exc}", file=sys.stderr)
        return 1
    port = args.port
    if port is None:
        port = DEFAULT_LAB_PORT if _port_free(args.ip, DEFAULT_LAB_PORT) else _free_port(args.ip)

    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    sandbox = tour_sandbox(host="127.0.0.1", port=args.sandbox_port,
                           kubeconfig_path=workdir / "sandbox.kubeconfig")
    lab: subprocess.Popen | None = None
    control: ControlServer | None = None
    code = 0
    try:
        try:
            sandbox.start()
        except OSError as exc:
            print(f"jupyter-k8stty demo: cannot start the sandbox: {exc}", file=sys.stderr)
            return 1
        kubeconfig = str(sandbox.kubeconfig_path)
        control = serve_control(sandbox, "jupyter-k8stty demo")
        try:
            seed(kubeconfig)
        except K8sTTYError as exc:
            print(f"jupyter-k8stty demo: cannot put the tour's files into the pods: {exc}",
                  file=sys.stderr)
            return 1
        print(f"Sandbox ready: {sandbox.url}  KUBECONFIG={kubeconfig}", flush=True)
        if not args.no_lab:
            token = secrets.token_hex(24)
            config_path = os.pathsep.join(
                p for p in (str(lab_config_dir(workdir)), os.environ.get("JUPYTER_CONFIG_PATH")) if p)
            # The token goes through the environment, not argv, so `ps` does not show it.
            env = {**os.environ, "KUBECONFIG": kubeconfig, "JUPYTER_TOKEN": token,
                   "JUPYTER_CONFIG_PATH": config_path}
            # A session of its own: the terminal's Ctrl-C reaches only us, and we stop
            # JupyterLab without its interactive "Shutdown this server?" question.
            argv = lab_command(root, args.ip, port, not args.no_browser, workdir / "workspaces")
            lab = subprocess.Popen(argv, cwd=root, env=env, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
            host = "127.0.0.1" if args.ip in ("", "0.0.0.0", "::") else args.ip
            base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
            if not _wait_ready(lab, f"{base}/api/status?token={token}", stop):
                if not stop.is_set():
                    print("jupyter-k8stty demo: JupyterLab did not start (see its log above)",
                          file=sys.stderr)
                    code = 1
                return code
            print("\n" + "=" * 78 + "\n  The demo notebook is at:\n\n"
                  f"    {base}/lab/tree/{NOTEBOOK}?token={token}\n\n"
                  "  Press Ctrl-C to stop JupyterLab and the sandbox.\n" + "=" * 78 + "\n", flush=True)
        else:
            print(f"Use it with:  export KUBECONFIG={kubeconfig}\nPress Ctrl-C to stop.", flush=True)
        while not stop.wait(0.5):
            if lab is not None and lab.poll() is not None:
                print(f"jupyter-k8stty demo: JupyterLab exited with {lab.returncode}", file=sys.stderr)
                code = lab.returncode or 0
                break
    finally:
        if lab is not None:
            _stop_lab(lab)
        if sandbox.kubeconfig_path:  # set once the sandbox started
            _end_persistent_shell(sandbox.kubeconfig_path)
        if control is not None:
            control.stop()
        sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("Demo stopped.", flush=True)
    return code
