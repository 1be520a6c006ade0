"""The notebook widget: an xterm.js terminal into a pod (:class:`Terminal`)."""

from .terminal import DEFAULT_SHELL, Terminal, close_all

__all__ = ["DEFAULT_SHELL", "Terminal", "close_all"]
