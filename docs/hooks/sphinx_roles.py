"""MkDocs hook: Sphinx roles in docstrings (``:class:`~a.B```) become links in the API reference.

The package's docstrings use Sphinx-style roles for cross-references; mkdocstrings'
Google-style parser leaves them as text, which Markdown renders as ``:class:<code>...</code>``.
This turns each into an *optional* mkdocs-autorefs reference: a link when the object is
documented on the site, plain code otherwise (never a broken link, so ``--strict`` holds).
A leading ``~`` shows only the last name, as in Sphinx.
"""

from __future__ import annotations

import html
import re
from typing import Any

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|exc|obj):<code>(~?)([\w.]+)(\(\))?</code>")


def _replace(match: re.Match[str]) -> str:
    short, target, call = match.group(1), match.group(2), match.group(3) or ""
    shown = target.rsplit(".", 1)[-1] if short else target
    identifier = html.escape(target.lstrip("."), quote=True)
    return f'<autoref identifier="{identifier}" optional><code>{html.escape(shown)}{call}</code></autoref>'


def on_page_content(html_text: str, **kwargs: Any) -> str:
    """Rewrite the roles left in a page's HTML (the API reference, mostly)."""
    return _ROLE.sub(_replace, html_text)
