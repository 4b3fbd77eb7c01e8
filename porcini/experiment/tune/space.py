"""The search space of ``porcini tune``: parsing, validation against the algorithm's config, grid and random points.

A space is a YAML mapping from a config key, written as ``--set`` takes it (dotted; a hyperparameter bare,
``learning_rate``, or as ``algo.learning_rate``), to one distribution::

    learning_rate: {loguniform: [1.0e-4, 1.0e-2]}
    gamma: {uniform: [0.9, 0.999]}
    n_epochs: {int: [3, 10]}            # inclusive bounds
    net_arch: {choice: [[64, 64], [256, 256]]}

Every key is checked before anything runs, by resolving a run config with each value a trial could be given at
its ends (both bounds, every choice): a typo or a value out of the field's range is one error naming the key.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from porcini.errors import ConfigError

KINDS = ("choice", "uniform", "loguniform", "int")


@dataclass(frozen=True)
class Distribution:
    """One key's distribution.

    Attributes:
        key: the config key as written in the space (``learning_rate``, ``env.n_envs``).
        kind: ``choice``, ``uniform``, ``loguniform`` or ``int``.
        args: the choices (``choice``) or ``(low, high)``.
    """

    key: str
    kind: str
    args: tuple[Any, ...]

    @property
    def continuous(self) -> bool:
        """Whether the key has infinitely many values (``uniform``, ``loguniform``); grid search refuses these."""
        return self.kind in ("uniform", "loguniform")

    def probes(self) -> list[Any]:
        """The values validation resolves: every choice, or both bounds."""
        return list(self.args)

    def sample(self, rng: np.random.Generator) -> Any:
        """One value drawn with ``rng`` (plain Python types, as YAML writes them)."""
        if self.kind == "choice":
            return self.args[int(rng.integers(len(self.args)))]
        low, high = self.args
        if self.kind == "uniform":
            return float(rng.uniform(low, high))
        if self.kind == "loguniform":
            # clipped: exp(log(x)) can round a hair outside [low, high]
            return float(min(max(math.exp(rng.uniform(math.log(low), math.log(high))), low), high))
        return int(rng.integers(low, high + 1))


@dataclass(frozen=True)
class SearchSpace:
    """The distributions of a search space, in the order of the file."""

    distributions: tuple[Distribution, ...]

    @property
    def keys(self) -> list[str]:
        """The config keys, in order."""
        return [d.key for d in self.distributions]

    def to_dict(self) -> dict[str, dict[str, list[Any]]]:
        """The space as the YAML mapping it was read from."""
        return {d.key: {d.kind: list(d.args)} for d in self.distributions}


def parse_space(data: Any, source: str = "the search space") -> SearchSpace:
    """Parse a search-space mapping (read from YAML) into a :class:`SearchSpace`.

    Raises:
        ConfigError: not a non-empty mapping, or a key whose value is not one valid distribution (the message
            names the key and shows the valid forms).
    """
    if not isinstance(data, Mapping) or not data:
        raise ConfigError(f"{source} must be a non-empty mapping of config keys to distributions, e.g. "
                          "learning_rate: {loguniform: [1.0e-4, 1.0e-2]}")
    return SearchSpace(tuple(_distribution(str(key), spec, source) for key, spec in data.items()))


def load_space(path: str | Path) -> SearchSpace:
    """Read and parse a search-space YAML file.

    Raises:
        ConfigError: the file is missing, not valid YAML, or not a valid space.
    """
    from porcini.experiment.config.dataclass_io import load_yaml

    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"search space file {file} does not exist; write one mapping config keys to distributions")
    return parse_space(load_yaml(file), source=f"search space {file}")


def _distribution(key: str, spec: Any, source: str) -> Distribution:
    forms = "{choice: [a, b]}, {uniform: [low, high]}, {loguniform: [low, high]} or {int: [low, high]}"
    if not isinstance(spec, Mapping) or len(spec) != 1 or next(iter(spec)) not in KINDS:
        raise ConfigError(f"{source}: key '{key}' has {spec!r}; give one distribution: {forms}")
    kind, args = next(iter(spec.items()))
    if not isinstance(args, (list, tuple)) or not args:
        raise ConfigError(f"{source}: key '{key}': {kind} needs a non-empty list, got {args!r}")
    if kind == "choice":
        return Distribution(key, kind, tuple(args))
    if len(args) != 2 or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
        raise ConfigError(f"{source}: key '{key}': {kind} needs [low, high] as two numbers, got {args!r}")
    low, high = args
    if kind == "int" and not (isinstance(low, int) and isinstance(high, int)):
        raise ConfigError(f"{source}: key '{key}': int needs integer bounds, got {args!r}")
    if (low > high) if kind == "int" else (low >= high):
        raise ConfigError(f"{source}: key '{key}': {kind} needs low < high (<= for int), got {args!r}")
    if kind == "loguniform" and low <= 0:
        raise ConfigError(f"{source}: key '{key}': loguniform needs low > 0, got {args!r}")
    return Distribution(key, kind, (low, high) if kind == "int" else (float(low), float(high)))


def validate_space(space: SearchSpace, resolve: Any, base: Mapping[str, Any]) -> None:
    """Resolve a run config once per probe value of every key, so no trial fails on its config.

    Args:
        space: the search space.
        resolve: ``resolve(overrides_mapping) -> RunConfig``, raising ConfigError.
        base: the overrides every trial has (``--set``, ``--steps``).

    Raises:
        ConfigError: ``search space key 'KEY' = VALUE: <the config error>`` (an unknown key with the closest
            valid name, a wrong type, an out-of-range value).
    """
    defaults = {d.key: d.probes()[0] for d in space.distributions}
    for dist in space.distributions:
        for value in dist.probes():
            try:
                resolve({**base, **defaults, dist.key: value})
            except ConfigError as err:
                message = " ".join(str(err).split())
                raise ConfigError(f"search space key '{dist.key}' = {value!r}: {message}") from err


def grid_points(space: SearchSpace, limit: int | None = None) -> list[dict[str, Any]]:
    """The cartesian product of the choices, first key slowest; ``limit`` keeps the first ``limit`` points.

    Raises:
        ConfigError: a key with a continuous distribution (``uniform``, ``loguniform``), which has no grid.
    """
    continuous = [d.key for d in space.distributions if d.continuous]
    if continuous:
        raise ConfigError(f"grid search needs finite values, but {', '.join(continuous)} "
                          f"{'is' if len(continuous) == 1 else 'are'} continuous; write {{choice: [...]}} "
                          "for each key, or use --method random or optuna")
    values: list[Sequence[Any]] = [
        d.args if d.kind == "choice" else range(d.args[0], d.args[1] + 1) for d in space.distributions
    ]
    points = [dict(zip(space.keys, combo)) for combo in itertools.product(*values)]
    return points if limit is None else points[:limit]


def random_points(space: SearchSpace, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` points drawn independently from ``numpy.random.default_rng(seed)``: the same seed, the same points."""
    rng = np.random.default_rng(seed)
    return [{d.key: d.sample(rng) for d in space.distributions} for _ in range(n)]
