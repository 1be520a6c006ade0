"""Attach to a container's main process, as ``kubectl attach`` does."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlparse

import pytest

from jupyter_k8stty import ExecSession
from jupyter_k8stty.errors import ArgumentError
from jupyter_k8stty.exec.connect import attach_url, exec_url
from jupyter_k8stty.exec.endpoint import attach_settings

# ---- pure: the request and the container's settings --------------------------------------


def test_attach_url_is_kubectls_query():
    # kubectl attach -it demo -c main: PodAttachOptions with the false flags left out.
    url = attach_url("https://10.0.0.1:6443", "default", "demo", container="main", tty=True, stdin=True)
    parsed = urlparse(url)
    assert (parsed.scheme, parsed.netloc, parsed.path) == (
        "wss", "10.0.0.1:6443", "/api/v1/namespaces/default/pods/demo/attach")
    assert parse_qsl(parsed.query) == [("container", "main"), ("stdin", "true"), ("stdout", "true"),
                                       ("tty", "true")]


def test_attach_url_without_tty_asks_for_stderr_and_without_stdin_omits_it():
    url = attach_url("http://h", "ns", "web-0", container=None, tty=False, stdin=False)
    assert urlparse(url).scheme == "ws"
    assert parse_qsl(urlparse(url).query) == [("stdout", "true"), ("stderr", "true")]


def test_exec_url_is_unchanged_by_attach():
    url = exec_url("https://h", "default", "demo", ["sh"], container="main", tty=True, stdin=True)
    assert urlparse(url).path.endswith("/pods/demo/exec")
    assert ("command", "sh") in parse_qsl(urlparse(url).query)


def _pod(**container: object) -> dict:
    return {"spec": {"containers": [{"name": "main", **container}]}}


def test_attach_settings_follow_the_containers_spec():
    assert attach_settings(_pod(stdin=True, tty=True), "main", True) == (True, True, None)
    tty, stdin, note = attach_settings(_pod(tty=True), "main", True)
    assert (tty, stdin) == (True, False)
    assert note == "container main was not started with stdin (stdin: true), so this terminal is read-only"
    tty, stdin, note = attach_settings(_pod(stdin=True), "main", True)
    assert (tty, stdin) == (False, True) and note == "container main did not allocate a TTY"
    # Not asking for stdin is no reason for a note.
    assert attach_settings(_pod(tty=True), "main", False) == (True, False, None)


def test_attach_settings_find_ephemeral_containers():
    pod = {"spec": {"containers": [{"name": "main"}],
                    "ephemeralContainers": [{"name": "debugger-x", "stdin": True, "tty": True}]}}
    assert attach_settings(pod, "debugger-x", True) == (True, True, None)


def test_attach_takes_no_command():
    with pytest.raises(ArgumentError, match="give no command"):
        ExecSession("demo", ["sh"], attach=True)
    session = ExecSession("demo", attach=True)
    assert session.attach and session.command == []
