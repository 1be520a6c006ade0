"""``PodPicker``: choose a namespace, pod and container from the cluster, then open a terminal.

``%k8sexec`` with no target shows one. It is plain ipywidgets (dropdowns, a button and
an output area), so it needs no front-end code of its own and works without a browser.
"""

from __future__ import annotations

import logging
from typing import Any

import ipywidgets

from ..errors import K8sTTYError
from ..exec.client import load_cluster_config
from ..exec.listing import list_namespaces, list_pods
from ..exec.resolve import choose_container

log = logging.getLogger("jupyter_k8stty")

__all__ = ["PodPicker"]


class PodPicker(ipywidgets.VBox):
    """Namespace, pod and container dropdowns filled from the cluster, and an Open button.

    Args:
        namespace: the namespace selected first (default: the context's).
        context: kubeconfig context.
        kubeconfig: kubeconfig path(s).
        command: argv for the terminal (``None``: a login shell).
        rows: terminal height.
        options: xterm.js options for the terminal.

    Attributes:
        namespace, pod, container: the dropdowns.
        open_button: opens a :class:`~jupyter_k8stty.Terminal` below the picker.
        message: one line of status (errors loading the lists).
        terminal: the last terminal opened, else ``None``.
    """

    def __init__(self, namespace: str | None = None, *, context: str | None = None,
                 kubeconfig: str | None = None, command: list[str] | None = None,
                 rows: int = 24, options: dict | None = None):
        self._context = context
        self._kubeconfig = kubeconfig
        self._command = command
        self._rows = rows
        self._options = options
        self._pods: dict[str, dict[str, Any]] = {}
        self.terminal: Any = None
        layout = ipywidgets.Layout(width="auto")
        self.namespace = ipywidgets.Dropdown(description="Namespace", layout=layout)
        self.pod = ipywidgets.Dropdown(description="Pod", layout=layout)
        self.container = ipywidgets.Dropdown(description="Container", layout=layout)
        self.open_button = ipywidgets.Button(description="Open", button_style="primary",
                                             icon="terminal", disabled=True)
        self.message = ipywidgets.HTML("")
        self.output = ipywidgets.Output()
        row = ipywidgets.HBox([self.namespace, self.pod, self.container, self.open_button])
        super().__init__([row, self.message, self.output])
        self.add_class("k8stty-picker")

        cluster = load_cluster_config(context=context, kubeconfig=kubeconfig)
        self._cluster = cluster
        try:
            names = list_namespaces(context=context, kubeconfig=kubeconfig)
        except K8sTTYError as exc:
            self._say(str(exc))
            names = [cluster.namespace]
        wanted = namespace or cluster.namespace
        if wanted not in names:
            names = sorted({*names, wanted})
        self.namespace.options = names
        self.namespace.value = wanted
        self.namespace.observe(self._on_namespace, names="value")
        self.pod.observe(self._on_pod, names="value")
        self.open_button.on_click(lambda _button: self.open_selected())
        self._load_pods(wanted)

    # -- loading ----------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        import html

        self.message.value = f"<span class='k8stty-picker-message'>{html.escape(text)}</span>"

    def _load_pods(self, namespace: str) -> None:
        try:
            pods = list_pods(namespace, context=self._context, kubeconfig=self._kubeconfig)
        except (K8sTTYError, ValueError) as exc:
            pods = []
            self._say(str(exc))
        else:
            self._say("" if pods else f"no pods in namespace {namespace}")
        self._pods = {p["metadata"]["name"]: p for p in pods}
        running = [n for n, p in sorted(self._pods.items())
                   if (p.get("status") or {}).get("phase") == "Running"]
        others = [n for n in sorted(self._pods) if n not in running]
        self.pod.options = running + others
        self.pod.value = self.pod.options[0] if self.pod.options else None
        self._on_pod({"new": self.pod.value})

    def _on_namespace(self, change: dict) -> None:
        if change.get("new"):
            self._load_pods(change["new"])

    def _on_pod(self, change: dict) -> None:
        pod = self._pods.get(change.get("new") or "")
        if pod is None:
            self.container.options = []
            self.open_button.disabled = True
            return
        names = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
        default, _note = choose_container(pod, None)
        self.container.options = names
        self.container.value = default if default in names else (names[0] if names else None)
        self.open_button.disabled = False

    # -- opening ----------------------------------------------------------------------------

    def open_selected(self) -> Any:
        """Open a terminal into the selected pod and container below the picker; return it."""
        from .terminal import Terminal

        if not self.pod.value:
            raise K8sTTYError("no pod selected")
        if self.terminal is not None:
            self.terminal.close()
        self.terminal = Terminal(
            self.pod.value, self._command, namespace=self.namespace.value,
            container=self.container.value, context=self._context,
            kubeconfig=self._kubeconfig, rows=self._rows, options=self._options,
        )
        # Set the output directly (no kernel display hook needed, works from any thread).
        self.output.outputs = ()
        self.output.append_display_data(self.terminal)
        return self.terminal
