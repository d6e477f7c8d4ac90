"""MkDocs hook: render Sphinx-style cross-reference roles found in docstrings as plain code.

Docstrings use ``:func:`name```, ``:class:`~pkg.mod.Name``` and similar roles; mkdocstrings
renders them literally. This hook drops the role prefix and, for ``~``-prefixed targets,
keeps only the last component, as Sphinx would.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|exc|obj|const|ref|term):(?=<code)")
_TILDE = re.compile(r"<code>~(?:[\w]+\.)*([\w]+)</code>")


def on_page_content(html: str, **kwargs) -> str:
    html = _ROLE.sub("", html)
    return _TILDE.sub(r"<code>\1</code>", html)
