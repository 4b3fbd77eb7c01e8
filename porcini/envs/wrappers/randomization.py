"""Domain randomization: env parameters drawn from user-given distributions at every reset.

Also home of the parameter plumbing that ``MultiTask`` and ``Curriculum`` share: reading and writing named
parameters of ``env.unwrapped`` (dotted paths reach nested objects, e.g. ``"model.opt.timestep"`` of a MuJoCo env),
recomputing the attributes some envs derive from them, and the per-episode generator the draws come from.

Seeding: an unseeded ``reset`` draws from ``env.unwrapped.np_random`` *before* resetting the env, so the draws are a
function of the env's generator state (and porcini's resume-by-replay rebuilds them exactly). A seeded
``reset(seed=s)`` draws from a stream spawned from ``s`` that differs from the env's own, then resets the env with
``s``: the first episode starts exactly as it would without the wrapper.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

ParamSetter = Callable[[gym.Env, Mapping[str, Any]], None]
Distribution = Any  # (low, high) tuple, a list of choices, or a callable rng -> value

# Streams spawned from a reset seed, one per wrapper kind, so two wrappers on one env never draw the same numbers.
STREAM_MULTITASK = 1
STREAM_RANDOMIZATION = 2


def _cartpole_derived(env: Any) -> None:
    # CartPole's step reads total_mass and polemass_length, which it computes once in __init__: without this, a new
    # masscart would change nothing and a new length only half of the dynamics.
    env.total_mass = env.masspole + env.masscart
    env.polemass_length = env.masspole * env.length


# (module, class name) -> recompute; looked up by name so that nothing is imported for envs that are not in use
DERIVED_UPDATERS: dict[tuple[str, str], Callable[[Any], None]] = {
    ("gymnasium.envs.classic_control.cartpole", "CartPoleEnv"): _cartpole_derived,
}


def _resolve(env: gym.Env, name: str) -> tuple[Any, str]:
    """The object holding parameter ``name`` (a dotted path from ``env.unwrapped``) and the last attribute name."""
    holder: Any = env.unwrapped
    *path, last = name.split(".")
    for part in path:
        holder = getattr(holder, part)
    return holder, last


def check_env_params(env: gym.Env, names: Sequence[str], owner: str) -> None:
    """Raise AttributeError naming the env and the fix when a parameter name does not exist on ``env.unwrapped``."""
    base = env.unwrapped
    for name in names:
        try:
            holder, last = _resolve(env, name)
            found = hasattr(holder, last)
        except AttributeError:
            found = False
        if not found:
            numeric = sorted(
                k for k, v in vars(base).items() if not k.startswith("_") and isinstance(v, (int, float, np.number))
            )
            raise AttributeError(
                f"{owner}: {type(base).__name__} has no parameter {name!r} to set; numeric attributes of "
                f"env.unwrapped are {numeric} (dotted paths such as 'model.opt.timestep' reach nested objects), "
                "or pass apply= to set parameters your own way"
            )


def get_env_params(env: gym.Env, names: Sequence[str]) -> dict[str, Any]:
    """Copies of the current values of the named parameters (to restore them later)."""
    out = {}
    for name in names:
        holder, last = _resolve(env, name)
        out[name] = copy.deepcopy(getattr(holder, last))
    return out


def set_env_params(env: gym.Env, params: Mapping[str, Any]) -> None:
    """Set attributes of ``env.unwrapped`` (dotted paths allowed) and recompute what known envs derive from them.

    Args:
        env: the env (any wrapper stack; the values go to ``env.unwrapped``).
        params: parameter name -> value.

    Example:
        >>> import gymnasium as gym
        >>> env = gym.make("CartPole-v1")
        >>> set_env_params(env, {"masscart": 2.0})
        >>> env.unwrapped.total_mass
        2.1
    """
    for name, value in params.items():
        holder, last = _resolve(env, name)
        current = getattr(holder, last, None)
        if isinstance(current, np.ndarray):
            current[...] = value  # in place: MuJoCo model arrays cannot be rebound
        else:
            setattr(holder, last, value)
    base = env.unwrapped
    for cls in type(base).__mro__:
        update = DERIVED_UPDATERS.get((cls.__module__, cls.__qualname__))
        if update is not None:
            update(base)
            break


def episode_rng(env: gym.Env, seed: int | None, stream: int) -> np.random.Generator:
    """The generator a wrapper draws an episode's task or parameters from (see the module docstring)."""
    if seed is None:
        rng = env.unwrapped.np_random
        if isinstance(rng, np.random.RandomState):  # e.g. dm_control through shimmy: share its bit generator
            return np.random.Generator(rng._bit_generator)
        return rng
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=(stream,))))


