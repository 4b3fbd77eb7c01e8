"""True Online SARSA(λ) with dutch traces, tabular or linear in features.

Van Seijen & Sutton (2014), "True online TD(λ)", ICML; van Seijen et al. (2016), JMLR; Sutton & Barto (2018),
§12.8, p. 307.

Per transition, per env, with ``x = φ(s, a)``, ``x' = φ(s', a')`` and ``a'`` the action taken next:

    Q = w·x,  Q' = (1 - terminated) w·x',  δ = r + γ Q' - Q
    z ← γλ z + (1 - α γλ z·x) x                     (dutch trace)
    w ← w + α (δ + Q - Q_old) z - α (Q - Q_old) x
    Q_old ← Q'

with ``z ← 0`` and ``Q_old ← 0`` once the transition ends the episode. It matches the forward view (the online
λ-return algorithm) exactly and is more robust to the step size than accumulating traces. Deviations: none; with
several envs, the transitions of one time row update the shared ``w`` one after another, in env order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from porcini.algorithms.tabular.base import TDConfig, TraceAgent, Transition
from porcini.core.config import require
from porcini.envs.info import EnvInfo


@dataclass(frozen=True)
class TrueOnlineSarsaLambdaConfig(TDConfig):
    """Hyperparameters of True Online SARSA(λ) (the shared TD fields are documented on :class:`TDConfig`)."""

    trace_decay: float = 0.9
    """λ, the trace-decay parameter."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0 <= self.trace_decay <= 1, type(self).__name__, "trace_decay", self.trace_decay, "in [0, 1]")


class TrueOnlineSarsaLambda(TraceAgent):
    """On-policy true online TD(λ) control with dutch traces; fits after every vector step."""

    name = "true_online_sarsa_lambda"
    Config = TrueOnlineSarsaLambdaConfig
    config: TrueOnlineSarsaLambdaConfig

    def __init__(self, info: EnvInfo, config: TrueOnlineSarsaLambdaConfig | None = None, **kwargs: Any) -> None:
        super().__init__(info, config, **kwargs)
        self.q_old = np.zeros(info.n_envs)

    def _update(self, step: Transition) -> float:
        assert step.next_action is not None
        idx, val = step.x
        decay, alpha, q_old = self.gamma * self.config.trace_decay, step.alpha, float(self.q_old[step.env])
        q = self.q.value_of(idx, val, step.action)
        q_next = 0.0 if step.terminated else float(step.next_q[step.next_action])
        td_error = step.reward + self.gamma * q_next - q
        z = self.traces[step.env][:, step.action]  # only action a's block of x(s, a) is non-zero
        z_dot_x = float(z[idx] @ val)
        self.traces[step.env] *= decay
        np.add.at(z, idx, (1.0 - alpha * decay * z_dot_x) * val)
        self.q.weights += (alpha * (td_error + q - q_old)) * self.traces[step.env]
        self.q.add_one(idx, val, step.action, -alpha * (q - q_old))
        self.q_old[step.env] = 0.0 if step.episode_end else q_next
        self.cut_trace(step)
        return td_error

    def episodes_cut(self) -> None:
        """Zero every trace and ``Q_old``: the episodes in progress were cut after the last fit."""
        super().episodes_cut()
        self.q_old[:] = 0.0

    def state_dict(self) -> dict[str, Any]:
        """The trace state plus ``Q_old``."""
        return {**super().state_dict(), "q_old": self.q_old.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        super().load_state_dict(state)
        self.q_old = np.asarray(state["q_old"], dtype=np.float64).copy()
