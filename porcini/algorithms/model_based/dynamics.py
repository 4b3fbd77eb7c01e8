"""A learned dynamics model: a probabilistic ensemble that predicts the next observation and the reward.

Each of ``n_members`` MLPs (one :class:`~porcini.networks.ensemble.EnsembleMLP`, one batched kernel per layer)
maps a normalized ``[obs, action]`` to a Gaussian over the normalized ``[next_obs - obs, reward]``: a mean and a
log-variance softly bounded by learned limits (:func:`porcini.functional.bounded_log_var`), trained with the
Gaussian NLL (:func:`porcini.functional.gaussian_nll`); ``probabilistic=False`` gives a deterministic ensemble
trained with the squared error. :meth:`DynamicsEnsemble.fit` trains every member on its own bootstrap of the
data, holds out a share of it, stops when no member's held-out error has improved by 1% for ``patience`` epochs
(going back to the parameters of the last epoch in which one did) and ranks the members by their best held-out
error: the ``n_elites`` best predict.
:meth:`DynamicsEnsemble.step` is the :class:`~porcini.algorithms.model_based.planners.DynamicsModel` interface
(a random elite per row, PETS's TS-1, and a sample from its Gaussian when ``sample``).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from porcini.functional.model_losses import bounded_log_var, gaussian_nll, log_var_bounds_penalty
from porcini.networks.ensemble import EnsembleMLP


class DynamicsEnsemble(nn.Module):
    """``n_members`` models of ``(obs, action) -> (next_obs - obs, reward)``; see the module docstring.

    Args:
        obs_dim: size of the (flat) observations.
        action_dim: size of the (flat, float) actions.
        n_members: ensemble size.
        n_elites: members that predict, the best on held-out data.
        hidden: hidden widths of each member.
        probabilistic: Gaussian outputs (NLL) or deterministic ones (squared error).
    """

    def __init__(self, obs_dim: int, action_dim: int, n_members: int = 5, n_elites: int = 3,
                 hidden: tuple[int, ...] = (200, 200), probabilistic: bool = True) -> None:
        super().__init__()
        if not 1 <= n_elites <= n_members:
            raise ValueError(f"DynamicsEnsemble: n_elites = {n_elites} is invalid: must lie in [1, {n_members}]")
        self.obs_dim, self.action_dim, self.probabilistic = obs_dim, action_dim, probabilistic
        self.out_dim = obs_dim + 1
        self.net = EnsembleMLP(n_members, obs_dim + action_dim, self.out_dim * (2 if probabilistic else 1), hidden,
                               activation="silu")
        self.max_log_var = nn.Parameter(torch.full((self.out_dim,), 0.5))
        self.min_log_var = nn.Parameter(torch.full((self.out_dim,), -10.0))
        for name, size in (("in_mean", obs_dim + action_dim), ("out_mean", self.out_dim)):
            self.register_buffer(name, torch.zeros(size))
            self.register_buffer(name.replace("mean", "std"), torch.ones(size))
        self.elites: Tensor
        self.register_buffer("elites", torch.arange(n_elites))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Normalized inputs ``[N, d]`` or ``[K, N, d]`` to normalized means and log-variances ``[K, N, out]``."""
        out = self.net(x)
        if not self.probabilistic:
            return out, torch.zeros_like(out)
        mean, raw = out.split(self.out_dim, dim=-1)
        return mean, bounded_log_var(raw, self.min_log_var, self.max_log_var)

    def loss(self, x: Tensor, y: Tensor) -> Tensor:
        """Training loss of per-member batches ``x [K, N, d]``, ``y [K, N, out]`` (normalized)."""
        mean, log_var = self(x)
        if not self.probabilistic:
            return ((mean - y) ** 2).mean()
        return gaussian_nll(mean, log_var, y) + log_var_bounds_penalty(self.min_log_var, self.max_log_var)

    def _normalize_inputs(self, obs: Tensor, action: Tensor) -> Tensor:
        return (torch.cat([obs, action], dim=-1) - self.in_mean) / self.in_std

    def step(self, obs: Tensor, action: Tensor, sample: bool = False,
             generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Predicted ``(next_obs [N, S], reward [N], terminated [N] = False)`` of a random elite per row."""
        with torch.no_grad():
            mean, log_var = self(self._normalize_inputs(obs.float(), action.float()))
            rows = torch.arange(len(obs))
            pick = self.elites[torch.randint(len(self.elites), (len(obs),), generator=generator)]
            mean, log_var = mean[pick, rows], log_var[pick, rows]
            if sample and self.probabilistic:
                noise = torch.randn(mean.shape, generator=generator)
                mean = mean + torch.exp(0.5 * log_var) * noise
            out = mean * self.out_std + self.out_mean
        next_obs = obs + out[:, :self.obs_dim].to(obs.dtype)
        return next_obs, out[:, -1].to(obs.dtype), torch.zeros(len(obs), dtype=torch.bool)

    def fit(self, obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray, reward: np.ndarray, *,
            rng: np.random.Generator, epochs: int = 200, batch_size: int = 256, learning_rate: float = 1e-3,
            holdout: float = 0.1, patience: int = 5) -> dict[str, Any]:
        """Train on transitions ``[N, ...]``; returns the epochs run and each member's held-out squared error."""
        x = torch.as_tensor(np.concatenate([obs, action], axis=-1), dtype=torch.float32)
        y = torch.as_tensor(np.concatenate([next_obs - obs, np.asarray(reward)[:, None]], axis=-1),
                            dtype=torch.float32)
        order = rng.permutation(len(x))
        n_holdout = int(len(x) * holdout)
        test, train = order[:n_holdout], order[n_holdout:]
        self._fit_normalization(x[train], y[train])
        x, y = (x - self.in_mean) / self.in_std, (y - self.out_mean) / self.out_std
        k = self.net.n_members
        bootstrap = torch.as_tensor(train[rng.integers(0, len(train), (k, len(train)))])
        optimizer = torch.optim.Adam(self.parameters(), lr=learning_rate, weight_decay=1e-5)
        best = self.holdout_errors(x[test], y[test])
        best_state, waited, epochs_run = copy.deepcopy(self.state_dict()), 0, 0
        while epochs_run < epochs:
            epochs_run += 1
            shuffled = bootstrap[:, torch.as_tensor(rng.permutation(len(train)))]
            for start in range(0, len(train), batch_size):
                rows = shuffled[:, start:start + batch_size]
                loss = self.loss(x[rows], y[rows])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            errors = self.holdout_errors(x[test], y[test])
            improved = errors < best * 0.99
            if improved.any():
                best = torch.where(improved, errors, best)
                best_state, waited = copy.deepcopy(self.state_dict()), 0
            else:
                waited += 1
                if waited >= patience:
                    break
        self.load_state_dict(best_state)
        self.elites = torch.argsort(best)[:len(self.elites)]
        return {"epochs": epochs_run, "holdout_errors": best.tolist()}

    def _fit_normalization(self, x: Tensor, y: Tensor) -> None:
        self.in_mean, self.in_std = x.mean(0), x.std(0).clamp_min(1e-6)
        self.out_mean, self.out_std = y.mean(0), y.std(0).clamp_min(1e-6)

    def holdout_errors(self, x: Tensor, y: Tensor) -> Tensor:
        """Each member's mean squared error ``[K]`` of its mean on normalized data (inf with no data)."""
        if len(x) == 0:
            return torch.full((self.net.n_members,), float("inf"))
        with torch.no_grad():
            mean, _ = self(x)
        return ((mean - y) ** 2).mean(dim=(1, 2))