def _check_distribution(name: str, dist: Distribution) -> None:
    if callable(dist):
        return
    if isinstance(dist, tuple):
        if len(dist) != 2 or not all(isinstance(v, (int, float, np.number)) for v in dist):
            raise ValueError(f"DomainRandomization: the range of {name!r} is {dist!r}; give (low, high) numbers")
        if not dist[0] <= dist[1]:
            raise ValueError(f"DomainRandomization: the range of {name!r} is {dist!r}, low > high; swap them")
        return
    if isinstance(dist, (list, np.ndarray)):
        if len(dist) == 0:
            raise ValueError(f"DomainRandomization: the choices of {name!r} are empty; give at least one value")
        return
    raise TypeError(
        f"DomainRandomization: the distribution of {name!r} is {dist!r}; give a (low, high) tuple for a uniform "
        "range, a list of choices, or a callable taking a numpy Generator"
    )


def draw(dist: Distribution, rng: np.random.Generator) -> Any:
    """One value: uniform on a ``(low, high)`` tuple, a uniform choice from a list, or ``dist(rng)``."""
    if callable(dist):
        return dist(rng)
    if isinstance(dist, tuple):
        return float(rng.uniform(dist[0], dist[1]))
    choice = dist[int(rng.integers(len(dist)))]
    return choice.item() if isinstance(choice, np.generic) else choice


class DomainRandomization(gym.Wrapper):
    """Draws env parameters at every reset from user-given distributions and sets them on ``env.unwrapped``.

    Each distribution is a ``(low, high)`` tuple (uniform), a list of choices (uniform choice), or a callable that
    takes a NumPy ``Generator`` and returns a value. The drawn values are in ``info[info_prefix + name]`` at reset
    and at every step (so ``Core(..., info_keys=("param/length",))`` puts them in ``batch.extras``), and in
    :attr:`params`.

    Args:
        env: the env whose ``unwrapped`` attributes are randomized.
        distributions: parameter name (dotted path from ``env.unwrapped``) -> distribution.
        apply: ``apply(env, params)`` sets the values; defaults to :func:`set_env_params`, which also recomputes
            the attributes CartPole derives from its masses and length.
        info_prefix: prefix of the info keys.

    Example:
        >>> import gymnasium as gym
        >>> env = DomainRandomization(gym.make("CartPole-v1"), {"length": (0.4, 0.6), "masscart": [0.5, 1.0]})
        >>> _, info = env.reset(seed=0)
        >>> 0.4 <= info["param/length"] <= 0.6 and info["param/masscart"] in (0.5, 1.0)
        True
    """

    def __init__(
        self,
        env: gym.Env,
        distributions: Mapping[str, Distribution],
        *,
        apply: ParamSetter | None = None,
        info_prefix: str = "param/",
    ) -> None:
        super().__init__(env)
        if not distributions:
            raise ValueError("DomainRandomization needs at least one parameter distribution")
        for name, dist in distributions.items():
            _check_distribution(name, dist)
        if apply is None:
            check_env_params(env, list(distributions), "DomainRandomization")
        self.distributions = dict(distributions)
        self.apply = apply or set_env_params
        self.info_prefix = info_prefix
        self.params: dict[str, Any] = {}
        self._info: dict[str, Any] = {}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Draw and set new parameters, then reset the env."""
        rng = episode_rng(self.env, seed, STREAM_RANDOMIZATION)
        self.params = {name: draw(dist, rng) for name, dist in self.distributions.items()}
        self.apply(self.env, self.params)
        self._info = {self.info_prefix + name: value for name, value in self.params.items()}
        obs, info = self.env.reset(seed=seed, options=options)
        return obs, {**info, **self._info}

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        """Step the env; the episode's parameters are added to ``info``."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        info.update(self._info)
        return obs, reward, terminated, truncated, info
