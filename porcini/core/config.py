"""Helpers for algorithm Config dataclasses: build with overrides, validate with messages that name the fix."""

from __future__ import annotations

import dataclasses
import difflib
import typing
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from porcini.errors import ConfigError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

C = TypeVar("C", bound="DataclassInstance")


def build_config(config_cls: type[C], config: C | None, overrides: dict[str, Any]) -> C:
    """Return ``config`` (or the defaults of ``config_cls``) with ``overrides`` applied.

    Raises:
        ConfigError: an override names no field of ``config_cls``; the message lists the fields.
    """
    base = config if config is not None else config_cls()
    if not isinstance(base, config_cls):
        raise ConfigError(f"config must be a {config_cls.__name__}, got {type(base).__name__}")
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(names), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"{config_cls.__name__} has no field(s) {', '.join(unknown)}; {hint}known fields: "
                          f"{', '.join(sorted(names))}")
    _check_scalar_types(config_cls, overrides)
    return dataclasses.replace(base, **overrides) if overrides else base


def _check_scalar_types(config_cls: type, overrides: dict[str, Any]) -> None:
    """Raise ConfigError for an override of a field annotated plain ``float``, ``int`` or ``bool`` of another type.

    Without it the field's own range check fails with a bare TypeError (``'>' not supported between 'str' and
    'int'``); other annotations (unions, tuples, schedules) are left to the Config's ``__post_init__``.
    """
    try:
        hints = typing.get_type_hints(config_cls)
    except (NameError, TypeError):  # an annotation that does not resolve at run time: leave it to __post_init__
        return
    for name, value in overrides.items():
        kind: Any = hints.get(name)
        is_bool = isinstance(value, (bool, np.bool_))
        ok = {bool: is_bool, int: isinstance(value, (int, np.integer)) and not is_bool,
              float: isinstance(value, (int, float, np.integer, np.floating)) and not is_bool}.get(kind, True)
        if not ok:
            expected = getattr(kind, "__name__", str(kind))
            raise ConfigError(f"{config_cls.__name__}.{name} = {value!r} is invalid: expected {expected}, got "
                              f"{type(value).__name__}")


def require(condition: bool, owner: str, field: str, value: Any, allowed: str) -> None:
    """Raise ConfigError ``owner.field = value is invalid: must be <allowed>`` unless ``condition`` holds.

    Example:
        >>> require(0 < 0.99 <= 1, "PPOConfig", "gamma", 0.99, "in (0, 1]")
    """
    if not condition:
        raise ConfigError(f"{owner}.{field} = {value!r} is invalid: must be {allowed}")
