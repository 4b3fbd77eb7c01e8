"""DDPG: Deep Deterministic Policy Gradient (Lillicrap et al. 2016, arXiv:1509.02971).

DDPG is TD3 (:mod:`porcini.algorithms.actor_critic.td3`) without its three additions, exactly as
Stable-Baselines3 builds it: one critic (``n_critics = 1``), the actor and the targets updated after every critic
update (``policy_delay = 1``), and no target policy smoothing (``target_policy_noise = 0``). One update::

    y = r + γ (1 - terminated) Q'(s', μ'(s'))
    Q ← Adam step on  mean (Q(s, a) - y)^2
    μ ← Adam step on  -mean Q(s, μ(s))
    Q' ← (1 - τ) Q' + τ Q,  μ' ← (1 - τ) μ' + τ μ

Deviations from the paper (all as in SB3): Gaussian exploration noise (``action_noise_std``) instead of an
Ornstein-Uhlenbeck process, no batch normalization, no L2 penalty on the critic, ``τ = 0.005``, one learning
rate for actor and critic, ``[400, 300]`` hidden layers for both with the action entering at the first layer.
"""

from __future__ import annotations

from dataclasses import dataclass

from porcini.algorithms.actor_critic.td3 import TD3, TD3Config


@dataclass(frozen=True)
class DDPGConfig(TD3Config):
    """Hyperparameters of DDPG: :class:`TD3Config` with TD3's additions turned off."""

    n_critics: int = 1
    """One critic (TD3: two, with the minimum in the target)."""
    policy_delay: int = 1
    """The actor and the targets are updated after every critic update."""
    target_policy_noise: float = 0.0
    """No target policy smoothing."""


class DDPG(TD3):
    """DDPG for Box actions: a deterministic tanh actor, one critic, target networks (see the module docstring).

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("Pendulum-v1", seed=0)
        >>> agent = DDPG(env.info, net_arch=(32, 32), batch_size=32, learning_starts=50)
        >>> _ = Core(agent, env, progress=False).learn(steps=100)
        >>> agent.critic.n_members, agent.n_updates
        (1, 50)
    """

    name = "ddpg"
    Config = DDPGConfig
