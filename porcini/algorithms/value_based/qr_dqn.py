"""Quantile-regression DQN (QR-DQN): a distributional DQN that learns quantiles of the return.

Dabney, Rowland, Bellemare & Munos 2018, "Distributional Reinforcement Learning with Quantile Regression", AAAI
(arXiv:1710.10044). The network outputs ``N`` quantiles ``θ_1..θ_N(s, a)`` of the return distribution at the fractions
``τ̂_i = (2i + 1) / 2N``; ``Q(s, a) = mean_i θ_i(s, a)`` drives acting. The update regresses the quantiles of the
replayed ``(s, a)`` onto the distributional target

    y_j = R + γ_i (1 - terminated) θ^target_j(s', a*),    a* = argmax_a mean_j θ^target_j(s', a)

(``a*`` from the online network with ``double_q``) with the quantile Huber loss :func:`quantile_huber_loss`.
Everything else — replay (prioritized, n-step), target updates, ε-greedy exploration, counters — is
:class:`~porcini.algorithms.value_based.dqn.DQN`'s; see its module docstring. Defaults follow SB3-contrib's QR-DQN.

Adam's ε is the paper's ``0.01 / 32`` for its minibatch of 32, ``0.01 / batch_size`` by default as in
SB3-contrib (``adam_eps``), not PyTorch's 1e-8: with QR-DQN's small learning rate it damps the steps of weights
whose gradients are small.

Deviations: prioritized replay (not in the paper) uses ``|mean_j y_j - Q(s, a)|`` as the priority.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from porcini.algorithms.kit import ReplaySample
from porcini.algorithms.value_based.common import FlatAdam, apply_mask, legal_in
from porcini.algorithms.value_based.dqn import DQN, DQNConfig
from porcini.core.config import require
from porcini.envs.info import EnvInfo
from porcini.networks.q_network import QNetwork


def quantile_huber_loss(quantiles: Tensor, target: Tensor, weights: Tensor | None = None,
                        kappa: float = 1.0) -> dict[str, Tensor]:
    r"""Quantile regression loss with Huber smoothing (Dabney et al. 2018, eq. 9–10).

    .. math::
        u_{bij} = y_{bj} - \theta_{bi}, \qquad
        \rho_{\hat\tau_i}(u) = |\hat\tau_i - 1\{u < 0\}| \, \frac{L_\kappa(u)}{\kappa}, \qquad
        L = \mathrm{mean}_b \; w_b \sum_{i=1}^{N} \mathrm{mean}_{j} \, \rho_{\hat\tau_i}(u_{bij})

    with :math:`\hat\tau_i = (2i + 1) / 2N` (``i`` from 0) and :math:`L_\kappa` the Huber loss of threshold κ.
    Minimizing it over ``θ_i`` moves ``θ_i`` towards the ``τ̂_i``-quantile of the target samples. With κ = 1 it is
    Stable-Baselines3-contrib's ``quantile_huber_loss`` (sum over quantiles, mean over the batch).

    Args:
        quantiles: ``[B, N]`` predicted quantiles (with gradient), sorted by fraction.
        target: ``[B, N']`` target samples (detached here); ``N'`` may differ from ``N``.
        weights: optional ``[B]`` per-sample weights (prioritized-replay importance weights); detached.
        kappa: Huber threshold κ > 0.

    Returns:
        ``{"loss_quantile"}``, a scalar tensor.

    Raises:
        ValueError: shapes that do not fit, or κ <= 0.
    """
    if quantiles.ndim != 2 or target.ndim != 2 or target.shape[0] != quantiles.shape[0]:
        raise ValueError(f"quantile_huber_loss: quantiles {tuple(quantiles.shape)} and target {tuple(target.shape)} "
                         "must be [B, N] and [B, N'] with the same B")
    if weights is not None and tuple(weights.shape) != (quantiles.shape[0],):
        raise ValueError(f"quantile_huber_loss: weights has shape {tuple(weights.shape)}, expected "
                         f"({quantiles.shape[0]},)")
    if not kappa > 0:
        raise ValueError(f"quantile_huber_loss: kappa = {kappa!r} is invalid; pass a float > 0")
    n = quantiles.shape[1]
    tau = (torch.arange(n, device=quantiles.device, dtype=quantiles.dtype) + 0.5) / n
    u = target.detach().unsqueeze(-2) - quantiles.unsqueeze(-1)  # [B, N, N']
    huber = F.huber_loss(u, torch.zeros_like(u), reduction="none", delta=kappa) / kappa
    per_sample = ((tau.unsqueeze(-1) - (u.detach() < 0).to(u.dtype)).abs() * huber).mean(-1).sum(-1)
    if weights is not None:
        per_sample = per_sample * weights.detach()
    return {"loss_quantile": per_sample.mean()}


@dataclass(frozen=True)
class QRDQNConfig(DQNConfig):
    """Hyperparameters of QR-DQN: DQN's (see :class:`DQNConfig`) plus ``n_quantiles``; SB3-contrib defaults.

    ``loss`` must stay ``"huber"``: the quantile Huber loss replaces DQN's loss. ``dueling`` is not supported.
    """

    n_quantiles: int = 200
    """Quantiles per action."""
    learning_rate: float = 5e-5
    """Adam step size."""
    exploration_fraction: float = 0.005
    """Fraction of the run (its horizon in env steps) over which ε decays linearly."""
    exploration_final_eps: float = 0.01
    """ε after the decay."""
    max_grad_norm: float | None = None
    """Clip the gradient's global norm to this; None: no clipping."""
    adam_eps: float | None = None
    """Adam's ε; None: ``0.01 / batch_size`` (the paper's 0.01 / 32, SB3-contrib's default)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        o = "QRDQNConfig"
        require(isinstance(self.n_quantiles, int) and self.n_quantiles >= 1, o, "n_quantiles", self.n_quantiles,
                "an int >= 1")
        require(self.loss == "huber", o, "loss", self.loss, "'huber' (QR-DQN always uses the quantile Huber loss)")
        require(not self.dueling, o, "dueling", self.dueling, "False (no dueling quantile head)")
        require(self.adam_eps is None or self.adam_eps > 0, o, "adam_eps", self.adam_eps, "> 0 or None")


class QRDQN(DQN):
    """QR-DQN: DQN whose network predicts ``n_quantiles`` quantiles of the return per action.

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("CartPole-v1", seed=0)
        >>> agent = QRDQN(env.info, n_quantiles=10, learning_starts=32, train_freq=16, batch_size=8)
        >>> Core(agent, env, progress=False).learn(steps=64).steps
        64
    """

    name = "qr_dqn"
    Config = QRDQNConfig
    config: QRDQNConfig

    def __init__(self, info: EnvInfo, config: QRDQNConfig | None = None, **overrides: Any) -> None:
        super().__init__(info, config, **overrides)
        c = self.config
        eps = c.adam_eps if c.adam_eps is not None else 0.01 / c.batch_size  # DQN's Adam, rebuilt with this ε
        self.optimizer = self.optimizers["adam"] = FlatAdam(self.params, lr=c.learning_rate, eps=eps)

    def _build_network(self, info: EnvInfo) -> nn.Module:
        c = self.config
        return QNetwork(info.observation_space, info.n_actions, c.net_arch, c.activation, c.features_dim,
                        n_quantiles=c.n_quantiles)

    def _action_values(self, obs: Tensor) -> Tensor:
        return self.q_net(obs).mean(dim=-1)

    def _target(self, s: ReplaySample, next_q_target: Tensor) -> Tensor:
        """Target quantiles ``y`` ``[..., N]`` from the target network's quantiles ``[..., A, N]`` (no gradient)."""
        with torch.no_grad():
            select = self.q_net(s.next_obs) if self.config.double_q else next_q_target
            a_star = apply_mask(select.mean(dim=-1), legal_in(s.next_obs, self.masked)).argmax(dim=-1)  # [...]
            index = a_star[..., None, None].expand(*a_star.shape, 1, next_q_target.shape[-1])
            next_quantiles = next_q_target.gather(-2, index).squeeze(-2)  # [..., N]
            discount = s.discount * (1.0 - s.terminated.to(next_quantiles.dtype))  # [...]: γ^m (1 - terminated)
            return s.reward.unsqueeze(-1) + discount.unsqueeze(-1) * next_quantiles

    def gradient_step(self, obs: Tensor, action: Tensor, y: Tensor, weights: Tensor | None) -> tuple[Tensor, Tensor]:
        """One Adam step on the quantile Huber loss; returns the loss and ``Q(s, a)`` = mean quantile (detached)."""
        n = self.config.n_quantiles
        quantiles = self.q_net(obs).gather(-2, action[:, None, None].expand(-1, 1, n)).squeeze(-2)  # [B, N]
        loss = quantile_huber_loss(quantiles, y, weights)["loss_quantile"]
        self._optimize(loss)
        return loss.detach(), quantiles.detach().mean(dim=-1)

    def _priority(self, y: Tensor, q: Tensor) -> Tensor:
        return (y.mean(dim=-1) - q).abs()
