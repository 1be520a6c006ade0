"""The widget's custom messages between the kernel and the browser: the complete list.

Every message is a widget custom message: JSON ``{"type": ...}`` plus binary buffers.
``js/src/widget.js`` (and ``js/src/loader.js`` for
``bundle``) handles the kernel-to-browser ones in one ``switch (msg.type)`` and
:class:`~jupyter_k8stty.widget.terminal.Terminal` dispatches the browser-to-kernel
ones through one small dict. Custom messages are never saved in a notebook.

Kernel to browser:

``{"type": "output"}`` + ``[bytes]``
    Raw output of the pod (stdout, and stderr when there is no TTY), coalesced: the
    first bytes after a quiet spell (longer than :data:`~.bridge.FLUSH_INTERVAL`) go out at
    once, so a keystroke's echo is not delayed; bytes arriving within the interval
    after a send are gathered into one message of at most :data:`~.bridge.MAX_MESSAGE` bytes.
``{"type": "replay", "view": id | null}`` + ``[bytes, ...]``
    Reset the screen and write these bytes: the sequences that restore the terminal
    modes in force where the tail begins (alternate screen, cursor, keypad, mouse,
    colours: :mod:`~jupyter_k8stty.widget.screen_modes`; no buffer for this when they
    are all at their defaults), then the last :data:`~.bridge.TAIL_SIZE` bytes of
    output. Sent to the view that sent ``ready`` (``view`` is its id; other views
    ignore it), and with ``view: null`` and no bytes to every view when a new session
    replaces the old one (reconnect).
``{"type": "skip"}``
    An interrupt key was typed while the views were far behind a flood: drop the
    output received and not drawn yet, and count it as acknowledged. The kernel sends
    no ``output`` until ``skipped`` (see :mod:`~jupyter_k8stty.widget.skip_ahead`).
``{"type": "skipped", "bytes": n}`` + ``[bytes]``
    The output calmed down: write these bytes (not acknowledged), which go back to the
    normal screen, add one dim line saying ``n`` bytes were skipped, restore the modes
    and draw the end of the output. Views that did not get ``skip`` ignore it.
``{"type": "error", "message": text}``
    Handling a message from the browser failed: every view shows ``text`` on the
    error line under the terminal (the kernel log has the traceback).
``{"type": "bundle", "hash": hex}`` + ``[javascript, css]``
    The answer to ``bundle``: the front end (``static/widget.js`` and
    ``static/widget.css``) as two binary buffers, and their content hash (see
    :mod:`jupyter_k8stty.widget.bundle`).
``{"type": "snapshot", "request": id, "scrollback": n}``
    :meth:`Terminal.snapshot` asks every view for its screen (and ``n`` rows above
    it); see :mod:`jupyter_k8stty.widget.snapshot`.

Browser to kernel:

``{"type": "input"}`` + ``[bytes]``
    Keystrokes and pastes (UTF-8 from xterm's ``onData``, raw from ``onBinary``).
``{"type": "ack", "view": id, "bytes": n}``
    xterm.js has parsed ``n`` more bytes of ``output`` (the ``write`` callback fired), or
    the view dropped them after ``skip``. Replayed bytes are not acknowledged. A few
    bytes parsed (an echo) are acknowledged up to half a second later, with what follows
    (``js/src/flow.js``).
``{"type": "ready", "view": id}``
    A view rendered (first display, page reload, a second display of the widget); the
    kernel answers with a ``replay`` for that view. Output sent before the replay is
    ignored by the view: the replay already holds it.
``{"type": "detach", "view": id}``
    The view was disposed (output cleared, notebook closed).
``{"type": "reconnect"}``
    Close the session and start a new one with the same arguments.
``{"type": "debug"}``
    The user confirmed the header's **Debug** action (offered while ``no_shell`` is
    true): reopen the terminal in a new ephemeral debug container of its pod, with the
    default image (:meth:`~jupyter_k8stty.widget.terminal.Terminal.add_debug_container`).
``{"type": "error", "message": text}``
    Something failed in the front end (rendering, a message handler, an xterm.js
    callback, or an uncaught error whose stack is in the bundle); the view shows it
    on its error line and the kernel logs it with ``log.warning``.
``{"type": "bundle", "request": id}``
    The loader (the widget's small ``_esm``) asks for the front end; the kernel
    answers with ``bundle``, once per ``id`` (the loader resends a request the kernel
    has not started on, see ``js/src/send.js``; ``ready`` is resent the same way).

Files, both ways (:mod:`jupyter_k8stty.widget.transfers`, ``js/src/transfers.js``). Each
kernel message carries the ``view`` it is for; other views ignore it. Nothing is typed
into the user's shell: a separate exec runs ``tar`` in the terminal's pod and container.

``{"type": "upload-where", "view", "request"}`` (browser)
    Where would an upload go? The kernel answers ``{"type": "upload-where", "view",
    "request", "path", "source": "shell" | "workdir"}`` or ``{..., "error": text}``
    (see :mod:`jupyter_k8stty.widget.shell_dir`).
``{"type": "upload", "view", "id", "dest", "files": [{"name", "size", "dir", "mtime"}]}`` (browser)
    Start an upload into the folder ``dest``: the files (relative names) and folders,
    in the order their data follows.
``{"type": "upload-data", "id"}`` + ``[bytes]`` (browser)
    The next bytes of file data, at most ``UPLOAD_WINDOW`` (2 MiB) ahead of the last
    ``upload-progress``.
``{"type": "upload-progress", "view", "id", "bytes"}`` (kernel)
    ``bytes`` have been handed to ``tar`` in the pod: the browser may send more.
``{"type": "upload-done", "view", "id", "bytes", "error", "dest"}`` (kernel)
    The upload ended; ``error`` is ``null`` or one line.
``{"type": "download", "view", "id", "path"}`` (browser)
    Send a file or folder of the pod (the header's download action).
``{"type": "download-start", "view", "id", "name", "kind": "file" | "tar", "size", "path"}`` (kernel)
    A download begins (also for ``Terminal.download``, to the most recent view): save
    it as ``name``; ``size`` is ``null`` for a folder's ``.tar``.
``{"type": "download-data", "view", "id"}`` + ``[bytes]`` (kernel)
    The next bytes, at most ``DOWNLOAD_WINDOW`` (4 MiB) ahead of the acknowledgements.
``{"type": "download-ack", "id", "bytes"}`` (browser)
    The view has received ``bytes`` more bytes.
``{"type": "download-done", "view", "id", "bytes", "error"}`` (kernel)
    The download ended: the view saves it, unless ``error`` says why not.
``{"type": "upload-cancel" | "download-cancel", "id", "reason"}`` (browser)
    Stop a transfer.
``{"type": "snapshot", "request": id | null, "html": text, "text": text, "cols": n, "rows": n}``
    The screen as HTML (xterm's serialize addon) and as text: the answer to
    ``snapshot``, or, with ``request: null``, the header's snapshot action (the kernel
    adds it to the terminal's own output).

A :class:`~jupyter_k8stty.widget.player.Player` uses the same loader and ``bundle``
messages, then ``ready`` (answered by ``{"type": "cast", "view": id}`` + ``[bytes]``)
and ``error``; see :mod:`jupyter_k8stty.widget.player`.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["AckFn", "SendFn"]

#: ``send(content, buffers)``: the widget's custom-message sender.
SendFn = Callable[[dict, list], None]
#: ``acknowledge(nbytes)``: an exec session's flow-control credit.
AckFn = Callable[[int], None]
