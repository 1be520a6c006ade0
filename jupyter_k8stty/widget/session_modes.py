"""How a terminal opens its sessions beyond a plain exec: attach, debug containers, node shells.

A terminal's *mode* is the few :class:`~jupyter_k8stty.exec.session.ExecSession`
options that say what a session joins, kept by the
:class:`~jupyter_k8stty.widget.connection.Connection` apart from its transport options:

* ``{}``: exec the command (a login shell) in the container;
* ``{"attach": True}``: join the container's main process (``kubectl attach``); the
  terminal is read-only when the container was not started with ``stdin: true``;
* ``{"debug": DebugSpec}``: add an ephemeral debug container first (``kubectl debug``),
  then join it.

:func:`terminal_mode` checks ``Terminal``'s arguments before any widget exists.
:func:`follow_debug_container` says what a reconnect opens once a debug container was
added: that same container, joined again (``attach=True, container=debugger-...``), never
a new one. Ephemeral containers cannot be removed from a pod, so each reconnect would
otherwise leave one more behind. :func:`debug_mode` is the header's **Debug** action
(offered when the container has no shell): the terminal's arguments plus a debug
container.

A session that ends because the container has no shell says so on the screen
(:func:`no_shell_notice`) and in an error that leads with the hint (:func:`no_shell_error`).

A node shell (``node/NAME``) needs no mode: each session creates its debug pod and
deletes it when it ends, so a reconnect makes a new pod.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import NO_SHELL_HINT, ArgumentError, one_line
from ..exec.profiles import DebugSpec, default_debug_image
from ..exec.target import ExecTarget

if TYPE_CHECKING:
    from ..exec.session import ExecSession

__all__ = ["debug_mode", "follow_debug_container", "no_shell_error", "no_shell_notice",
           "offered_debug_image", "terminal_mode"]


def terminal_mode(target: ExecTarget, command: list[str] | None, *, attach: bool = False,
                  debug: DebugSpec | str | bool | None = None, debug_target: str | None = None,
                  debug_profile: str | None = None, persist: object = None) -> dict[str, Any]:
    """Check ``Terminal``'s session arguments; return the mode (``ExecSession`` options).

    Args:
        target: where the terminal goes.
        command: its command (``None``: a shell, or the main process with ``attach``).
        attach: join the container's main process.
        debug: add a debug container first (``True``, an image, or a :class:`DebugSpec`).
        debug_target: the container the debug container shares processes with.
        debug_profile: the debug container's security profile.
        persist: the terminal's ``persist=`` (tmux in the container), which combines with
            none of these.

    Raises:
        ArgumentError: an invalid image, profile or container, or arguments that do not
            go together (one line says which).
    """
    node = target.parsed.is_node
    if node and (debug_target is not None
                 or isinstance(debug, DebugSpec) and debug.target_container is not None):
        raise ArgumentError("a debug target container applies to pods, not to a node")
    if node and debug in (None, False) and debug_profile is not None:
        debug = True  # a node shell always has a debug pod: the profile is its
    spec = DebugSpec.of(debug, target_container=debug_target, profile=debug_profile)
    if attach and spec is not None:
        raise ArgumentError("attach joins the container's own main process and debug adds a debug "
                            "container to join: give one of them")
    if attach and command is not None:
        raise ArgumentError("attach joins the container's main process: give no command")
    if attach and node:
        raise ArgumentError(f"a node has no main process to attach to: {target.name} opens a shell "
                            "in a debug pod on the node, leave out attach")
    if persist not in (None, False) and (attach or spec is not None or node):
        what = "attach" if attach else "debug" if spec is not None else target.name
        raise ArgumentError(f"persist runs tmux in the container's own shell: it does not combine "
                            f"with {what}")
    mode: dict[str, Any] = {}
    if attach:
        mode["attach"] = True
    if spec is not None:
        mode["debug"] = spec
    return mode


def debug_mode(target: ExecTarget, mode: dict[str, Any], image: DebugSpec | str | bool = True, *,
               debug_target: str | None = None, debug_profile: str | None = None) -> dict[str, Any]:
    """Return ``mode`` with a debug container added (the **Debug** action: ``image=True``).

    Raises:
        ArgumentError: the terminal is a node shell or an attach, or an invalid image,
            profile or container.
    """
    if target.parsed.is_node:
        raise ArgumentError(f"{target.name} already runs in a debug pod: there is no pod to add a "
                            "debug container to")
    if mode.get("attach"):
        raise ArgumentError("this terminal attaches to a main process: open a new terminal with "
                            "debug= to add a debug container")
    spec = DebugSpec.of(image, target_container=debug_target, profile=debug_profile)
    if spec is None:
        raise ArgumentError("a debug container needs an image, or True for the default one")
    return {**mode, "debug": spec}


def offered_debug_image() -> str:
    """Return the image the **Debug** action would add, for its confirmation ("" if invalid).

    An invalid ``$JUPYTER_K8STTY_DEBUG_IMAGE`` is reported when the action runs.
    """
    try:
        return default_debug_image()
    except ArgumentError:
        return ""


def follow_debug_container(target: ExecTarget, command: list[str] | None, mode: dict[str, Any],
                           session: ExecSession) -> tuple[ExecTarget, dict[str, Any]]:
    """Return the target and mode of the sessions after ``session`` (a reconnect).

    When ``session`` added a debug container, they join it in its pod (the command runs
    there again when there is one); otherwise nothing changes.
    """
    container = session.debug_container
    if container is None:
        return target, mode
    pinned = replace(target, name=session.pod, selector=None, namespace=session.namespace,
                     container=container)
    after = {k: v for k, v in mode.items() if k != "debug"}
    if command is None:
        after["attach"] = True
    return pinned, after


def no_shell_error(error: str) -> str:
    """Return ``error`` as one line, the no-shell hint first (a header cuts a long line short)."""
    text = one_line(error)
    hint = f": {NO_SHELL_HINT}"
    return f"{NO_SHELL_HINT}; {text[:-len(hint)]}" if text.endswith(hint) else text


def no_shell_notice(session: ExecSession) -> bytes:
    """Return the lines a terminal shows when ``session`` found no shell in its container."""
    where = f"container {session.container} of pod {session.name}" if session.container \
        else f"pod {session.name}"
    return (f"\r\n\x1b[1mThere is no shell in {where}\x1b[0m (a distroless image?).\r\n"
            "\x1b[2mDebug, in the header, adds an ephemeral debug container with a shell to the pod "
            "(Terminal.add_debug_container(), or %k8sexec POD --debug); it stays in the pod until "
            "the pod is deleted.\x1b[0m\r\n").encode()
