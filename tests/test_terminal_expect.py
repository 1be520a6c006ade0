"""Terminal.send / expect / output / wait / close, in-process against the sandbox.

The widget needs no front end to run: created outside a kernel it has no comm, and
its session, bridge and threads work exactly as in a notebook.
"""

from __future__ import annotations

import pytest

from jupyter_k8stty import StreamError, Terminal

from .helpers import live_threads, wait_until

ASK_NAME = ["bash", "-c", "read -p 'Name? ' n; echo \"hello $n\""]


@pytest.fixture
def terminals():
    made: list[Terminal] = []

    def make(*args, **kwargs) -> Terminal:
        t = Terminal(*args, **kwargs)
        made.append(t)
        return t

    yield make
    for t in made:
        t.close()


def test_expect_drives_an_interactive_prompt(kubeconfig, terminals):
    t = terminals("demo", ASK_NAME, kubeconfig=kubeconfig)
    prompt = t.expect(r"Name\? ")
    assert prompt.group() == "Name? "
    t.send("Wörld\r")
    match = t.expect(r"hello (\S+)\r\n")
    assert match.group(1) == "Wörld"
    assert t.wait(10) == 0
    assert t.status == "exited" and t.exit_code == 0
    assert "Name? Wörld\r\nhello Wörld\r\n" in t.output


def test_each_match_consumes_the_output_up_to_its_end(kubeconfig, terminals):
    script = 'for i in 1 2 3; do read -p "Q$i? " a; echo "A$i=[$a]"; done; echo bye'
    t = terminals("demo", ["bash", "-c", script], kubeconfig=kubeconfig)
    answers = []
    for reply in ("x", "y", "z"):
        question = t.expect(r"Q(\d)\? ")
        t.send(reply + "\r")
        answer = t.expect(r"A(\d)=\[(\w*)\]")
        answers.append((question.group(1), answer.group(1), answer.group(2)))
    assert answers == [("1", "1", "x"), ("2", "2", "y"), ("3", "3", "z")]
    t.expect("bye")
    assert t.wait(10) == 0
    # Everything up to "bye" was consumed and the stream ended: no stale match.
    with pytest.raises(TimeoutError, match="before the session ended"):
        t.expect(r"Q\d\? ", timeout=5)


def test_expect_times_out_with_the_last_output_in_the_message(kubeconfig, terminals):
    t = terminals("demo", ["bash", "-c", "echo waiting-here; sleep 30"], kubeconfig=kubeconfig)
    t.expect("waiting-here")
    t.send("typed\r")  # echoed by the TTY, so it shows in the message
    with pytest.raises(TimeoutError, match=r"within 0.5 s; last output: .*typed"):
        t.expect("never-printed", timeout=0.5)


def test_a_shell_session_round_trip_then_close(kubeconfig, terminals):
    t = terminals("demo", ["sh"], kubeconfig=kubeconfig)
    t.send("PS1='RE''ADY> '\r")  # the echoed command does not contain the prompt
    t.expect(r"READY> ")
    t.send("echo $((6 * 7))-$HOSTNAME\r")
    assert t.expect(r"(\d+)-demo\r\n").group(1) == "42"
    t.close()
    assert t.status == "closed"
    assert t.wait(5) is None
    with pytest.raises(StreamError):
        t.send("echo after close\r")
    assert wait_until(lambda: not live_threads("k8stty-reader-default/demo"))


def test_a_new_session_after_reconnect_starts_a_fresh_search(kubeconfig, terminals):
    t = terminals("demo", ["bash", "-c", "echo session-start; read x; echo got-$x"],
                  kubeconfig=kubeconfig)
    t.expect("session-start")
    t.reconnect()
    t.expect("session-start", timeout=10)  # found again: the new session printed it
    t.send("two\r")
    assert t.expect(r"got-(\w+)").group(1) == "two"
    assert t.wait(10) == 0
