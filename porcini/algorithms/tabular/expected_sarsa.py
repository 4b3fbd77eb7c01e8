"""Expected SARSA (van Seijen, van Hasselt, Whiteson & Wiering, 2009; Sutton & Barto 2018, §6.6).

Update, per transition, with π the agent's own behaviour policy (ε-greedy or Boltzmann) at the current ε:

    Q(s, a) += α (r + γ (1 - terminated) Σ_a' π(a'|s') Q(s', a') - Q(s, a))

The expectation removes the variance of sampling ``a'``, so it tolerates larger step sizes than SARSA; with a
greedy π it is Q-learning. Tabular or linear in features. Deviations: none.
"""

from __future__ import annotations

from dataclasses import dataclass

from porcini.algorithms.tabular.base import TDAgent, TDConfig, Transition


@dataclass(frozen=True)
class ExpectedSarsaConfig(TDConfig):
    """Hyperparameters of expected SARSA (all shared with the other TD agents; see :class:`TDConfig`)."""


class ExpectedSarsa(TDAgent):
    """TD control with the expected next value under the behaviour policy; fits after every vector step."""

    name = "expected_sarsa"
    Config = ExpectedSarsaConfig

    def _update(self, step: Transition) -> float:
        expected_next = float(self.behaviour_probs(step.next_q) @ step.next_q)
        target = step.reward + (0.0 if step.terminated else self.gamma * expected_next)
        td_error = target - self.q.value_of(*step.x, step.action)
        self.q.add_one(*step.x, step.action, step.alpha * td_error)
        return td_error
