"""Config machinery for any frozen dataclass: typed loading, dotted overrides, YAML round trip, field docs.

It serves :class:`~porcini.experiment.config.RunConfig` and every algorithm's ``XConfig`` alike. A config
class follows one convention: typed fields, an attribute docstring right under each field (the help text), and
range checks in ``__post_init__`` that raise :class:`~porcini.errors.ConfigError`
(``porcini.core.config.require``). Type checks and conversions come from the annotations, here.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from porcini.errors import ConfigError

C = TypeVar("C")


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads ``3e-4`` and ``1e6`` as floats, as YAML 1.2 does."""


class _Dumper(yaml.SafeDumper):
    """``yaml.SafeDumper`` that quotes strings ``_Loader`` would read as floats (``"0E0"``), so text round-trips."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    # YAML reads NEL and the Unicode line and paragraph separators as line breaks, so plain or single-quoted text
    # holding one would come back changed ("\x85" as " "); double quotes escape them
    style = '"' if any(c in text for c in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_str)

for _cls in (_Loader, _Dumper):
    _cls.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )


def yaml_text(data: Any) -> str:
    """YAML text of plain data (dicts, lists, scalars), keys in order, that :func:`load_yaml` reads back equal."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)


def load_yaml(source: str | os.PathLike[str]) -> Any:
    """Parse YAML safely (no object construction) from a path or from text; ``3e-4`` reads as a float.

    Args:
        source: a ``Path`` (any ``os.PathLike``) to read, or YAML text.

    Raises:
        ConfigError: the text is not valid YAML, or the file is not UTF-8 text.
    """
    is_path = isinstance(source, os.PathLike)
    try:
        text = Path(source).read_text() if is_path else source
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read the YAML file {source}: byte {exc.object[exc.start]:#04x} at offset "
                          f"{exc.start} is not UTF-8 text (a binary or damaged file?); save it as UTF-8 YAML") from exc
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"cannot parse the YAML {f'file {source}' if is_path else 'text'}{where}: {problem}; fix the YAML there"
        ) from exc


def dump_yaml(config: Any, path: str | os.PathLike[str] | None = None) -> str:
    """Serialize a (nested) dataclass to YAML, fields in declaration order; write it to ``path`` if given.

    ``from_dict(type(config), load_yaml(text)) == config`` for every config that :func:`from_dict` built.
    """
    text = yaml_text(to_dict(config))
    if path is not None:
        Path(path).write_text(text)
    return text


