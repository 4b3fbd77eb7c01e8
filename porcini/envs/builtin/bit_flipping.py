"""Bit flipping (Andrychowicz et al. 2017, Hindsight Experience Replay): the smallest goal-conditioned task.

A state and a goal are ``n_bits`` bits; each action flips one bit; the reward is -1 until the state equals the
goal. With random goals a random policy almost never sees a reward of 0 for ``n_bits`` beyond about 10, so DQN
alone does not learn, while DQN with hindsight relabelling (:class:`porcini.data.HerReplayBuffer`) does.

The env follows Gymnasium-Robotics' goal-env protocol: a Dict observation with ``observation``,
``achieved_goal`` and ``desired_goal``, and ``compute_reward`` / ``compute_terminated`` / ``compute_truncated``
that work on one goal or on a batch of goals (leading axes), so a replay buffer can recompute them for goals
it substitutes.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class BitFlippingEnv(gym.Env):
    """Flip bits until the state equals the goal; reward -1 per step until then, 0 on reaching it.

    Observation ``Dict(observation, achieved_goal, desired_goal)``, each ``Box(0, 1, (n_bits,), float32)`` with
    values 0 or 1; ``observation`` and ``achieved_goal`` are both the current bits. Box goals (not SB3's default
    ``MultiBinary``) because that is what Gymnasium-Robotics goal envs use and what porcini's networks take
    without a conversion. Actions ``Discrete(n_bits)``: flip bit ``i``. Reset draws the bits and the goal
    uniformly, the goal redrawn until it differs from the bits. Reward ``compute_reward``: 0 when the new state
    equals the goal, else -1. Terminated on reaching the goal; truncated after ``max_steps`` steps (default
    ``n_bits``, which always suffices: the optimal policy flips each differing bit once). ``info["is_success"]``
    says whether the goal was reached.

    Example:
        >>> env = BitFlippingEnv(n_bits=4)
        >>> obs, info = env.reset(seed=0)
        >>> sorted(obs)
        ['achieved_goal', 'desired_goal', 'observation']
        >>> for i in np.flatnonzero(obs["observation"] != obs["desired_goal"]):
        ...     obs, reward, terminated, truncated, info = env.step(int(i))
        >>> reward, terminated, info["is_success"]
        (0.0, True, True)
        >>> env.compute_reward(np.zeros((2, 4)), np.array([[0, 0, 0, 0], [1, 0, 0, 0]]), {}).tolist()
        [0.0, -1.0]

    Args:
        n_bits: number of bits (at least 1).
        max_steps: the time limit in steps; None for ``n_bits``.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, n_bits: int = 10, max_steps: int | None = None) -> None:
        if isinstance(n_bits, bool) or not isinstance(n_bits, (int, np.integer)) or n_bits < 1:
            raise ValueError(f"BitFlippingEnv: n_bits must be an integer >= 1, got {n_bits!r}")
        max_steps = int(n_bits) if max_steps is None else max_steps
        if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
            raise ValueError(
                f"BitFlippingEnv: max_steps must be an integer >= 1 (or None for n_bits), got {max_steps!r}"
            )
        self.n_bits, self.max_steps = int(n_bits), int(max_steps)
        bits = gym.spaces.Box(0.0, 1.0, shape=(self.n_bits,), dtype=np.float32)
        self.observation_space = gym.spaces.Dict({"observation": bits, "achieved_goal": bits, "desired_goal": bits})
        self.action_space = gym.spaces.Discrete(self.n_bits)
        self._state = np.zeros(self.n_bits, dtype=np.float32)
        self._goal = np.zeros(self.n_bits, dtype=np.float32)
        self._t = 0

    @property
    def max_episode_steps(self) -> int:
        """``max_steps``, read as the env's time limit (``env.info.horizon``)."""
        return self.max_steps

    def _obs(self) -> dict[str, np.ndarray]:
        state = self._state.copy()
        return {"observation": state, "achieved_goal": state.copy(), "desired_goal": self._goal.copy()}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict]:
        """Draw the bits and a goal that differs from them."""
        super().reset(seed=seed)
        self._state = self.np_random.integers(0, 2, size=self.n_bits).astype(np.float32)
        self._goal = self._state
        while np.array_equal(self._goal, self._state):
            self._goal = self.np_random.integers(0, 2, size=self.n_bits).astype(np.float32)
        self._t = 0
        return self._obs(), {"is_success": False}

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
        """Flip bit ``action``; reward 0 and terminate if the bits now equal the goal, else reward -1."""
        if not self.action_space.contains(action):
            raise ValueError(f"BitFlippingEnv.step: action {action!r} is not in {self.action_space}")
        self._state = self._state.copy()
        self._state[int(action)] = 1.0 - self._state[int(action)]
        self._t += 1
        obs = self._obs()
        reward = float(self.compute_reward(obs["achieved_goal"], obs["desired_goal"], {}))
        terminated = bool(self.compute_terminated(obs["achieved_goal"], obs["desired_goal"], {}))
        truncated = not terminated and self._t >= self.max_steps
        return obs, reward, terminated, truncated, {"is_success": terminated}

    def compute_reward(self, achieved_goal: Any, desired_goal: Any, info: Any) -> Any:
        """Rewards ``[...]``: 0.0 where ``achieved_goal`` equals ``desired_goal`` over the last axis, else -1.0.

        Takes one goal pair ``[n_bits]`` or a batch ``[..., n_bits]``; ``info`` is ignored.
        """
        return np.all(np.asarray(achieved_goal) == np.asarray(desired_goal), axis=-1).astype(np.float32) - 1.0

    def compute_terminated(self, achieved_goal: Any, desired_goal: Any, info: Any) -> Any:
        """Terminated flags ``[...]``: True where the goal is reached (the episode ends on success)."""
        return np.all(np.asarray(achieved_goal) == np.asarray(desired_goal), axis=-1)

    def compute_truncated(self, achieved_goal: Any, desired_goal: Any, info: Any) -> Any:
        """Truncated flags ``[...]``: all False; the time limit depends on the step count, not on the goals."""
        return np.zeros(np.broadcast_shapes(np.shape(achieved_goal), np.shape(desired_goal))[:-1], dtype=bool)
