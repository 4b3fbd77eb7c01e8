"""True Online SARSA(λ) with dutch traces, tabular or linear in features.

Van Seijen & Sutton (2014), "True online TD(λ)", ICML; van Seijen et al. (2016), JMLR; Sutton & Barto (2018),
§12.8, p. 307.

Per transition, per env, with ``x = φ(s, a)``, ``x' = φ(s', a')`` and ``a'`` the action taken next:

    Q = w·x,  Q' = (1 - terminated) w·x',  δ = r + γ Q' - Q
    z ← γλ z + (1 - α γλ z·x) x                     (dutch trace)
    w ← w + α (δ + Q - Q_old) z - α (Q - Q_old) x
    Q_old ← Q'

with ``z ← 0`` and ``Q_old ← 0`` once the transition ends the episode. It matches the forward view (the online
λ-return algorithm) exactly and is more robust to the step size than accumulating traces. Deviations: with
several envs, their updates to the shared ``w`` are computed from the same weights and summed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from porcini.algorithms.tabular.base import Step, TDConfig, TraceAgent
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

    def _update(self, step: Step) -> np.ndarray:
        assert step.next_action is not None
        idx, val = step.x
        rows, acts = np.arange(len(idx))[:, None], step.action[:, None]
        decay, alpha = self.gamma * self.config.trace_decay, step.alpha
        q = self._q_sa(self.q, step.x, step.action)
        q_next = np.where(step.terminated, 0.0, np.take_along_axis(step.next_q, step.next_action[:, None], 1)[:, 0])
        td_error = step.reward + self.gamma * q_next - q
        z = self.traces
        z_dot_x = (z[rows, idx, acts] * val).sum(axis=1)
        z *= decay
        np.add.at(z, (rows, idx, acts), (1.0 - alpha * decay * z_dot_x)[:, None] * val)
        self.q.weights += np.einsum("b,bfa->fa", alpha * (td_error + q - self.q_old), z)
        self.q.add(idx, val, step.action, -alpha * (q - self.q_old))
        self.q_old = np.where(step.episode_end, 0.0, q_next)
        self.cut_traces(step.episode_end)
        return td_error

    def state_dict(self) -> dict[str, Any]:
        """The trace state plus ``Q_old``."""
        return {**super().state_dict(), "q_old": self.q_old.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        super().load_state_dict(state)
        self.q_old = np.asarray(state["q_old"], dtype=np.float64).copy()
