"""Credentials never reach notebooks, widget state, logs or error messages; TLS stays verified.

The main test executes a real notebook with nbclient (a real kernel, widget state
stored in the notebook's metadata) against a token-protected sandbox: it opens
terminals, runs commands, and triggers errors (a missing pod, a wrong token, a user
without permission, a wrong CA) with DEBUG logging on for ``jupyter_k8stty``,
``kubernetes``, ``websocket`` and ``urllib3``. The saved ``.ipynb`` and the log file
are then searched for every credential and for the kubeconfig's contents.
"""

from __future__ import annotations

import base64
import json
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
import websocket
from nbclient import NotebookClient

from jupyter_k8stty import ApiError, run
from jupyter_k8stty.cli import build_parser
from jupyter_k8stty.sandbox import Sandbox, tls
from jupyter_k8stty.sandbox.testing import open_exec

#: Seconds any notebook cell may take.
CELL_TIMEOUT = 60
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


@pytest.fixture(scope="module")
def guarded() -> Iterator[Sandbox]:
    sb = Sandbox().start()
    try:
        yield sb
    finally:
        sb.stop()


def _kubeconfig(sb: Sandbox, path: Path, *, token: str | None = None, ca_pem: bytes | None = None,
                client: tls.Certificates | None = None, insecure: bool = False) -> Path:
    sb.write_kubeconfig(path, token=token)
    data = json.loads(path.read_text())
    cluster = data["clusters"][0]["cluster"]
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
        cluster.pop("certificate-authority-data")
    if client is not None:  # a client certificate and key next to the token
        user = data["users"][0]["user"]
        user["client-certificate-data"] = base64.b64encode(client.cert_pem).decode()
        user["client-key-data"] = base64.b64encode(client.key_pem).decode()
    path.write_text(json.dumps(data, indent=2))
    path.chmod(0o600)
    return path


def _pem_body(pem: bytes) -> list[str]:
    """The base64 lines of a PEM block (each one long enough to be unmistakable)."""
    return [line for line in pem.decode().splitlines() if line and not line.startswith("-----")][:-1]


NOTEBOOK = [
    """
    import logging, os
    handler = logging.FileHandler({log!r})
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    for name in ("jupyter_k8stty", "kubernetes", "websocket", "urllib3"):
        logging.getLogger(name).setLevel(logging.DEBUG)
        logging.getLogger(name).addHandler(handler)
    os.environ["KUBECONFIG"] = {good!r}
    %load_ext jupyter_k8stty
    """,
    "term = %k8sexec demo\nterm",
    """
    term.send("echo SCROLL-$((6*7))\\r")
    term.expect("SCROLL" + "-4[2]", timeout=20)
    term.status
    """,
    """
    from jupyter_k8stty import run
    run("demo", ["sh", "-c", "echo RAN-$((1+1))"]).stdout
    """,
    "missing = %k8sexec nope\nmissing",
    'run("nope", ["true"])',
    "unauthorized = %k8sexec demo --kubeconfig {wrong_token}\nunauthorized",
    'run("demo", ["true"], kubeconfig={wrong_token!r})',
    'run("demo", ["true"], kubeconfig={restricted!r})',
    "untrusted = %k8sexec demo --kubeconfig {wrong_ca}\nuntrusted",
    'run("demo", ["true"], kubeconfig={wrong_ca!r})',
    """
    for t in (term, missing, unauthorized, untrusted):
        t.wait(0 if t is term else 20)
    print({{name: (t.status, t.error) for name, t in
           dict(term=term, missing=missing, unauthorized=unauthorized, untrusted=untrusted).items()}})
    """,
]


