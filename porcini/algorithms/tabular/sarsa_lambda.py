"""SARSA(λ) with accumulating or replacing eligibility traces, tabular or linear in features.

Rummery & Niranjan (1994); Singh & Sutton (1996); Sutton & Barto (2018), §12.7 (Sarsa(λ) with binary features,
p. 305).

Per transition, per env, with ``x = φ(s)`` active for action ``a`` and ``a'`` the action taken next:

    δ = r + γ (1 - terminated) Q(s', a') - Q(s, a)
    z ← γλ z;  z[x, a] += x  (accumulating)   or   z[x, a] = x  (replacing)
    w ← w + α δ z

and ``z ← 0`` once the transition ends the episode (terminated or truncated: a truncated transition still
bootstraps from ``Q(s', a')``, then the trace is cut because the next observation starts a new episode). The
traces of all envs update the one shared ``w``. Deviations: replacing traces set the active entries of the
taken action only (the book's binary-feature version), without clearing the other actions' traces of that state
(Singh & Sutton's variant).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from porcini.algorithms.tabular.base import TDConfig, TraceAgent, Transition
from porcini.core.config import require

TRACE_TYPES = ("accumulating", "replacing")


@dataclass(frozen=True)
class SarsaLambdaConfig(TDConfig):
    """Hyperparameters of SARSA(λ) (the shared TD fields are documented on :class:`TDConfig`)."""

    trace_decay: float = 0.9
    """λ, the trace-decay parameter: 0 gives one-step SARSA, 1 Monte Carlo-like updates."""
    trace_type: str = "accumulating"
    """``"accumulating"`` (add the features to the trace) or ``"replacing"`` (set them; binary features)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        require(0 <= self.trace_decay <= 1, name, "trace_decay", self.trace_decay, "in [0, 1]")
        require(self.trace_type in TRACE_TYPES, name, "trace_type", self.trace_type, f"one of {TRACE_TYPES}")


class SarsaLambda(TraceAgent):
    """On-policy TD(λ) control with eligibility traces; fits after every vector step."""

    name = "sarsa_lambda"
    Config = SarsaLambdaConfig
    config: SarsaLambdaConfig

    def _update(self, step: Transition) -> float:
        assert step.next_action is not None
        c = self.config
        idx, val = step.x
        z = self.traces[step.env]  # [n_features, n_actions]
        z *= self.gamma * c.trace_decay
        if c.trace_type == "accumulating":
            np.add.at(z[:, step.action], idx, val)  # add.at: hashed tiles may repeat an index
        else:
            z[idx, step.action] = val
        target = step.reward + (0.0 if step.terminated else self.gamma * float(step.next_q[step.next_action]))
        td_error = target - self.q.value_of(*step.x, step.action)
        self.q.weights += (step.alpha * td_error) * z
        self.cut_trace(step)
        return td_error
