"""Terminal arguments checked at the edge: one clear line, before any widget or request exists."""

from __future__ import annotations

import math
import threading

import pytest

from jupyter_k8stty import Terminal
from jupyter_k8stty.errors import ArgumentError, TargetError
from jupyter_k8stty.widget import check_options
from jupyter_k8stty.widget.options import check_size


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"fontSize": "abc"}, "xterm option fontSize must be a number between 1 and 200, got 'abc'"),
        ({"fontSize": 0}, "fontSize must be a number between 1 and 200, got 0"),
        ({"fontSize": math.nan}, "fontSize must be a number"),
        ({"scrollback": -1}, "scrollback must be a whole number >= 0, got -1"),
        ({"scrollback": 1.5}, "scrollback must be a whole number"),
        ({"cursorBlink": "yes"}, "cursorBlink must be true or false, got 'yes'"),
        ({"cursorStyle": "blinky"}, "cursorStyle must be one of 'block', 'underline', 'bar'"),
        ({"theme": "dark"}, "theme must be a dict of colours"),
        ({"theme": {"background": 0}}, "theme must be a dict of colour strings ('background' is int)"),
        ({"theme": {"extendedAnsi": "red"}}, "'extendedAnsi' is a list of colour strings"),
        ({"fontWeight": "heavy"}, "fontWeight must be 'normal', 'bold'"),
        ({"rows": 10}, "xterm option rows is set by the terminal: use rows=N"),
        ({"myAddonSetting": object()}, "myAddonSetting must be a JSON value"),
        ({3: 1}, "xterm option names are strings, got 3"),
        (["fontSize"], "options must be a dict of xterm.js options, got list"),
    ],
)
def test_bad_options_fail_with_one_line(options, message):
    with pytest.raises(ArgumentError) as info:
        check_options(options)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_good_and_unknown_options_pass_through():
    options = {
        "fontSize": 15, "lineHeight": 1.2, "scrollback": 0, "cursorBlink": False,
        "cursorStyle": "bar", "fontWeight": 600, "fontWeightBold": "bold",
        "theme": {"background": "#000000", "extendedAnsi": ["#111111"]},
        "screenReaderMode": True, "someFutureOption": {"nested": [1, "two"]},
    }
    assert check_options(options) == options
    assert check_options(None) == {}


@pytest.mark.parametrize(
    ("rows", "message"),
    [(-3, "rows must be between 2 and 500, got -3"), (1, "between 2 and 500, got 1"),
     (501, "got 501"), (2.5, "rows must be a whole number, got 2.5"), (True, "whole number"),
     ("24", "rows must be a whole number, got '24'")],
)
def test_rows_out_of_range_or_not_a_number_fail(rows, message):
    with pytest.raises(ArgumentError, match=message):
        check_size(rows)


def test_cols_are_checked_too():
    assert check_size(24, 80) == (24, 80)
    with pytest.raises(ArgumentError, match="cols must be between 2 and 1000, got 5000"):
        check_size(24, 5000)


def _widget_threads() -> list[str]:
    return [t.name for t in threading.enumerate()
            if t.name.startswith(("k8stty-flush", "k8stty-input", "k8stty-connect"))]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"rows": -3}, ArgumentError, "rows must be between 2 and 500, got -3"),
        ({"options": {"fontSize": "abc"}}, ArgumentError, "fontSize must be a number"),
        ({"command": []}, ArgumentError, "command is empty"),
        ({"command": "ls -l"}, ArgumentError, "not a string"),
        ({"namespace": "Bad_NS"}, TargetError, "namespace"),
        ({"pod_running_timeout": -1}, TargetError, "pod_running_timeout"),
    ],
)
def test_terminal_checks_its_arguments_before_anything_starts(kubeconfig, kwargs, error, message):
    before = _widget_threads()
    command = kwargs.pop("command", None)
    with pytest.raises(error, match=message):
        Terminal("demo", command, kubeconfig=kubeconfig, **kwargs)
    assert _widget_threads() == before


def test_terminal_takes_an_exec_target_or_loose_keywords(kubeconfig):
    from jupyter_k8stty.exec.target import ExecTarget

    target = ExecTarget("demo", namespace="default", kubeconfig=kubeconfig)
    t1 = Terminal(target, ["sh", "-c", "exit 0"])
    t2 = Terminal("demo", ["sh", "-c", "exit 0"], namespace="default", kubeconfig=kubeconfig)
    try:
        assert t1.target == t2.target == target
        for t in (t1, t2):
            assert t.wait(10) == 0, (t.status, t.error)
        assert t1.placeholder == "terminal into default/demo: not connected"
    finally:
        t1.close()
        t2.close()


def test_terminal_size_traits_are_checked(kubeconfig):
    t = Terminal("demo", ["sh", "-c", "sleep 5"], kubeconfig=kubeconfig)
    try:
        import traitlets

        with pytest.raises(traitlets.TraitError, match="rows must be between 2 and 500, got 0"):
            t.rows = 0
        with pytest.raises(traitlets.TraitError, match="cols must be between 2 and 1000"):
            t.cols = 100_000
        assert (t.rows, t.cols) == (24, 80)
        with pytest.raises(traitlets.TraitError, match="xterm option scrollback must be a whole number"):
            t.options = {"scrollback": -1}
        t.options = {"fontSize": 16}
        assert t.options == {"fontSize": 16}
    finally:
        t.close()
