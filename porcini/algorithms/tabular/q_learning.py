"""Q-learning (Watkins, 1989; Sutton & Barto 2018, §6.5), tabular or linear in features.

Update, per transition (one after another, in row order and, within a row, env by env):

    Q(s, a) += α (r + γ (1 - terminated) max_a' Q(s', a') - Q(s, a))

Truncated transitions bootstrap from ``s'`` (time ran out, the state still has value); terminated ones do not.
With features (tiles, RBF, ...) this is semi-gradient Q-learning, ``w[:, a] += α δ φ(s)`` (§10.1), which may
diverge off-policy with general features; with one-hot or tile features it behaves. Deviations: none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np  # noqa: F401 (the example uses it)

from porcini.algorithms.tabular.base import TDAgent, TDConfig, Transition


@dataclass(frozen=True)
class QLearningConfig(TDConfig):
    """Hyperparameters of Q-learning (all shared with the other TD agents; see :class:`TDConfig`)."""


class QLearning(TDAgent):
    """Off-policy TD control; fits after every vector step.

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("FrozenLake-v1", seed=0, env_kwargs={"is_slippery": False})
        >>> agent = QLearning(env.info, learning_rate=0.5, epsilon=0.2)
        >>> _ = Core(agent, env, progress=False).learn(steps=3000)
        >>> agent.act(np.array([0]), explore=False).shape
        (1,)
    """

    name = "q_learning"
    Config = QLearningConfig

    def _update(self, step: Transition) -> float:
        target = step.reward + (0.0 if step.terminated else self.gamma * max(step.next_q.tolist()))
        td_error = target - self.q.value_of(*step.x, step.action)
        self.q.add_one(*step.x, step.action, step.alpha * td_error)
        return td_error
