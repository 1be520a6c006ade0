"""The notebook widget: an xterm.js terminal into a pod (:class:`Terminal`)."""

from .cells import close_all
from .options import check_options
from .player import Player
from .terminal import DEFAULT_SHELL, Terminal

__all__ = ["DEFAULT_SHELL", "Player", "Terminal", "check_options", "close_all"]
