"""The MIME bundle that displays a widget, the same under ipywidgets 7 and 8.

anywidget builds it from ``DOMWidget._repr_mimebundle_``, which ipywidgets 7 lacks:
there some anywidget releases return nothing and the cell shows no terminal. This
builds the bundle itself when the base classes give none.
"""

from __future__ import annotations

from typing import Any

import ipywidgets

#: The widget-view MIME type every Jupyter frontend with a widget manager renders.
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"


def view_bundle(widget: ipywidgets.DOMWidget, base: Any, text: str) -> tuple[dict, dict] | None:
    """Return ``(data, metadata)`` showing ``widget``, with ``text`` as its ``text/plain``.

    Args:
        widget: the widget to display.
        base: what the base classes' ``_repr_mimebundle_`` returned (``None``, a dict
            under plain ipywidgets 8, or anywidget's ``(data, metadata)``).
        text: what frontends without widgets show (nbviewer, GitHub, a text console).
    """
    if widget._view_name is None:
        return None
    if isinstance(base, tuple):
        data, metadata = base
    else:
        data, metadata = dict(base or {}), {}
    if WIDGET_VIEW_MIME not in data:
        major, minor = _protocol_version()
        data[WIDGET_VIEW_MIME] = {"version_major": major, "version_minor": minor,
                                  "model_id": widget.model_id}
    return {**data, "text/plain": text}, metadata


def _protocol_version() -> tuple[int, int]:
    """Return the widget protocol of the installed ipywidgets: 2.0 for 7, 2.1 for 8."""
    major, minor, *_ = str(getattr(ipywidgets, "__protocol_version__", "2.0.0")).split(".")
    return int(major), int(minor)
