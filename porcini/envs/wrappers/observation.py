"""Observation wrappers: flatten structured observations, keep some Dict keys, one-hot discrete ones, clip."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from porcini.envs.wrappers._common import make_box, require_box, require_env

FLATTENABLE = (gym.spaces.Box, gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary,
               gym.spaces.Dict, gym.spaces.Tuple)


def _check_flattenable(space: gym.Space, path: str = "observation") -> None:
    if isinstance(space, gym.spaces.Dict):
        for key, sub in space.spaces.items():
            _check_flattenable(sub, f"{path}[{key!r}]")
    elif isinstance(space, gym.spaces.Tuple):
        for i, sub in enumerate(space.spaces):
            _check_flattenable(sub, f"{path}[{i}]")
    elif not isinstance(space, FLATTENABLE):
        raise TypeError(
            f"FlattenObservation cannot flatten {path} of space {space}: variable-size spaces (Graph, Sequence, "
            "Text) have no fixed-length vector; drop or encode them with a custom ObservationWrapper first"
        )


class FlattenObservation(gym.ObservationWrapper):
    """Flattens Dict, Tuple, Box and discrete observations into one 1-D Box (Gymnasium's ``spaces.flatten``).

    Dict entries are concatenated in key order (Gymnasium sorts Dict keys), Tuple entries in order; Discrete
    and MultiDiscrete parts become one-hot blocks, Box parts are raveled.

    Args:
        env: a single env whose observation space is built from Box, Discrete, MultiDiscrete, MultiBinary,
            Dict and Tuple.

    Example:
        >>> env = FlattenObservation(gym.make("Blackjack-v1"))  # Tuple(Discrete(32), Discrete(11), Discrete(2))
        >>> env.observation_space.shape
        (45,)
    """

    def __init__(self, env: gym.Env) -> None:
        require_env("FlattenObservation", env, vector=False)
        _check_flattenable(env.observation_space)
        super().__init__(env)
        self.observation_space = gym.spaces.flatten_space(env.observation_space)

    def observation(self, observation: Any) -> np.ndarray:
        """The flattened observation, in the dtype of the flattened space."""
        flat = gym.spaces.flatten(self.env.observation_space, observation)
        return np.asarray(flat, dtype=self.observation_space.dtype)


class FilterObservation(gym.wrappers.FilterObservation):
    """Keeps the listed keys of a Dict observation (the indices of a Tuple one): Gymnasium's ``FilterObservation``.

    The same wrapper and behaviour as Gymnasium's, with one-line errors that name the keys there are, and ``keys``
    accepted for ``filter_keys``. Use it to drop entries deep agents cannot encode, such as MiniGrid's text
    ``mission``: ``FilterObservation(env, filter_keys=["image", "direction"])``.

    Args:
        env: a single env with a Dict or Tuple observation space.
        filter_keys: the keys (Dict) or indices (Tuple) to keep, in this order for a Tuple.
        keys: another name of ``filter_keys``; give one of the two.

    Example:
        >>> from porcini.envs.testing import SpaceEnv
        >>> space = gym.spaces.Dict({"mission": gym.spaces.Text(8), "pos": gym.spaces.Discrete(3)})
        >>> FilterObservation(SpaceEnv(space), keys=["pos"]).observation_space
        Dict('pos': Discrete(3))
    """

    def __init__(self, env: gym.Env, filter_keys: Sequence[str | int] | None = None, *,
                 keys: Sequence[str | int] | None = None) -> None:
        require_env("FilterObservation", env, vector=False)
        if (filter_keys is None) == (keys is None):
            raise TypeError("FilterObservation takes the keys to keep as filter_keys (or keys), exactly one of them")
        chosen = list(filter_keys if filter_keys is not None else keys)  # type: ignore[arg-type]
        space = env.observation_space
        if isinstance(space, gym.spaces.Dict):
            missing = [k for k in chosen if k not in space.spaces]
            if missing:
                raise ValueError(f"FilterObservation: keys {missing} are not in the observation space; its keys are "
                                 f"{list(space.spaces)}")
        elif not isinstance(space, gym.spaces.Tuple):
            raise TypeError(f"FilterObservation needs a Dict or Tuple observation space, got {space}")
        if not chosen:
            raise ValueError("FilterObservation: filter_keys is empty; keep at least one key")
        super().__init__(env, chosen)


class OneHotObservation(gym.ObservationWrapper):
    """Turns a Discrete(n) observation into a float32 one-hot vector of length n (for linear and deep agents).

    Args:
        env: a single env with a Discrete observation space (``start`` is honoured: obs ``start`` -> index 0).

    Example:
        >>> env = OneHotObservation(gym.make("FrozenLake-v1"))
        >>> obs, _ = env.reset(seed=0)
        >>> obs.shape, float(obs.sum())
        ((16,), 1.0)
    """

    def __init__(self, env: gym.Env) -> None:
        require_env("OneHotObservation", env, vector=False)
        space = env.observation_space
        if not isinstance(space, gym.spaces.Discrete):
            raise TypeError(f"OneHotObservation needs a Discrete observation space, got {space}; use "
                            "FlattenObservation for MultiDiscrete, Dict or Tuple observations")
        super().__init__(env)
        self.n = int(space.n)
        self.start = int(space.start)
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(self.n,), dtype=np.float32)

    def observation(self, observation: Any) -> np.ndarray:
        """The one-hot vector of ``observation``."""
        out = np.zeros(self.n, dtype=np.float32)
        out[int(observation) - self.start] = 1.0
        return out


class ClipObservation(gym.ObservationWrapper):
    """Clips Box observations to ``[low, high]`` (scalars or arrays of the observation shape).

    The new bounds are the intersection of ``[low, high]`` with the env's bounds (its integers, for integer
    observations). To clip *normalized*
    observations, use ``NormalizeObservation(clip=...)`` instead.

    Args:
        env: a single env with a Box observation space.
        low: lower bound.
        high: upper bound.

    Example:
        >>> env = ClipObservation(gym.make("CartPole-v1"), low=-1.0, high=1.0)
        >>> float(env.observation_space.high.max())
        1.0
    """

    def __init__(self, env: gym.Env, low: float | np.ndarray, high: float | np.ndarray) -> None:
        require_env("ClipObservation", env, vector=False)
        space = require_box("ClipObservation", env.observation_space, "observation", "clip only applies to Box spaces")
        lo = np.maximum(np.broadcast_to(np.asarray(low, dtype=np.float64), space.shape), space.low)
        hi = np.minimum(np.broadcast_to(np.asarray(high, dtype=np.float64), space.shape), space.high)
        if np.issubdtype(space.dtype, np.integer):  # the integers within the bounds (a cast would truncate)
            lo, hi = np.ceil(lo), np.floor(hi)
        if not np.all(lo <= hi):
            raise ValueError(f"ClipObservation: low {np.asarray(low).tolist()} and high {np.asarray(high).tolist()} "
                             f"leave an empty range within {space}")
        super().__init__(env)
        self._bounds = make_box(lo.astype(space.dtype), hi.astype(space.dtype), space.dtype)
        self.observation_space = self._bounds

    def observation(self, observation: Any) -> np.ndarray:
        """The clipped observation."""
        space = self._bounds
        return np.clip(observation, space.low, space.high).astype(space.dtype)
