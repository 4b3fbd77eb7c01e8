"""TD3+BC: TD3 with a behaviour-cloning term in the actor loss (Fujimoto & Gu 2021, arXiv:2106.06860).

Offline RL from a dataset ``D`` with two changes to TD3 (:mod:`porcini.algorithms.actor_critic.td3`)::

    s ← (s - μ_D) / (σ_D + 10⁻³)                              observations normalized with the dataset's statistics
    critics: TD3's update (clipped double Q, target policy smoothing)
    every ``policy_delay`` updates:
        λ = α / mean |Q_1(s, π(s))|                            (no gradient through λ)
        π ← Adam step on  -λ mean Q_1(s, π(s)) + mean (π(s) - a)²    a: the dataset's action (normalized)

The loss is :func:`porcini.functional.bc_regularized_actor_loss`. The data comes from
:meth:`~porcini.algorithms.actor_critic.common.OffPolicyAgent.add_dataset`, which also sets the observation statistics
(kept in checkpoints); gradient steps without env steps are ``agent.update(n)`` (``Core.learn_offline``). Online
(offline → online) it keeps the same loss, with minibatches mixed from the dataset and the new transitions.

Defaults are the paper's: learning rate 3e-4, two hidden layers of 256, batch 256, α = 2.5, policy noise 0.2
clipped at 0.5, policy delay 2, τ = 0.005. Deviation: without a dataset the statistics stay 0 and 1 (no
normalization).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from porcini.algorithms.actor_critic.td3 import TD3, TD3Config
from porcini.algorithms.kit import ReplaySample
from porcini.core.config import require
from porcini.data.dataset import Dataset
from porcini.envs.info import EnvInfo
from porcini.errors import UnsupportedSpaceError
from porcini.functional import bc_regularized_actor_loss
from porcini.networks.critics import first_member
from porcini.networks.encoders import is_image_space

OBS_STD_EPS = 1e-3  # the paper's constant added to the dataset's observation std


@dataclass(frozen=True)
class TD3BCConfig(TD3Config):
    """Hyperparameters of TD3+BC: TD3's with the paper's defaults, the Q term's weight, observation normalization.

    The shared fields are documented on :class:`~porcini.algorithms.actor_critic.td3.TD3Config`.
    """

    learning_rate: float = 3e-4
    """Adam step size of actor and critics (the paper: 3e-4)."""
    net_arch: tuple[int, ...] | dict[str, tuple[int, ...]] = (256, 256)
    """Hidden widths of actor and critics (the paper: 256, 256)."""
    alpha: float = 2.5
    """α: weight of the Q term against the behaviour-cloning term (λ = α / mean |Q|); smaller clones more."""
    normalize_obs: bool = True
    """Normalize observations with the dataset's mean and std (``+ 1e-3``), as the paper does."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.alpha > 0, type(self).__name__, "alpha", self.alpha, "> 0")


class TD3BC(TD3):
    """TD3+BC for Box actions: TD3 whose actor also regresses onto the dataset's actions.

    Example:
        >>> from porcini import make_env
        >>> from porcini.data import collect_dataset
        >>> env = make_env("Pendulum-v1", seed=0)
        >>> data = collect_dataset(env, lambda obs: env.action_space.sample(), steps=300, seed=0)
        >>> agent = TD3BC(env.info, net_arch=(32, 32), batch_size=32)
        >>> agent.add_dataset(data)
        >>> sorted(agent.update(4))
        ['lambda', 'loss_actor', 'loss_bc', 'loss_critic']
    """

    name = "td3_bc"
    Config: type[TD3BCConfig] = TD3BCConfig
    config: TD3BCConfig

    def __init__(self, info: EnvInfo, config: TD3BCConfig | None = None, **overrides: Any) -> None:
        super().__init__(info, config, **overrides)
        space = info.observation_space
        if self.config.normalize_obs and (not isinstance(space, gym.spaces.Box) or is_image_space(space)):
            raise UnsupportedSpaceError(f"TD3BC normalizes vector observations; {info.env_id} has {space}: set "
                                        "normalize_obs=false")
        dim = int(np.prod(info.obs_shape))
        self.obs_mean = torch.zeros(dim, device=self.device)
        self.obs_std = torch.ones(dim, device=self.device)
        self.tensors.update(obs_mean=self.obs_mean, obs_std=self.obs_std)
        zero = torch.zeros((), device=self.device)
        self._actor_metrics = {"loss_actor": zero, "loss_bc": zero, "lambda": zero}

    def add_dataset(self, dataset: Dataset, dataset_ratio: float = 0.5) -> None:
        """As :meth:`OffPolicyAgent.add_dataset`, and take the observation statistics from the dataset."""
        super().add_dataset(dataset, dataset_ratio)
        if self.config.normalize_obs:
            assert self.dataset is not None
            obs = np.asarray(self.dataset.batch.obs, dtype=np.float64).reshape(-1, self.obs_mean.numel())
            with torch.no_grad():
                self.obs_mean.copy_(torch.as_tensor(obs.mean(axis=0)))
                self.obs_std.copy_(torch.as_tensor(obs.std(axis=0) + OBS_STD_EPS))

    def normalize(self, obs: Tensor) -> Tensor:
        """Observations ``[N, *obs_shape]`` normalized entry by entry with the dataset's statistics (same shape).

        With ``normalize_obs=False`` they are returned as they are (``uint8`` images stay ``uint8``: the CNN scales
        them; Dict observations stay dicts).
        """
        if not self.config.normalize_obs:
            return obs
        return ((obs.reshape(obs.shape[0], -1) - self.obs_mean) / self.obs_std).reshape(obs.shape)

    def policy_action(self, obs: Tensor, explore: bool) -> Tensor:
        """``π(s)`` on normalized observations, plus TD3's exploration noise when exploring."""
        return super().policy_action(self.normalize(obs), explore)

    def explain_tensors(self, obs: Tensor) -> dict[str, Tensor]:
        """``value``: the critics' minimum ``Q(s, π(s))`` (normalized inside, like acting)."""
        action = self.policy_action(obs, explore=False)
        x = self.normalize(obs)
        return {"value": self.critic(self.critic.q_input(x, action)).squeeze(-1).amin(dim=0)}

    def gradient_step(self, s: ReplaySample) -> dict[str, Tensor]:
        """One TD3+BC update (module docstring) on ``s``, whose observations are normalized here."""
        return super().gradient_step(s._replace(obs=self.normalize(s.obs), next_obs=self.normalize(s.next_obs)))

    def actor_loss(self, s: ReplaySample) -> dict[str, Tensor]:
        """``-λ mean Q_1(s, π(s)) + mean (π(s) - a)²`` (:func:`~porcini.functional.bc_regularized_actor_loss`)."""
        action = self.actor(s.obs)
        q1 = first_member(self.critic, self.critic.q_input(s.obs, action)).squeeze(-1)
        return bc_regularized_actor_loss(q1, action, s.action, self.config.alpha)
