"""Double Q-learning (van Hasselt, 2010, "Double Q-learning", NeurIPS; Sutton & Barto 2018, §6.7).

Two estimates ``Q_A`` and ``Q_B``. For each transition a fair coin picks the one to update; it selects the
next action and the other evaluates it, which removes the maximization bias of Q-learning:

    a* = argmax_a Q_A(s', a),   Q_A(s, a) += α (r + γ (1 - terminated) Q_B(s', a*) - Q_A(s, a))

(and the same with A and B swapped). The behaviour policy (ε-greedy or Boltzmann) acts on the mean
``(Q_A + Q_B) / 2``, the agent's estimate of ``Q``, so a Boltzmann temperature means what it means for the other
TD agents. Tabular or linear in features. Deviations: ties in ``argmax`` pick the first action (the paper leaves
them open).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from porcini.algorithms.tabular.base import TDAgent, TDConfig, Transition
from porcini.envs.info import EnvInfo


@dataclass(frozen=True)
class DoubleQLearningConfig(TDConfig):
    """Hyperparameters of Double Q-learning (all shared with the other TD agents; see :class:`TDConfig`)."""


class DoubleQLearning(TDAgent):
    """Off-policy TD control with two decoupled estimates; fits after every vector step.

    Attributes:
        q: the estimate ``Q_A``.
        q_b: the estimate ``Q_B``.
    """

    name = "double_q_learning"
    Config = DoubleQLearningConfig

    def __init__(self, info: EnvInfo, config: DoubleQLearningConfig | None = None, **kwargs: Any) -> None:
        super().__init__(info, config, **kwargs)
        self.q_b = self._new_q()

    def behaviour_values(self, x: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Behaviour values ``(Q_A + Q_B) / 2``: the mean (the sum would halve a Boltzmann temperature)."""
        return 0.5 * (self.q.values_of(*x) + self.q_b.values_of(*x))

    def _update(self, step: Transition) -> float:
        # a fair coin picks the estimate to update; it selects a*, the other one evaluates it
        updated, other = (self.q, self.q_b) if self.rng.random() < 0.5 else (self.q_b, self.q)
        best = int(np.argmax(updated.values_of(*step.x_next)))
        bootstrap = 0.0 if step.terminated else self.gamma * other.value_of(*step.x_next, best)
        td_error = step.reward + bootstrap - updated.value_of(*step.x, step.action)
        updated.add_one(*step.x, step.action, step.alpha * td_error)
        return td_error

    def state_dict(self) -> dict[str, Any]:
        """The base state plus the weights of ``Q_B``."""
        return {**super().state_dict(), "weights_b": self.q_b.weights.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        super().load_state_dict(state)
        self.q_b.weights = self._checked_weights(state["weights_b"], self.q_b.weights.shape)
