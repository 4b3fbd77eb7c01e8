"""Help text of config dataclasses: each field's type, default and attribute docstring.

The one source of ``porcini config``'s help and of the hyperparameter tables of the docs site's algorithm pages.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
import typing
from typing import NamedTuple

from porcini.experiment.config.dataclass_io import type_name


def field_docs(config_cls: type) -> dict[str, str]:
    """Return each field's attribute docstring (the string literal right under the field), read with ``ast``.

    Fields inherited from dataclass bases are included; a field without a docstring maps to ``""``. Without
    source code (a class defined in an interactive session) every field maps to ``""``.
    """
    docs: dict[str, str] = {}
    for klass in reversed(config_cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        class_def = next(n for n in ast.parse(source).body if isinstance(n, ast.ClassDef))
        body = class_def.body
        for node, after in zip(body, [*body[1:], None]):
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                text: object = ""
                if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
                    text = after.value.value
                docs[node.target.id] = inspect.cleandoc(text) if isinstance(text, str) else ""
    return {f.name: docs.get(f.name, "") for f in dataclasses.fields(config_cls)}


class FieldHelp(NamedTuple):
    """One field of a config class as its help shows it.

    Attributes:
        name: the field's name (``learning_rate``).
        type: its annotation, readable (``float | None``, see :func:`type_name`).
        default: ``repr`` of its default (``0.0003``), or None for a required field.
        doc: its attribute docstring, dedented; ``""`` without one.
    """

    name: str
    type: str
    default: str | None
    doc: str


def config_fields(config_cls: type) -> list[FieldHelp]:
    """Each field of the dataclass ``config_cls`` with its type, default and docstring, in declaration order.

    The one source of :func:`config_help` and of the hyperparameter tables of the docs site.
    """
    docs = field_docs(config_cls)
    hints = typing.get_type_hints(config_cls)
    rows = []
    for f in dataclasses.fields(config_cls):
        if f.default is not dataclasses.MISSING:
            default: str | None = repr(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = repr(f.default_factory())
        else:
            default = None
        rows.append(FieldHelp(f.name, type_name(hints[f.name]), default, docs[f.name]))
    return rows


def config_help(config_cls: type) -> str:
    """Describe each field as ``name: type = default`` and its docstring, for ``--help``-style output."""
    lines = []
    for row in config_fields(config_cls):
        default = " (required)" if row.default is None else f" = {row.default}"
        lines.append(f"{row.name}: {row.type}{default}")
        lines.extend("    " + line for line in row.doc.splitlines())
    return "\n".join(lines)
