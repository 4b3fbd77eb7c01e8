"""A model behind the vector-env interface, so any porcini agent can train inside a learned or known model.

``ModelEnv(model, observation_space, action_space, start_states, n_envs, horizon)`` is a Gymnasium vector env
with porcini's conventions (same-step autoreset, the true final observation in ``info["final_obs"]`` where
``info["_final_obs"]``, an ``info`` :class:`~porcini.envs.info.EnvInfo`). ``reset`` draws each env's start from
the rows of ``start_states`` (a replay buffer's or a dataset's observations, or the env's own starts); ``step``
asks the model (``step(obs [N, S], actions [N, A]) -> (next_obs, rewards [N], terminated [N])``, torch, batched
over all envs) and truncates each rollout after ``horizon`` steps (MBPO's short branches). A ``termination_fn``
(``obs, action, next_obs -> [N] bool``, NumPy) replaces the model's termination where the rule is known.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from porcini.envs.info import EnvInfo
from porcini.errors import UnsupportedSpaceError


class ModelEnv(gym.vector.VectorEnv):
    """``n_envs`` rollouts of ``horizon`` steps in ``model`` from start states drawn from ``start_states``.

    Example:
        >>> from porcini import Core, make_env
        >>> from porcini.algorithms import RandomAgent
        >>> from porcini.algorithms.model_based.known_models import PendulumModel
        >>> real = make_env("Pendulum-v1", seed=0)
        >>> starts = np.stack([real.reset(seed=s)[0][0] for s in range(20)])
        >>> env = ModelEnv(PendulumModel(), real.single_observation_space, real.single_action_space, starts,
        ...                n_envs=4, horizon=10, seed=0)
        >>> Core(RandomAgent(env.info), env, progress=False).learn(steps=80).episodes.lengths
        [10, 10, 10, 10, 10, 10, 10, 10]

    Args:
        model: any object with ``step(obs, actions) -> (next_obs, rewards, terminated)`` on torch tensors.
        observation_space: one env's Box observation space.
        action_space: one env's Box action space (actions are clipped to it before the model sees them).
        start_states: ``[M, S]`` observations episodes start from, drawn uniformly.
        n_envs: rollouts stepped together.
        horizon: steps after which a rollout is truncated.
        termination_fn: ``(obs, action, next_obs) -> [N]`` bool, the known termination rule; None: the model's.
        gamma: the discount to publish in ``info.gamma`` (None: none).
        seed: seeds the draws of start states.

    Raises:
        UnsupportedSpaceError: the observations are not a flat Box, or the actions not a Box.
        ValueError: ``start_states`` of another shape, or ``n_envs`` or ``horizon`` below 1.
    """

    def __init__(self, model: Any, observation_space: gym.spaces.Box, action_space: gym.spaces.Box,
                 start_states: np.ndarray, n_envs: int, horizon: int,
                 termination_fn: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None,
                 gamma: float | None = None, seed: int | None = None) -> None:
        if not (isinstance(observation_space, gym.spaces.Box) and len(observation_space.shape) == 1
                and isinstance(action_space, gym.spaces.Box)):
            raise UnsupportedSpaceError(f"ModelEnv steps a model of flat Box observations under Box actions; got "
                                        f"{observation_space} and {action_space}")
        starts = np.asarray(start_states, dtype=np.float64)
        if starts.ndim != 2 or starts.shape[1:] != observation_space.shape or len(starts) == 0:
            raise ValueError(f"ModelEnv: start_states must be [M, {observation_space.shape[0]}] with M >= 1, got "
                             f"shape {starts.shape}")
        if n_envs < 1 or horizon < 1:
            raise ValueError(f"ModelEnv: n_envs = {n_envs} and horizon = {horizon} must be >= 1")
        self.model, self.start_states, self.termination_fn = model, starts, termination_fn
        self.num_envs, self.horizon = int(n_envs), int(horizon)
        self.single_observation_space, self.single_action_space = observation_space, action_space
        self.observation_space = batch_space(observation_space, self.num_envs)
        self.action_space = batch_space(action_space, self.num_envs)
        self.metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}
        self.rng = np.random.default_rng(seed)
        self.obs = np.zeros((self.num_envs, *observation_space.shape), dtype=observation_space.dtype)
        self.steps = np.zeros(self.num_envs, dtype=np.int64)
        self.info = EnvInfo(env_id=f"ModelEnv({type(model).__name__})", observation_space=observation_space,
                            action_space=action_space, n_envs=self.num_envs, gamma=gamma, horizon=self.horizon)

    def _starts(self, n: int) -> np.ndarray:
        rows = self.rng.integers(0, len(self.start_states), size=n)
        return self.start_states[rows].astype(self.single_observation_space.dtype)

    def reset(self, *, seed: Any = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Draw a start state for every env (``seed`` reseeds the draws)."""
        if seed is not None:
            self.rng = np.random.default_rng(seed if isinstance(seed, int) else int(np.asarray(seed).ravel()[0]))
        self.obs = self._starts(self.num_envs)
        self.steps[:] = 0
        return self.obs.copy(), {}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """One model step of every env; ended rollouts restart at once (same-step autoreset)."""
        space = self.single_action_space
        assert isinstance(space, gym.spaces.Box)
        action = np.clip(np.asarray(actions, dtype=np.float64).reshape(self.num_envs, *space.shape),
                         space.low, space.high)
        with torch.no_grad():
            nxt, reward, terminated = self.model.step(torch.as_tensor(self.obs, dtype=torch.float64),
                                                      torch.as_tensor(action))
        next_obs = np.asarray(nxt, dtype=self.single_observation_space.dtype)
        done = (np.asarray(self.termination_fn(self.obs, action, next_obs), dtype=bool)
                if self.termination_fn is not None else np.asarray(terminated, dtype=bool))
        self.steps += 1
        truncated = (self.steps >= self.horizon) & ~done
        ended = done | truncated
        info: dict[str, Any] = {}
        if ended.any():
            info = {"final_obs": next_obs.copy(), "_final_obs": ended.copy()}
            next_obs = next_obs.copy()
            next_obs[ended] = self._starts(int(ended.sum()))
            self.steps[ended] = 0
        self.obs = next_obs
        return next_obs.copy(), np.asarray(reward, dtype=np.float64), done, truncated, info
