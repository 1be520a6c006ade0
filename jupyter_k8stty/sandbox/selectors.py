"""Label and field selectors as the Kubernetes API server parses them (the subset we need)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

Matcher = Callable[[Mapping[str, str]], bool]


class SelectorError(ValueError):
    """A selector string that cannot be parsed."""


def _split_terms(selector: str) -> list[str]:
    # Commas separate terms, except inside the parentheses of a set ("in (a,b)").
    terms, depth, start = [], 0, 0
    for i, ch in enumerate(selector):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            terms.append(selector[start:i])
            start = i + 1
    terms.append(selector[start:])
    return [t.strip() for t in terms if t.strip()]


_SET_RE = re.compile(r"^([^\s!=(),]+)\s+(in|notin)\s*\(([^)]*)\)$")
_CMP_RE = re.compile(r"^([^\s!=(),]+)\s*(==|!=|=)\s*([^\s!=(),]*)$")
_KEY_RE = re.compile(r"^(!?)\s*([^\s!=(),]+)$")


def _term_matcher(term: str) -> Matcher:
    m = _SET_RE.match(term)
    if m:
        key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
        if op == "in":
            return lambda labels: key in labels and labels[key] in values
        return lambda labels: key not in labels or labels[key] not in values
    m = _CMP_RE.match(term)
    if m:
        key, op, value = m.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: key in labels and labels[key] == value
    m = _KEY_RE.match(term)
    if m:
        negate, key = m.group(1) == "!", m.group(2)
        return (lambda labels: key not in labels) if negate else (lambda labels: key in labels)
    raise SelectorError(f"unable to parse requirement: {term!r}")


def parse_label_selector(selector: str | None) -> Matcher:
    """Return a predicate over a label mapping for a ``labelSelector`` string.

    Supports ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``, ``k in (a,b)`` and
    ``k notin (a,b)``; commas join terms with AND.

    Raises:
        SelectorError: the selector is malformed.
    """
    matchers = [_term_matcher(t) for t in _split_terms(selector or "")]
    return lambda labels: all(m(labels) for m in matchers)


def parse_field_selector(selector: str | None) -> Matcher:
    """Return a predicate over a flat field mapping for a ``fieldSelector`` string.

    Only ``=``, ``==`` and ``!=`` exist for fields, as in the real API.

    Raises:
        SelectorError: the selector is malformed.
    """
    matchers = []
    for term in _split_terms(selector or ""):
        m = _CMP_RE.match(term)
        if not m:
            raise SelectorError(f"invalid selector: {term!r}; can't understand {term!r}")
        key, op, value = m.groups()
        if op == "!=":
            matchers.append(lambda f, k=key, v=value: f.get(k) != v)
        else:
            matchers.append(lambda f, k=key, v=value: f.get(k) == v)
    return lambda fields: all(m(fields) for m in matchers)