def parse_override(text: str) -> tuple[tuple[str, ...], Any]:
    """Split ``"env.n_envs=16"`` into ``(("env", "n_envs"), 16)``, parsing the value as YAML.

    ``learning_rate=3e-4`` gives a float, ``net_arch=[64,64]`` a list, ``device=cpu`` a string, ``x=null``
    None. A value that is not valid YAML stays the raw string.

    Raises:
        ConfigError: no ``=`` or an empty key segment.
    """
    key, sep, raw = text.partition("=")
    keys = tuple(key.strip().split("."))
    if not sep or not all(keys):
        raise ConfigError(
            f"override {text!r} is invalid: write key=value, e.g. learning_rate=3e-4 or env.n_envs=16"
        )
    try:
        value = yaml.load(raw, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError:
        value = raw
    return keys, value


def override_items(overrides: Sequence[str] | Mapping[str, Any]) -> list[tuple[tuple[str, ...], Any]]:
    """Normalize overrides (``"a.b=1"`` strings or a ``{"a.b": 1}`` mapping) to ``[(("a", "b"), 1)]``."""
    if isinstance(overrides, Mapping):
        return [(tuple(str(k).split(".")), v) for k, v in overrides.items()]
    if isinstance(overrides, str):
        raise ConfigError(f"overrides must be a list of key=value strings, got the string {overrides!r}")
    return [parse_override(o) for o in overrides]


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str] | Mapping[str, Any]) -> dict[str, Any]:
    """Return a deep copy of ``data`` with dotted overrides set; missing sections are created.

    Args:
        data: nested plain data (parsed YAML).
        overrides: ``"a.b=1"`` strings or a mapping ``{"a.b": 1}``. :func:`from_dict` checks types later.

    Raises:
        ConfigError: an override descends into a key that holds a value, not a section.
    """
    result = deep_merge({}, data)
    for keys, value in override_items(overrides):
        node = result
        for depth, part in enumerate(keys[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                where = ".".join(keys[: depth + 1])
                raise ConfigError(f"cannot set {'.'.join(keys)}: {where} = {child!r} is not a section")
            node = child
        node[keys[-1]] = value
    return result


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``top`` into a copy of ``base``: nested mappings merge key by key, anything else is replaced."""
    result = {k: _copy(v) for k, v in base.items()}
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = _copy(value)
    return result


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def from_dict(config_cls: type[C], data: Mapping[str, Any] | None, *, path: str = "") -> C:
    """Build the dataclass ``config_cls`` from plain data, converting each value to its field's type.

    Nested dataclass fields take nested mappings. Conversions are those of :func:`convert`; range checks are
    the dataclass's own ``__post_init__``.

    Args:
        config_cls: a dataclass type, e.g. ``RunConfig`` or ``PPOConfig``.
        data: field name -> value; None means all defaults.
        path: prefix naming this section in error messages (``"algo."``).

    Raises:
        ConfigError: an unknown key (with the closest valid name), a missing required field, a value that does
            not convert to the field's type, or a value that ``__post_init__`` rejects.
    """
    if not dataclasses.is_dataclass(config_cls):
        raise TypeError(f"{config_cls!r} is not a dataclass")
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        where = path.rstrip(".") or config_cls.__name__
        raise ConfigError(f"{where} = {data!r} is invalid: expected a mapping of {config_cls.__name__} keys")
    fields = {f.name: f for f in dataclasses.fields(config_cls) if f.init}
    unknown = [str(k) for k in data if k not in fields]
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(fields), n=1, cutoff=0.5)
        hint = f"; did you mean '{path}{close[0]}'?" if close else "."
        raise ConfigError(
            f"unknown config key '{path}{unknown[0]}'{hint} Valid keys of {config_cls.__name__}: "
            f"{', '.join(fields)}"
        )
    hints = typing.get_type_hints(config_cls)
    kwargs = {name: convert(value, hints[name], f"{path}{name}") for name, value in data.items()}
    for name, f in fields.items():
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if name not in kwargs and required:
            raise ConfigError(f"config key '{path}{name}' is required ({type_name(hints[name])})")
    try:
        return config_cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{path.rstrip('.')}: {exc}" if path else str(exc)) from None


def convert(value: Any, tp: Any, where: str) -> Any:
    """Convert parsed YAML ``value`` to the annotated type ``tp``, or raise ConfigError naming ``where``.

    Supported: ``bool`` (true/false only), ``int`` (also integral floats such as ``1e6``), ``float`` (also
    ints), ``str``, ``Path``, ``Literal[...]``, ``X | None``, unions (the first member that fits; a list or
    mapping that only one member can hold gets that member's error, naming the bad item), ``tuple[X, ...]``,
    ``tuple[X, Y]``, ``list[X]``, ``dict[K, V]``, nested dataclasses and ``Any``. Numeric fields also take
    numeric strings (``"3e-4"``, which YAML 1.1 readers return).
    """
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any or tp is object:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for member in (a for a in args if a is not type(None)):
            try:
                return convert(value, member, where)
            except ConfigError as exc:
                errors.append((member, exc))
        # a list or mapping that only one member can hold: that member's error names the bad item, where
        # "expected tuple[int, ...] | ..., got list" would blame the list itself
        same_shape = [exc for member, exc in errors if _shape(member) == _shape(value)]
        if _shape(value) is not None and len(same_shape) == 1:
            raise same_shape[0]
        raise _type_error(value, tp, where)
    if origin is Literal:
        for allowed in args:
            if allowed == value and type(allowed) is type(value):
                return allowed
        raise ConfigError(f"{where} = {value!r} is invalid: must be one of {', '.join(map(repr, args))}")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise _type_error(value, tp, where)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{where} = {value!r} is invalid: expected {type_name(tp)}")
            return tuple(convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        items = [convert(v, args[0] if args else Any, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise _type_error(value, tp, where)
        key_tp, value_tp = args if args else (Any, Any)
        return {convert(k, key_tp, where): convert(v, value_tp, f"{where}.{k}") for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise _type_error(value, tp, where)
        return from_dict(tp, value, path=f"{where}.")
    return _convert_scalar(value, tp, where)


def _shape(value_or_type: Any) -> str | None:
    """``"sequence"`` or ``"mapping"`` for a value or an annotation of that kind; None for anything else."""
    origin = typing.get_origin(value_or_type)
    if isinstance(value_or_type, (list, tuple)) or origin in (list, tuple):
        return "sequence"
    is_config_class = isinstance(value_or_type, type) and dataclasses.is_dataclass(value_or_type)
    if isinstance(value_or_type, Mapping) or origin is dict or value_or_type is dict or is_config_class:
        return "mapping"
    return None


def _convert_scalar(value: Any, tp: Any, where: str) -> Any:
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        value = _number(value) if isinstance(value, str) else value
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif tp is float:
        value = _number(value) if isinstance(value, str) else value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where} = {value!r} is invalid: expected a string (quote it: '\"{value}\"')")
    elif tp is Path:
        if isinstance(value, (str, Path)):
            return Path(value)
    elif isinstance(tp, type) and isinstance(value, tp):
        return value
    raise _type_error(value, tp, where)


def _number(text: str) -> Any:
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    return text


def _type_error(value: Any, tp: Any, where: str) -> ConfigError:
    return ConfigError(
        f"{where} = {value!r} is invalid: expected {type_name(tp)}, got {type(value).__name__}"
    )


def type_name(tp: Any) -> str:
    """Return a readable name of an annotation: ``int``, ``float | None``, ``tuple[int, ...]``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return "one of " + ", ".join(map(repr, args))
    if origin in (typing.Union, types.UnionType):
        return " | ".join("None" if a is type(None) else type_name(a) for a in args)
    if origin is not None:
        inner = ", ".join("..." if a is Ellipsis else type_name(a) for a in args)
        return f"{origin.__name__}[{inner}]" if args else origin.__name__
    return getattr(tp, "__name__", str(tp))


def to_dict(config: Any) -> Any:
    """Return YAML-ready plain data of a (nested) dataclass: tuples become lists, paths strings."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: to_dict(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, Mapping):
        return {to_dict(k): to_dict(v) for k, v in config.items()}
    if isinstance(config, (list, tuple)):
        return [to_dict(v) for v in config]
    if isinstance(config, Path):
        return str(config)
    if type(config).__module__ == "numpy" and hasattr(config, "item"):  # NumPy scalar -> Python number
        return config.item()
    return config
