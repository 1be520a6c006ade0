"""The notebook widget: an xterm.js terminal into a pod (:class:`Terminal`)."""

from .cells import close_all
from .options import check_options
from .terminal import DEFAULT_SHELL, Terminal

__all__ = ["DEFAULT_SHELL", "Terminal", "check_options", "close_all"]
