"""Mixed sources: one vector env whose indices come from different env factories, labelled per index.

The typical use is sim-to-real work without the real thing: a simulator and a second simulator with other physics
standing in for "sim" and "real", stepped together by one agent in one loop. Every index carries its source's label:
``env.source_labels`` (str per index), ``env.source_ids`` (int per index, the position of the label in
``env.source_names``) and ``info["source"]`` at reset and every step, so ``Core(..., info_keys=("source",))`` puts
the ids in ``batch.extras["source"]`` (shape ``[T, B]``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from porcini.envs.make import Wrapper, attach, env_factory, seed_vector_env, split_wrappers, wrapped_factory
from porcini.envs.vector import SerialVectorEnv
from porcini.envs.wrappers.episode import time_limit
from porcini.errors import EnvCheckError

SourceSpec = tuple[str | Callable[..., gym.Env], int]


def _returning(env: gym.Env) -> Callable[[], gym.Env]:
    return lambda: env


class MixedVectorEnv(SerialVectorEnv):
    """A :class:`SerialVectorEnv` over several sources, adding ``info["source"]`` (int ``[B]``) to every result.

    Args:
        sources: ``(label, factory, n_envs)`` per source, in index order; all envs must share spaces.
        source_names: every label ids may refer to, in id order (defaults to the labels of ``sources``); a copy
            with fewer sources (``spawn``) keeps the ids of the full env.
        env_id: the name used in messages and ``EnvInfo``.
        check: validate actions, observations and rewards on every step.
    """

    def __init__(
        self,
        sources: Sequence[tuple[str, Callable[[], gym.Env], int]],
        *,
        source_names: Sequence[str] | None = None,
        env_id: str = "mixed",
        check: bool = True,
    ) -> None:
        self.source_names = list(source_names) if source_names is not None else [s[0] for s in sources]
        labels, envs = [], []
        for label, factory, count in sources:
            if label not in self.source_names:
                raise ValueError(f"source {label!r} is not among source_names {self.source_names}")
            for _ in range(count):
                labels.append(label)
                envs.append(factory())
        if not envs:
            raise ValueError("a mixed env needs at least one env; every source has n_envs = 0")
        first = envs[0]
        for label, env in zip(labels, envs):
            if env.observation_space != first.observation_space or env.action_space != first.action_space:
                raise EnvCheckError(
                    f"the sources of mixed env {env_id} must share spaces: source {label!r} has "
                    f"{env.observation_space}, {env.action_space} but source {labels[0]!r} has "
                    f"{first.observation_space}, {first.action_space}; wrap the sources to common spaces"
                )
        super().__init__([_returning(e) for e in envs], env_id=env_id, check=check)
        self.source_labels: list[str] = labels
        self.source_ids = np.array([self.source_names.index(label) for label in labels], dtype=np.int64)
        self._all = np.ones(self.num_envs, dtype=np.bool_)

    def _label(self, info: dict[str, Any]) -> dict[str, Any]:
        info["source"] = self.source_ids.copy()
        info["_source"] = self._all.copy()
        return info

    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset every env (an int seed as in ``SerialVectorEnv``); ``info["source"]`` holds the source ids."""
        obs, info = super().reset(seed=seed, options=options)
        return obs, self._label(info)

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every env (same-step autoreset); ``info["source"]`` holds the source ids."""
        obs, reward, terminated, truncated, info = super().step(actions)
        return obs, reward, terminated, truncated, self._label(info)


def split_counts(counts: Sequence[int], n_envs: int) -> list[int]:
    """``n_envs`` split over sources in proportion to ``counts`` (largest remainder; ties go to earlier sources)."""
    total = sum(counts)
    if n_envs == total:
        return list(counts)
    exact = np.asarray(counts, dtype=np.float64) * n_envs / total
    out = np.floor(exact).astype(int)
    order = sorted(range(len(counts)), key=lambda i: (-(exact[i] - out[i]), i))
    for i in order[: n_envs - int(out.sum())]:
        out[i] += 1
    return out.tolist()


def _source_counts(sources: Mapping[str, SourceSpec]) -> list[int]:
    """The ``n_envs`` of each source; refuses no sources, malformed ones, or no env at all."""
    if not sources:
        raise ValueError("make_mixed_env needs at least one source: {'sim': ('CartPole-v1', 4), ...}")
    for label, spec in sources.items():
        if not (isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], (int, np.integer))
                and spec[1] >= 0):
            raise ValueError(
                f"make_mixed_env: source {label!r} is {spec!r}; give (Gymnasium id or factory, n_envs >= 0)"
            )
    counts = [int(spec[1]) for spec in sources.values()]
    if sum(counts) < 1:
        raise ValueError(f"make_mixed_env: the sources {dict(sources)} hold no env; give some source n_envs >= 1")
    return counts


def make_mixed_env(
    sources: Mapping[str, SourceSpec],
    seed: int | None = None,
    wrappers: Sequence[Wrapper] = (),
    *,
    check: bool = True,
    max_episode_steps: int | None = None,
    env_id: str | None = None,
) -> Any:
    """Build one vector env whose indices come from several env ids or factories, labelled by source.

    Indices are laid out source by source, in the order of ``sources``.

    Args:
        sources: label -> ``(Gymnasium id or factory, n_envs)``; all envs must share observation and action spaces.
        seed: env ``i`` is reset once here with ``porcini.seeding.env_reset_seeds(seed, n)[i]``, and the action
            spaces are seeded (as in ``make_env``).
        wrappers: as in ``make_env``: ``gymnasium.Wrapper`` classes and callables wrap each env, ``VectorWrapper``
            classes wrap the vector env, ``(cls, kwargs)`` passes arguments.
        check: validate actions, observations and rewards on every step.
        max_episode_steps: override every source's time limit.
        env_id: name for messages and ``EnvInfo`` (default ``"mixed[sim,real]"`` from the labels).

    Returns:
        A :class:`MixedVectorEnv` (possibly inside the given vector wrappers) with ``source_labels``,
        ``source_ids``, ``source_names``, ``.info`` and ``.spawn(n_envs, seed)``; a spawned copy with another
        ``n_envs`` splits it over the sources in the same proportions.

    Example:
        >>> import gymnasium as gym
        >>> heavy = lambda: gym.make("CartPole-v1", disable_env_checker=True).unwrapped
        >>> env = make_mixed_env({"sim": ("CartPole-v1", 2), "real": (heavy, 1)}, seed=0)
        >>> env.source_labels, env.source_ids.tolist()
        (['sim', 'sim', 'real'], [0, 0, 1])
    """
    counts = _source_counts(sources)
    name = env_id or f"mixed[{','.join(sources)}]"
    per_env, vector_wrappers = split_wrappers(wrappers)
    layout = [(label, wrapped_factory(env_factory(spec[0], {}, max_episode_steps), per_env), int(spec[1]))
              for label, spec in sources.items()]
    venv: Any = MixedVectorEnv(layout, env_id=name, check=check)
    inner = venv
    for w in vector_wrappers:
        venv = w(venv)
    seed_vector_env(venv, seed)
    if venv is not inner:
        for attr in ("source_labels", "source_ids", "source_names"):
            setattr(venv, attr, getattr(inner, attr))

    def spawn(n_envs: int, spawn_seed: int | None) -> Any:
        scaled = split_counts(counts, n_envs)
        specs = {label: (spec[0], k) for (label, spec), k in zip(sources.items(), scaled)}
        return make_mixed_env(specs, spawn_seed, wrappers, check=check, max_episode_steps=max_episode_steps,
                              env_id=name)

    attach(venv, name, spawn)
    horizons: set[int | None] = {time_limit(e) for e in inner.envs}
    if len(horizons) > 1:
        venv.info = dataclasses.replace(venv.info, horizon=_longest_horizon(horizons))
    return venv


def _longest_horizon(horizons: set[int | None]) -> int | None:
    """Sources with different time limits: the longest bounds every episode (None: one source is unbounded)."""
    return None if None in horizons else max(h for h in horizons if h is not None)
