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
(a random elite per row, PETS's TS-1, and a sample from its Gaussian when ``sample``);
:meth:`DynamicsEnsemble.step_elites` runs each elite on its own block of rows only, what trajectory sampling
(:mod:`porcini.algorithms.model_based.trajectory_sampling`) uses to propagate particles.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from porcini.core.batch import TransitionBatch
from porcini.core.config import require
from porcini.data.replay import ReplayBuffer
from porcini.functional.model_losses import bounded_log_var, gaussian_nll, log_var_bounds_penalty
from porcini.networks.ensemble import EnsembleMLP


@dataclass(frozen=True)
class ModelFields:
    """Hyperparameters of an agent's learned model (PETS, MBPO); the agent's config inherits them."""

    n_members: int = 5
    """Ensemble members, each trained on its own bootstrap of the data."""
    n_elites: int = 5
    """Members that predict: the best on held-out data."""
    model_hidden: tuple[int, ...] = (200, 200, 200)
    """Hidden widths of each member (SiLU activations)."""
    probabilistic: bool = True
    """Gaussian members trained with the NLL; False: deterministic members trained with the squared error."""
    learn_termination: bool = False
    """Learn whether a transition terminates (a logit per member, the binary cross-entropy); False: the model
    predicts none, and a task that terminates needs its rule given as ``termination_fn``."""
    model_learning_rate: float = 1e-3
    """Adam step size of the model."""
    model_batch_size: int = 256
    """Transitions per member per model gradient step."""
    model_epochs: int = 100
    """The most epochs of one model fit (held-out early stopping usually ends it before)."""
    model_patience: int = 5
    """Epochs without a 1% held-out improvement before a model fit stops."""
    model_holdout: float = 0.1
    """Share of the data held out to stop early and rank the elites."""
    model_train_freq: int = 200
    """Env steps between two model fits (each on all the data so far, from the current parameters)."""

    def check_model_fields(self) -> None:
        """Raise ConfigError naming the first invalid model field."""
        owner = type(self).__name__
        for name in ("n_members", "model_batch_size", "model_epochs", "model_patience", "model_train_freq"):
            require(getattr(self, name) >= 1, owner, name, getattr(self, name), ">= 1")
        require(1 <= self.n_elites <= self.n_members, owner, "n_elites", self.n_elites,
                f"in [1, n_members = {self.n_members}]")
        require(len(self.model_hidden) >= 1 and all(int(h) >= 1 for h in self.model_hidden), owner, "model_hidden",
                self.model_hidden, "a non-empty list of positive widths")
        require(self.model_learning_rate > 0, owner, "model_learning_rate", self.model_learning_rate, "> 0")
        require(0 < self.model_holdout < 1, owner, "model_holdout", self.model_holdout, "in (0, 1)")


def make_dynamics(fields: ModelFields, obs_dim: int, action_dim: int) -> DynamicsEnsemble:
    """The ensemble ``fields`` describe for flat observations and actions of these sizes."""
    return DynamicsEnsemble(obs_dim, action_dim, fields.n_members, fields.n_elites,
                            tuple(int(h) for h in fields.model_hidden), fields.probabilistic, fields.learn_termination)


def all_transitions(source: ReplayBuffer | TransitionBatch) -> TransitionBatch:
    """Every transition of a replay buffer as ``[n, 1, ...]``; a :class:`TransitionBatch` is returned as it is."""
    return source if isinstance(source, TransitionBatch) else source.gather(np.arange(len(source)))


def refuse_terminations(buffer: ReplayBuffer | TransitionBatch, owner: str, env_id: str) -> None:
    """Raise ValueError if ``buffer`` (or a batch of transitions) holds a terminated one: the model predicts none.

    The learned models here never end an episode; on a task that terminates, rollouts and plans would run past
    the end as if the episode went on, a silently wrong result.
    """
    if np.asarray(all_transitions(buffer).terminated).any():
        raise ValueError(f"{owner}: an episode of {env_id} ended by termination, and the learned model predicts no "
                         "termination: it is for tasks that never terminate (episodes end by time limits only); "
                         f"set learn_termination=true, or give {owner} the task's termination_fn(obs, action, "
                         "next_obs) in Python")


def fit_dynamics(model: DynamicsEnsemble, buffer: ReplayBuffer | TransitionBatch, fields: ModelFields,
                 rng: np.random.Generator) -> dict[str, float]:
    """Fit ``model`` on every transition of ``buffer`` or a batch; metrics ``model_epochs``, ``model_holdout_error``."""
    data = all_transitions(buffer)
    obs, action, next_obs = (np.asarray(x, dtype=np.float32).reshape(data.n_transitions, -1)
                             for x in (data.obs, data.action, data.next_obs))
    result = model.fit(obs, action, next_obs, np.asarray(data.reward, dtype=np.float32).reshape(-1), rng=rng,
                       terminated=np.asarray(data.terminated, dtype=bool).reshape(-1), epochs=fields.model_epochs,
                       batch_size=fields.model_batch_size,
                       learning_rate=fields.model_learning_rate, holdout=fields.model_holdout,
                       patience=fields.model_patience)
    elite_errors = [result["holdout_errors"][i] for i in model.elites.tolist()]
    return {"model_epochs": float(result["epochs"]), "model_holdout_error": float(np.mean(elite_errors))}


class DynamicsEnsemble(nn.Module):
    """``n_members`` models of ``(obs, action) -> (next_obs - obs, reward)``; see the module docstring.

    Args:
        obs_dim: size of the (flat) observations.
        action_dim: size of the (flat, float) actions.
        n_members: ensemble size.
        n_elites: members that predict, the best on held-out data.
        hidden: hidden widths of each member.
        probabilistic: Gaussian outputs (NLL) or deterministic ones (squared error).
        learn_termination: also predict whether the transition terminates: one more output per member, a logit
            trained with the binary cross-entropy; a prediction terminates where the logit is > 0. False: the
            model predicts no termination.
    """

    def __init__(self, obs_dim: int, action_dim: int, n_members: int = 5, n_elites: int = 3,
                 hidden: tuple[int, ...] = (200, 200), probabilistic: bool = True,
                 learn_termination: bool = False) -> None:
        super().__init__()
        if not 1 <= n_elites <= n_members:
            raise ValueError(f"DynamicsEnsemble: n_elites = {n_elites} is invalid: must lie in [1, {n_members}]")
        self.obs_dim, self.action_dim, self.probabilistic = obs_dim, action_dim, probabilistic
        self.learn_termination = learn_termination
        self.out_dim = obs_dim + 1
        width = self.out_dim * (2 if probabilistic else 1) + int(learn_termination)
        self.net = EnsembleMLP(n_members, obs_dim + action_dim, width, hidden, activation="silu")
        self.max_log_var = nn.Parameter(torch.full((self.out_dim,), 0.5))
        self.min_log_var = nn.Parameter(torch.full((self.out_dim,), -10.0))
        for name, size in (("in_mean", obs_dim + action_dim), ("out_mean", self.out_dim)):
            self.register_buffer(name, torch.zeros(size))
            self.register_buffer(name.replace("mean", "std"), torch.ones(size))
        self.elites: Tensor
        self.register_buffer("elites", torch.arange(n_elites))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Normalized inputs ``[N, d]`` or ``[K, N, d]`` to normalized means and log-variances ``[K, N, out]``."""
        mean, log_var, _ = self._heads(self.net(x))
        return mean, log_var

    def _heads(self, out: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """The network's output split into mean, bounded log-variance and the termination logit (or None)."""
        logit = out[..., -1] if self.learn_termination else None
        out = out[..., :-1] if self.learn_termination else out
        if not self.probabilistic:
            return out, torch.zeros_like(out), logit
        mean, raw = out.split(self.out_dim, dim=-1)
        return mean, bounded_log_var(raw, self.min_log_var, self.max_log_var), logit

    def loss(self, x: Tensor, y: Tensor, terminated: Tensor | None = None) -> Tensor:
        """Training loss of per-member batches ``x [K, N, d]``, ``y [K, N, out]`` (normalized), ``terminated [K, N]``.

        The Gaussian NLL (or squared error), plus the binary cross-entropy of the termination logits when the model
        learns terminations and ``terminated`` is given.
        """
        mean, log_var, logit = self._heads(self.net(x))
        if not self.probabilistic:
            loss = ((mean - y) ** 2).mean()
        else:
            loss = gaussian_nll(mean, log_var, y) + log_var_bounds_penalty(self.min_log_var, self.max_log_var)
        if logit is not None and terminated is not None:
            loss = loss + nn.functional.binary_cross_entropy_with_logits(logit, terminated)
        return loss

    def _normalize_inputs(self, obs: Tensor, action: Tensor) -> Tensor:
        return (torch.cat([obs, action], dim=-1) - self.in_mean) / self.in_std

    def step(self, obs: Tensor, action: Tensor, sample: bool = False,
             generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Predicted ``(next_obs [N, S], reward [N], terminated [N])``, each row by an elite at random.

        The rows are shuffled and dealt to the elites in equal blocks (the last block topped up with repeated
        rows), so each elite computes only its own rows, in one forward.
        """
        n, e = len(obs), self.n_elites
        order = torch.randperm(n, generator=generator, device=obs.device)
        dealt = order[torch.arange(-(-n // e) * e, device=obs.device) % n]
        next_obs, reward, terminated = self.step_elites(obs[dealt].reshape(e, -1, obs.shape[-1]),
                                                        action[dealt].reshape(e, -1, action.shape[-1]), sample,
                                                        generator)
        out_obs, out_reward = torch.empty_like(obs), torch.empty(n, dtype=obs.dtype, device=obs.device)
        out_obs[order] = next_obs.reshape(len(dealt), -1)[:n]
        out_reward[order] = reward.reshape(-1)[:n]
        out_terminated = torch.empty(n, dtype=torch.bool, device=obs.device)
        out_terminated[order] = terminated.reshape(-1)[:n]
        return out_obs, out_reward, out_terminated

    def step_elites(self, obs: Tensor, action: Tensor, sample: bool = False,
                    generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Block ``i`` of ``obs [E, M, S]``, ``action [E, M, A]`` through elite ``i`` (E = ``n_elites``).

        Returns the predicted ``next_obs [E, M, S]``, ``reward [E, M]`` (sampled from each Gaussian when
        ``sample``) and ``terminated [E, M]`` (all False unless the model learns terminations). One batched
        forward, and only the elites compute.
        """
        with torch.no_grad():
            x = self._normalize_inputs(obs.float(), action.float())
            everyone = self.n_elites == self.net.n_members  # elites are sorted and distinct: no weights to gather
            mean, log_var, logit = self._heads(self.net(x) if everyone else self.net.forward_members(x, self.elites))
            if sample and self.probabilistic:
                noise = torch.randn(mean.shape, generator=generator, device=mean.device)
                mean = mean + torch.exp(0.5 * log_var) * noise
            out = mean * self.out_std + self.out_mean
        if logit is None:
            terminated = torch.zeros(out.shape[:-1], dtype=torch.bool, device=out.device)
        else:
            terminated = logit > 0
        return obs + out[..., :self.obs_dim].to(obs.dtype), out[..., -1].to(obs.dtype), terminated

    @property
    def n_elites(self) -> int:
        """Members that predict."""
        return len(self.elites)

    def fit(self, obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray, reward: np.ndarray, *,
            rng: np.random.Generator, terminated: np.ndarray | None = None, epochs: int = 200, batch_size: int = 256,
            learning_rate: float = 1e-3, holdout: float = 0.1, patience: int = 5) -> dict[str, Any]:
        """Train on transitions ``[N, ...]``; returns the epochs run and each member's held-out squared error.

        ``terminated`` ``[N]`` is needed when the model learns terminations (early stopping and the elites still
        go by the error of the next observation and the reward). At least one transition is held out whenever
        there are two or more, however small ``holdout`` times ``N``; a single transition trains ``epochs`` epochs.
        """
        if self.learn_termination and terminated is None:
            raise ValueError("DynamicsEnsemble.fit: this model learns terminations (learn_termination=True); pass "
                             "terminated=[N] flags")
        device = self.in_mean.device  # the data moves to the model's device once per fit
        done = torch.as_tensor(np.zeros(len(obs)) if terminated is None else terminated, dtype=torch.float32,
                               device=device)
        x = torch.as_tensor(np.concatenate([obs, action], axis=-1), dtype=torch.float32, device=device)
        y = torch.as_tensor(np.concatenate([next_obs - obs, np.asarray(reward)[:, None]], axis=-1),
                            dtype=torch.float32, device=device)
        order = rng.permutation(len(x))
        # at least one transition held out (while one is left to train on): with none, no epoch could count as an
        # improvement and the fit would go back to the parameters it started from
        n_holdout = min(max(int(len(x) * holdout), 1), len(x) - 1)
        test, train = order[:n_holdout], order[n_holdout:]
        self._fit_normalization(x[train], y[train])
        x, y = (x - self.in_mean) / self.in_std, (y - self.out_mean) / self.out_std
        k = self.net.n_members
        bootstrap = torch.as_tensor(train[rng.integers(0, len(train), (k, len(train)))], device=device)
        optimizer = torch.optim.Adam(self.parameters(), lr=learning_rate, weight_decay=1e-5)
        best = self.holdout_errors(x[test], y[test])
        best_state, waited, epochs_run = copy.deepcopy(self.state_dict()), 0, 0
        while epochs_run < epochs:
            epochs_run += 1
            shuffled = bootstrap[:, torch.as_tensor(rng.permutation(len(train)), device=device)]
            for start in range(0, len(train), batch_size):
                rows = shuffled[:, start:start + batch_size]
                loss = self.loss(x[rows], y[rows], done[rows])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            errors = self.holdout_errors(x[test], y[test])
            improved = errors < best * 0.99
            if improved.any() or n_holdout == 0:  # a single transition: nothing to stop on, every epoch is kept
                best = torch.where(improved, errors, best)
                best_state, waited = copy.deepcopy(self.state_dict()), 0
            else:
                waited += 1
                if waited >= patience:
                    break
        self.load_state_dict(best_state)
        self.elites = torch.sort(torch.argsort(best)[:len(self.elites)]).values
        return {"epochs": epochs_run, "holdout_errors": best.tolist()}

    def _fit_normalization(self, x: Tensor, y: Tensor) -> None:
        # an input column that did not vary (std below 1e-5: an observation that never moved in the data) is left
        # unscaled, as PETS and mbrl-lib do: dividing by a tiny std would turn any later change of it into a huge input
        in_std = _spread(x)
        self.in_mean, self.in_std = x.mean(0), torch.where(in_std < 1e-5, torch.ones_like(in_std), in_std)
        self.out_mean, self.out_std = y.mean(0), _spread(y)

    def holdout_errors(self, x: Tensor, y: Tensor) -> Tensor:
        """Each member's mean squared error ``[K]`` of its mean on normalized data (inf with no data)."""
        if len(x) == 0:
            return torch.full((self.net.n_members,), float("inf"), device=x.device)
        with torch.no_grad():
            mean, _ = self(x)
        return ((mean - y) ** 2).mean(dim=(1, 2))


def _spread(data: Tensor) -> Tensor:
    """The per-column standard deviation of ``data`` ``[N, d]``, at least 1e-6; ones for a single row (no spread)."""
    if len(data) < 2:  # the sample std of one row is NaN, which would make every prediction NaN
        return torch.ones_like(data[0])
    return data.std(0).clamp_min(1e-6)