def test_notebook_outputs_widget_state_and_logs_hold_no_secret(guarded, tmp_path):
    sb = guarded
    client = tls.make_certificates()
    other_ca = tls.make_certificates().ca_pem
    good = _kubeconfig(sb, tmp_path / "good", client=client)
    wrong_token_value = "wrong-" + sb.token[::-1]
    wrong_token = _kubeconfig(sb, tmp_path / "wrong-token", token=wrong_token_value)
    restricted_token = sb.add_user("viewer", ["get pods"])
    restricted = _kubeconfig(sb, tmp_path / "restricted", token=restricted_token)
    wrong_ca = _kubeconfig(sb, tmp_path / "wrong-ca", ca_pem=other_ca)
    log = tmp_path / "debug.log"

    cells = [textwrap.dedent(c).strip().format(log=str(log), good=str(good), wrong_token=str(wrong_token),
                                                restricted=str(restricted), wrong_ca=str(wrong_ca))
             for c in NOTEBOOK]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT, allow_errors=True,
                   store_widget_state=True, resources={"metadata": {"path": str(tmp_path)}}).execute()
    saved = tmp_path / "saved.ipynb"
    nbformat.write(nb, saved)
    notebook_text = saved.read_text()
    log_text = log.read_text()

    # The notebook really ran: terminal, run(), and each error as intended.
    summary = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "'term': ('connected', '')" in summary, summary
    assert "'missing': ('error', 'pods \"nope\" not found')" in summary, summary
    assert re.search(r"'unauthorized': \('error', '[^']*rejected the credentials[^']*401 Unauthorized",
                     summary), summary
    assert re.search(r"'untrusted': \('error', '[^']*(TLS|certificate verify failed)", summary), summary
    assert "RAN-2" in json.dumps(nb.cells[3].outputs)
    errors = {i: o for i, c in enumerate(nb.cells) for o in c.outputs if o.output_type == "error"}
    assert set(errors) == {5, 7, 8, 10}, {i: o.get("evalue") for i, o in errors.items()}
    assert "not found" in errors[5]["evalue"]
    assert "401" in errors[7]["evalue"]
    assert "forbidden" in errors[8]["evalue"].lower()
    assert "certificate verify failed" in errors[10]["evalue"] or "TLS" in errors[10]["evalue"]
    # Widget state was saved (so it is searched too), and it holds no scrollback.
    state = nb.metadata["widgets"][WIDGET_STATE]["state"]
    terminals = [m["state"] for m in state.values() if m["state"].get("title", "").startswith("default/demo")]
    assert terminals and all("status" in t for t in terminals), state
    assert "SCROLL-42" not in notebook_text, "terminal scrollback was saved into the notebook"
    # Logging was on at DEBUG for the HTTP client.
    assert "urllib3" in log_text and "GET /api/v1/namespaces/default/pods/demo" in log_text, log_text[:2000]

    kubeconfig_text = good.read_text()
    secrets = {
        "the bearer token": sb.token,
        "the wrong token": wrong_token_value,
        "the restricted user's token": restricted_token,
        "the token, base64": base64.b64encode(sb.token.encode()).decode(),
        "the client key, base64 in the kubeconfig": base64.b64encode(client.key_pem).decode()[:60],
        "the CA, base64 in the kubeconfig": base64.b64encode(sb.ca_pem).decode()[:60],
        "the kubeconfig's users section": json.dumps(json.loads(kubeconfig_text)["users"])[:80],
    }
    secrets.update({f"client key PEM line {i}": line for i, line in enumerate(_pem_body(client.key_pem))})
    secrets.update({f"CA PEM line {i}": line for i, line in enumerate(_pem_body(sb.ca_pem))})
    for where, text in (("the saved notebook", notebook_text), ("the debug log", log_text)):
        leaked = [name for name, value in secrets.items() if value in text]
        assert not leaked, f"{where} contains {leaked}"
    assert "Authorization" not in log_text and "Bearer" not in log_text


def test_wrong_ca_is_a_clear_tls_error_and_only_the_kubeconfig_can_turn_verification_off(guarded, tmp_path):
    other_ca = tls.make_certificates().ca_pem
    wrong_ca = _kubeconfig(guarded, tmp_path / "wrong-ca", ca_pem=other_ca)
    with pytest.raises(ApiError) as info:
        run("demo", ["true"], kubeconfig=str(wrong_ca), timeout=20)
    assert "certificate verify failed" in str(info.value) or "TLS" in str(info.value), str(info.value)
    assert guarded.token not in str(info.value)
    # Skipping verification is the kubeconfig's explicit choice, never a silent fallback.
    insecure = _kubeconfig(guarded, tmp_path / "insecure", ca_pem=other_ca, insecure=True)
    assert run("demo", ["echo", "ok"], kubeconfig=str(insecure), timeout=20).stdout == b"ok\n"


def test_sandbox_listens_on_loopback_and_refuses_requests_without_its_token(guarded):
    assert guarded.host == "127.0.0.1"
    assert guarded._server.server_address[0] == "127.0.0.1"
    assert build_parser().parse_args(["sandbox"]).host == "127.0.0.1"
    for token in ("", "not-the-token"):
        with pytest.raises(websocket.WebSocketBadStatusException) as info:
            open_exec(guarded, "demo", ["true"], token=token)
        assert info.value.status_code == 401
