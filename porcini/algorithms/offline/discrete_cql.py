"""Discrete CQL: DQN with CQL(H)'s conservative penalty (Kumar, Zhou, Tucker & Levine 2020, arXiv:2006.04779).

With a discrete action set the log-sum-exp over actions is exact, so CQL(H) on the DQN family is one extra term in
the Q-network's loss (the paper's discrete-action CQL, built on QR-DQN there and on DQN here)::

    y = R + γ_i (1 - terminated) max_a Q_target(s', a)          (Double DQN's target with ``double_q``)
    L = mean_i w_i loss(Q(s_i, a_i) - y_i) + α (mean_i log Σ_a exp Q(s_i, a) - Q(s_i, a_i))

:func:`~porcini.functional.discrete_cql_penalty` is the second term: it pushes ``Q`` down on every action in
proportion to its softmax weight and up on the data's action, so actions the data never took in a state do not
look better than those it did. With an action mask in the observations (``porcini.networks.masking``) the
log-sum-exp runs over the state's legal actions and the data's action: an action the state does not allow is no
alternative to push down (and its value would otherwise dilute the penalty).

Everything else — replay (n-step, prioritized), target updates, ε-greedy exploration when run online, counters,
checkpoints, learning from a dataset (``add_dataset``, ``update``) — is
:class:`~porcini.algorithms.value_based.dqn.DQN`'s; see its module docstring. A truncated transition bootstraps
from its true successor; only ``terminated`` drops the bootstrap.

Offline (``porcini train discrete_cql ENV --dataset DATA --offline-steps N --steps 0``) the target network is
updated every ``target_update_interval`` gradient steps; the default, 10,000 (DQN's, in env steps), is long for
an offline run of a few thousand steps, so set it to a few hundred there.

Metrics: ``loss_td`` is the TD term alone and ``loss_cql`` the penalty, each the mean over a fit's gradient steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from porcini.algorithms.value_based.common import apply_mask, legal_in
from porcini.algorithms.value_based.dqn import DQN, DQNConfig
from porcini.core.config import require
from porcini.envs.info import EnvInfo
from porcini.functional import discrete_cql_penalty, td_loss


@dataclass(frozen=True)
class DiscreteCQLConfig(DQNConfig):
    """Hyperparameters of discrete CQL: DQN's (see :class:`DQNConfig`) plus the penalty's weight."""

    cql_alpha: float = 1.0
    """Weight α of the conservative penalty (0: plain DQN)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.cql_alpha >= 0, type(self).__name__, "cql_alpha", self.cql_alpha, ">= 0")


class DiscreteCQL(DQN):
    """DQN whose loss adds α times CQL(H)'s penalty ``log Σ_a exp Q(s, a) - Q(s, a_data)``.

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("CartPole-v1", seed=0)
        >>> agent = DiscreteCQL(env.info, learning_starts=32, train_freq=16, batch_size=8)
        >>> Core(agent, env, progress=False).learn(steps=64).steps
        64
    """

    name = "discrete_cql"
    Config: type[DiscreteCQLConfig] = DiscreteCQLConfig
    config: DiscreteCQLConfig

    def __init__(self, info: EnvInfo, config: DiscreteCQLConfig | None = None, **overrides: Any) -> None:
        super().__init__(info, config, **overrides)
        # the gradient steps' penalties since the last fit returned, summed on the device (no sync per step)
        self._penalty_sum = torch.zeros((), device=self.device)
        self._penalty_count = 0

    def gradient_step(self, obs: Tensor, action: Tensor, y: Tensor, weights: Tensor | None) -> tuple[Tensor, Tensor]:
        """One Adam step on the TD loss plus α times the penalty; returns the TD loss and ``Q(s, a)`` (detached)."""
        q_values = self.q_net(obs)
        q = q_values.gather(-1, action.unsqueeze(-1)).squeeze(-1)
        loss_td = td_loss(q, y, self.config.loss, weights)["loss_td"]
        penalty = discrete_cql_penalty(self.penalty_values(obs, q_values, action), action)["loss_cql"]
        self._optimize(loss_td + self.config.cql_alpha * penalty)
        self._penalty_sum = self._penalty_sum + penalty.detach()
        self._penalty_count += 1
        return loss_td.detach(), q.detach()

    def penalty_values(self, obs: Any, q_values: Tensor, action: Tensor) -> Tensor:
        """``Q(s, ·)`` for the penalty: with an action mask, actions illegal in ``s`` (but the data's) masked out."""
        legal = legal_in(obs, self.masked)
        if legal is None:
            return q_values
        data_action = torch.nn.functional.one_hot(action, q_values.shape[-1]).bool()
        return apply_mask(q_values, legal | data_action)

    def _metrics(self, losses: Tensor, q: Tensor) -> dict[str, float]:
        """DQN's metrics plus ``loss_cql``, the mean penalty over the fit's (or the update's) gradient steps."""
        metrics = super()._metrics(losses, q)
        if self._penalty_count:
            metrics["loss_cql"] = self._penalty_sum.item() / self._penalty_count
            self._penalty_sum, self._penalty_count = torch.zeros((), device=self.device), 0
        return metrics
