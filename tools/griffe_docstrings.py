"""A Griffe extension for the docs site: porcini's docstrings as mkdocstrings renders them.

porcini's docstrings are Google style with two reStructuredText habits that Markdown does not read:

- ``Example:`` (singular) heads doctests; Griffe's Google parser knows only ``Examples:``, and renders any other
  title as an admonition whose ``>>>`` lines Markdown reads as nested quotes. Here it becomes ``Examples:``.
- Roles such as :class:`~porcini.core.Core` would show their markup; here they become code spans (``Core``).

mkdocs.yml loads this file (``extensions``); the sources stay unchanged, so ``help()`` reads the same text.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE_HEADING = re.compile(r"^(\s*)Example:[ \t]*$", re.MULTILINE)
_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):`(~?)([^`]+)`")


def _code_span(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"``{target.rsplit('.', 1)[-1] if tilde else target.lstrip('.')}``"


def markdown_docstring(text: str) -> str:
    """Return ``text`` with ``Example:`` headings read as ``Examples:`` and RST roles turned into code spans."""
    return _ROLE.sub(_code_span, _EXAMPLE_HEADING.sub(r"\1Examples:", text))


class MarkdownDocstrings(griffe.Extension):
    """Rewrite each object's docstring with :func:`markdown_docstring` before mkdocstrings parses it."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite the docstring of ``obj`` (every kind: module, class, function, attribute)."""
        if obj.docstring is not None:
            obj.docstring.value = markdown_docstring(obj.docstring.value)
