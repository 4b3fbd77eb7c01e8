"""Dyna-Q (Sutton 1990; Sutton & Barto 2018, §8.2): Q-learning that learns a table model and plans with it.

After every real transition, per env::

    Q(s, a) += α (r + γ (1 - terminated) max_a' Q(s', a') - Q(s, a))      direct RL (Q-learning)
    Model(s, a) <- (r, s', terminated)                                     the last outcome seen
    ``planning_steps`` times: (s, a) drawn uniformly among the pairs tried so far,
        the same update on the model's (r, s', terminated)                 planning

The model is deterministic (the last outcome of a pair), as in the book; a time-limit truncation is not part of
the dynamics, so the model keeps only ``terminated``. With ``planning_steps = 0`` this is Q-learning, update for
update. Observations must be Discrete (the model and Q are tables). :class:`PrioritizedSweeping`
(``prioritized_sweeping.py``) plans with the same model, most urgent pairs first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from porcini.algorithms.tabular.base import Transition
from porcini.algorithms.tabular.q_learning import QLearning, QLearningConfig
from porcini.core.agent import supports_action_space
from porcini.core.config import require
from porcini.envs.info import EnvInfo
from porcini.errors import UnsupportedSpaceError


@dataclass(frozen=True)
class DynaQConfig(QLearningConfig):
    """Hyperparameters of Dyna-Q: Q-learning's (see :class:`TDConfig`) plus the planning budget."""

    planning_steps: int = 5
    """Simulated updates from the learned model after every real transition (``n`` in the book; 0: Q-learning)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.planning_steps >= 0, type(self).__name__, "planning_steps", self.planning_steps, ">= 0")


class TableModel:
    """The last outcome of every state-action pair tried: reward, next state and termination (deterministic)."""

    def __init__(self, n_states: int, n_actions: int) -> None:
        self.known = np.zeros((n_states, n_actions), dtype=bool)
        self.reward = np.zeros((n_states, n_actions))
        self.next_state = np.zeros((n_states, n_actions), dtype=np.int64)
        self.terminated = np.zeros((n_states, n_actions), dtype=bool)

    def record(self, state: Any, action: Any, reward: Any, next_state: Any, terminated: Any) -> None:
        """Remember the outcome of a pair (or the outcomes ``[B]`` of pairs ``[B]``, a later one winning)."""
        self.known[state, action] = True
        self.reward[state, action] = reward
        self.next_state[state, action] = next_state
        self.terminated[state, action] = terminated

    def sample(self, rng: np.random.Generator) -> tuple[int, int]:
        """A pair drawn uniformly among those tried."""
        pairs = np.flatnonzero(self.known)
        return divmod(int(pairs[rng.integers(len(pairs))]), self.known.shape[1])

    def predecessors(self, state: int) -> tuple[np.ndarray, np.ndarray]:
        """The pairs ``(states [K], actions [K])`` the model predicts lead to ``state``."""
        pairs = np.nonzero(self.known & (self.next_state == state) & ~self.terminated)
        return pairs[0], pairs[1]

    def state_dict(self) -> dict[str, np.ndarray]:
        """The model's tables."""
        return {name: getattr(self, name).copy() for name in ("known", "reward", "next_state", "terminated")}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (tables of this model's shape)."""
        for name, value in state.items():
            value = np.asarray(value)
            if value.shape != self.known.shape:
                raise ValueError(f"the model's {name} table has shape {value.shape}, this env's is "
                                 f"{self.known.shape}: a checkpoint of another env")
            setattr(self, name, value.astype(getattr(self, name).dtype))


class DynaQ(QLearning):
    """Q-learning plus ``planning_steps`` updates from a learned table model after every real transition.

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("porcini/DynaMaze-v0", seed=0)
        >>> agent = DynaQ(env.info, planning_steps=50, learning_rate=0.1, epsilon=0.1)
        >>> _ = Core(agent, env, progress=False).learn(episodes=5)
        >>> agent.updates > 50 * agent.steps_seen
        True
    """

    name = "dyna_q"
    Config = DynaQConfig
    config: DynaQConfig

    def __init__(self, info: EnvInfo, config: DynaQConfig | None = None, **overrides: Any) -> None:
        # an action space it cannot use is refused first, by Q-learning, naming the agents that can
        tabular = isinstance(info.observation_space, gym.spaces.Discrete)
        if not tabular and supports_action_space(self, info.action_space):
            raise UnsupportedSpaceError(f"{type(self).__name__} learns a table model and needs Discrete observations; "
                                        f"{info.env_id} has {info.observation_space}: use q_learning with tile "
                                        "features, or a deep model-based agent")
        super().__init__(info, config, **overrides)
        assert isinstance(info.observation_space, gym.spaces.Discrete)
        self.model = TableModel(int(info.observation_space.n), info.n_actions)
        self.updates = 0  # real and simulated value updates, to compare planners at equal work

    def _update(self, step: Transition) -> float:
        td_error = super()._update(step)
        self.updates += 1
        state, next_state = self._states(step)
        self.model.record(state, step.action, step.reward, next_state, step.terminated)
        for _ in range(self.config.planning_steps):
            self.plan_update(*self.model.sample(self.rng), step.alpha)
        return td_error

    @staticmethod
    def _states(step: Transition) -> tuple[int, int]:
        """The table rows of the transition's observation and successor (one-hot features: one index each)."""
        return int(step.x[0][0]), int(step.x_next[0][0])

    def model_target(self, state: int, action: int) -> float:
        """``r + γ (1 - terminated) max_a' Q(s', a')`` of the model's outcome of ``(s, a)``."""
        m = self.model
        if m.terminated[state, action]:
            return float(m.reward[state, action])
        return float(m.reward[state, action]) + self.gamma * float(self.q.weights[m.next_state[state, action]].max())

    def plan_update(self, state: int, action: int, alpha: float) -> float:
        """One simulated Q-learning update of ``(s, a)`` from the model; its TD error."""
        td_error = self.model_target(state, action) - float(self.q.weights[state, action])
        self.q.weights[state, action] += alpha * td_error
        self.updates += 1
        return td_error

    def state_dict(self) -> dict[str, Any]:
        """Q-learning's state, the model and the update counter."""
        return {**super().state_dict(), "model": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        super().load_state_dict(state)
        self.model.load_state_dict(state["model"])
        self.updates = int(state["updates"])
