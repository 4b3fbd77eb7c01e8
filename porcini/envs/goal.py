"""Goal envs: recognize Gymnasium-Robotics' goal-env protocol and reach its reward function from a vector env.

A goal env observes a dict with ``observation``, ``achieved_goal`` and ``desired_goal`` and defines
``compute_reward(achieved_goal, desired_goal, info)`` (and, in Gymnasium-Robotics, ``compute_terminated``)
for batches of goals. Hindsight replay (:class:`porcini.data.HerReplayBuffer`) needs those methods in the
learner's process: :class:`GoalFunctions` finds them on the first env of a vector env, or on a local copy of
it when the envs run in subprocesses, built only when first needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym

GOAL_KEYS = ("observation", "achieved_goal", "desired_goal")


def is_goal_space(space: gym.Space) -> bool:
    """True for a ``Dict`` space with the goal-env entries ``observation``, ``achieved_goal``, ``desired_goal``."""
    return isinstance(space, gym.spaces.Dict) and set(GOAL_KEYS) <= set(space.spaces)


class GoalFunctions:
    """A goal env's ``compute_reward`` and ``compute_terminated``, taken from an env built on first use.

    Args:
        make_env: returns the (unwrapped) env whose methods to use; called at most once.
        env_id: the env's name, for messages.

    Example:
        >>> import numpy as np
        >>> from porcini.envs.builtin import BitFlippingEnv
        >>> goals = GoalFunctions(lambda: BitFlippingEnv(n_bits=2), "bits")
        >>> goals.compute_reward(np.zeros((2, 2)), np.array([[0, 0], [0, 1]]), [{}, {}]).tolist()
        [0.0, -1.0]
    """

    def __init__(self, make_env: Callable[[], Any], env_id: str = "env") -> None:
        self._make_env, self.env_id = make_env, env_id
        self._env: Any = None

    @property
    def env(self) -> Any:
        """The unwrapped env that lends its methods (built on first access)."""
        if self._env is None:
            env = self._make_env()
            env = getattr(env, "unwrapped", env)
            if not callable(getattr(env, "compute_reward", None)):
                raise TypeError(
                    f"{self.env_id} has a goal-env observation but no compute_reward(achieved_goal, desired_goal, "
                    "info) method; define one (vectorized over a batch of goals) to use hindsight replay"
                )
            self._env = env
        return self._env

    def compute_reward(self, achieved_goal: Any, desired_goal: Any, info: Any) -> Any:
        """The env's rewards for a batch of goal pairs."""
        return self.env.compute_reward(achieved_goal, desired_goal, info)

    @property
    def compute_terminated(self) -> Callable[[Any, Any, Any], Any] | None:
        """The env's ``compute_terminated``, or None when it defines none."""
        method = getattr(self.env, "compute_terminated", None)
        return method if callable(method) else None


def goal_functions(env: Any, env_id: str = "env") -> GoalFunctions | None:
    """The :class:`GoalFunctions` of ``env`` (a Gymnasium env or vector env), or None if it is not a goal env.

    A vector env lends its first env's methods; one whose envs live in other processes (an ``AsyncVectorEnv``,
    a ``RayVectorEnv``) lends those of a local copy built from its first env factory.
    """
    space = getattr(env, "single_observation_space", None) or getattr(env, "observation_space", None)
    if space is None or not is_goal_space(space):
        return None
    inner = getattr(env, "unwrapped", env)
    envs = getattr(inner, "envs", None)
    if envs:
        first = envs[0]
        return GoalFunctions(lambda: first.unwrapped, env_id)
    factories = getattr(inner, "env_fns", None)
    if factories:
        factory = factories[0]
        return GoalFunctions(lambda: factory().unwrapped, env_id)
    return GoalFunctions(lambda: inner, env_id)
