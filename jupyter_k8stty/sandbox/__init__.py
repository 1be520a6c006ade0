"""A local Kubernetes API server stand-in, so demos and tests need no cluster.

It serves discovery, pods, namespaces and websocket exec over real TLS with
bearer-token auth, and writes a kubeconfig that ``kubectl`` and the Python
client accept. Exec runs the command on this machine, in a per-container
working directory, in a PTY (``tty=true``) or with pipes.
"""

from jupyter_k8stty.sandbox.pods import PodSpec, default_pods
from jupyter_k8stty.sandbox.server import Sandbox

__all__ = ["PodSpec", "Sandbox", "default_pods"]
