"""Helpers for algorithm Config dataclasses: build with overrides, validate with messages that name the fix."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, TypeVar

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
        raise ConfigError(
            f"{config_cls.__name__} has no field(s) {', '.join(unknown)}; known fields: {', '.join(sorted(names))}"
        )
    return dataclasses.replace(base, **overrides) if overrides else base


def require(condition: bool, owner: str, field: str, value: Any, allowed: str) -> None:
    """Raise ConfigError ``owner.field = value is invalid: must be <allowed>`` unless ``condition`` holds.

    Example:
        >>> require(0 < 0.99 <= 1, "PPOConfig", "gamma", 0.99, "in (0, 1]")
    """
    if not condition:
        raise ConfigError(f"{owner}.{field} = {value!r} is invalid: must be {allowed}")
