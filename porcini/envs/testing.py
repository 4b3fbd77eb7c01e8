"""Tiny environments made for tests: their transitions are predictable, so loop bugs show up as wrong numbers."""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np


class CountingEnv(gym.Env):
    """Observation ``[episode, t]``: the episode's index (per env instance) and the step within it.

    Reward 1 per step. Ends with ``terminated`` after ``terminate_at`` steps or ``truncated`` after
    ``truncate_at`` steps (whichever comes first). Because ``next_obs[1] == obs[1] + 1`` and ``next_obs[0] ==
    obs[0]`` for every true transition, a transition that crosses an episode boundary is easy to detect.

    Args:
        terminate_at: steps after which the MDP terminates, or None.
        truncate_at: steps after which the episode is truncated (a time limit), or None.
        n_actions: size of the Discrete action space (actions do not matter).
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, terminate_at: int | None = None, truncate_at: int | None = None, n_actions: int = 2) -> None:
        self.terminate_at = terminate_at
        self.truncate_at = truncate_at
        self.observation_space = gym.spaces.Box(0.0, 1e6, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(n_actions)
        self._episode = -1
        self._t = 0

    def _obs(self) -> np.ndarray:
        return np.array([self._episode, self._t], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Start the next episode at t = 0 (a seed restarts the episode count, so seeded resets repeat)."""
        super().reset(seed=seed)
        self._episode = 0 if seed is not None else self._episode + 1
        self._t = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Advance t by one; reward 1."""
        self._t += 1
        terminated = self.terminate_at is not None and self._t >= self.terminate_at
        truncated = not terminated and self.truncate_at is not None and self._t >= self.truncate_at
        return self._obs(), 1.0, bool(terminated), bool(truncated), {"t": self._t}


class IdentityEnv(gym.Env):
    """Observation is a random integer in ``[0, n)``; reward 1 when the action equals it (a bandit with context).

    Episodes last ``episode_length`` steps and end with ``truncated``. An agent that learns anything gets
    return ``episode_length``; a random one ``episode_length / n``.
    """

    def __init__(self, n: int = 4, episode_length: int = 10) -> None:
        self.n = n
        self.episode_length = episode_length
        self.observation_space = gym.spaces.Discrete(n)
        self.action_space = gym.spaces.Discrete(n)
        self._state = 0
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict]:
        """Draw the first context."""
        super().reset(seed=seed)
        self._t = 0
        self._state = int(self.np_random.integers(self.n))
        return self._state, {}

    def step(self, action: Any) -> tuple[int, float, bool, bool, dict]:
        """Reward 1 for the matching action, then draw the next context."""
        reward = float(int(action) == self._state)
        self._t += 1
        self._state = int(self.np_random.integers(self.n))
        return self._state, reward, False, self._t >= self.episode_length, {}


class SlowEnv(gym.Env):
    """A noisy walk on a line whose every step sleeps, so that ``make_env``'s ``auto`` steps it in subprocesses.

    Observation ``[position, t / episode_length]``; action 0 moves left and 1 right by 0.1, plus Gaussian noise
    from ``np_random`` (as is the start position), so replaying an episode needs the env's RNG state. Reward
    ``-|position|``; episodes end with ``truncated`` after ``episode_length`` steps.

    Args:
        step_seconds: wall time one step sleeps.
        episode_length: steps per episode.
        global_noise: draw the step noise from NumPy's global RNG instead, as some third-party envs do: such an env
            cannot be rebuilt by replaying its actions.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, step_seconds: float = 5e-3, episode_length: int = 30, global_noise: bool = False) -> None:
        self.step_seconds = step_seconds
        self.episode_length = episode_length
        self.global_noise = global_noise
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self._position = 0.0
        self._t = 0

    def _obs(self) -> np.ndarray:
        return np.array([self._position, self._t / self.episode_length], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Draw the start position from ``np_random``."""
        super().reset(seed=seed)
        self._position = float(self.np_random.uniform(-1.0, 1.0))
        self._t = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Sleep ``step_seconds``, then move by the action and the noise."""
        time.sleep(self.step_seconds)
        rng = np.random if self.global_noise else self.np_random
        self._position += 0.1 * (2 * int(action) - 1) + float(rng.normal(0.0, 0.05))
        self._t += 1
        return self._obs(), -abs(self._position), False, self._t >= self.episode_length, {}


class SpaceEnv(gym.Env):
    """Observations drawn from any given observation space, for testing agents on every kind of space.

    Each observation is ``observation_space.sample()`` with the space reseeded from ``np_random``, so an episode
    repeats from the env's seed (and can be rebuilt on resume). Reward 1 when the action is 0 (Discrete actions)
    or ``-|action|^2`` (Box, MultiDiscrete and MultiBinary actions); episodes end with ``truncated`` after
    ``episode_length`` steps.

    Args:
        observation_space: any Gymnasium space, Dict and Tuple included.
        action_space: a Discrete, Box, MultiDiscrete or MultiBinary space (Discrete(2) by default).
        episode_length: steps per episode.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, observation_space: gym.Space, action_space: gym.Space | None = None,
                 episode_length: int = 20) -> None:
        self.observation_space = observation_space
        self.action_space = action_space if action_space is not None else gym.spaces.Discrete(2)
        self.episode_length = episode_length
        self._t = 0

    def _obs(self) -> Any:
        self.observation_space.seed(int(self.np_random.integers(2**31)))
        return self.observation_space.sample()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        """Draw the first observation."""
        super().reset(seed=seed)
        self._t = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        """Reward the action, then draw the next observation."""
        if isinstance(self.action_space, gym.spaces.Discrete):
            reward = float(int(action) == 0)
        else:
            reward = -float(np.sum(np.square(action)))
        self._t += 1
        return self._obs(), reward, False, self._t >= self.episode_length, {}


class DictObsEnv(SpaceEnv):
    """:class:`SpaceEnv` with MiniGrid's observation space: an ``image`` (uint8), a ``direction`` and a ``mission``.

    The text ``mission`` cannot be encoded by deep agents: filter it out with ``FilterObservation``.
    """

    def __init__(self, episode_length: int = 20) -> None:
        space = gym.spaces.Dict({
            "image": gym.spaces.Box(0, 255, (5, 5, 3), np.uint8),
            "direction": gym.spaces.Discrete(4),
            "mission": gym.spaces.Text(16),
        })
        super().__init__(space, gym.spaces.Discrete(3), episode_length)


#: Gymnasium id of :class:`DictObsEnv`, registered when this module is imported.
DICT_OBS_ENV_ID = "porcini-testing/DictObs-v0"

if DICT_OBS_ENV_ID not in gym.registry:
    gym.register(id=DICT_OBS_ENV_ID, entry_point=f"{__name__}:DictObsEnv")

#: Gymnasium id of :class:`SlowEnv`, registered when this module is imported.
SLOW_ENV_ID = "porcini-testing/Slow-v0"

if SLOW_ENV_ID not in gym.registry:
    gym.register(id=SLOW_ENV_ID, entry_point=f"{__name__}:SlowEnv")
