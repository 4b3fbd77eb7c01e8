"""SARSA (Rummery & Niranjan, 1994; Sutton & Barto 2018, §6.4), tabular or linear in features.

Update, per transition, with ``a'`` the action the agent actually takes in ``s'``:

    Q(s, a) += α (r + γ (1 - terminated) Q(s', a') - Q(s, a))

On-policy: it learns the value of the ε-greedy policy it follows, so on cliff walking it prefers the safe path
away from the edge. The next action is the next row's action inside a batch and, for the last row, sampled in
``fit`` and played by the next ``act`` (see :mod:`porcini.algorithms.tabular.base`): no one-step delay. A
truncated transition bootstraps from a sampled ``a'`` in the final ``s'``. Deviations: none.
"""

from __future__ import annotations

from dataclasses import dataclass

from porcini.algorithms.tabular.base import TDAgent, TDConfig, Transition


@dataclass(frozen=True)
class SarsaConfig(TDConfig):
    """Hyperparameters of SARSA (all shared with the other TD agents; see :class:`TDConfig`)."""


class Sarsa(TDAgent):
    """On-policy TD control; fits after every vector step."""

    name = "sarsa"
    Config = SarsaConfig
    on_policy = True

    def _update(self, step: Transition) -> float:
        assert step.next_action is not None
        target = step.reward + (0.0 if step.terminated else self.gamma * float(step.next_q[step.next_action]))
        td_error = target - self.q.value_of(*step.x, step.action)
        self.q.add_one(*step.x, step.action, step.alpha * td_error)
        return td_error
