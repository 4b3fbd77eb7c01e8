"""Multi-agent PPO on a multi-agent vector env: IPPO, parameter-shared PPO and MAPPO as one agent with two choices.

- ``share`` decides which agents share parameters (:func:`~porcini.algorithms.multi_agent.groups.agent_groups`):
  ``none`` gives every agent its own networks and optimizer (independent PPO, de Witt et al. 2020,
  arXiv:2011.09533), ``all`` one set for every agent, told apart by the one-hot agent id in the observation
  (parameter sharing, Gupta et al. 2017), ``prefix`` one set per kind of agent.
- ``critic`` decides what the value network reads: ``local`` the agent's own observation (and id), ``central`` the
  env's global state and the agent id (MAPPO, Yu et al. 2022, arXiv:2103.01955). The policy always acts on the
  agent's own observation, so execution stays decentralized.

Each group's learner is PPO (:mod:`porcini.algorithms.policy_gradient.ppo`) on its rows of the batch, with one
change: rows where the agent had already left its episode (``info["active"]`` 0) are left out of the epochs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch

from porcini.algorithms.multi_agent.groups import AgentGroups, active_flags, group_learners, require_multi_agent
from porcini.algorithms.policy_gradient.common import Rollout
from porcini.algorithms.policy_gradient.ppo import PPO, PPOConfig
from porcini.core.batch import TransitionBatch
from porcini.core.config import build_config, require
from porcini.envs.info import EnvInfo
from porcini.envs.multi_agent import AGENT_KEY, STATE_KEY
from porcini.errors import ConfigError
from porcini.networks.actor_critic import ActorCritic
from porcini.networks.builders import make_trunk, parse_net_arch
from porcini.networks.distributions import PolicyDistribution
from porcini.networks.heads import ValueHead


@dataclass(frozen=True)
class MultiAgentPPOConfig(PPOConfig):
    """Hyperparameters of multi-agent PPO: PPO's (per group), which agents share parameters, what the critic reads."""

    share: str = "none"
    """``none`` (independent learners), ``all`` (one shared set, agent id as input) or ``prefix`` (a set per kind)."""
    critic: Literal["local", "central"] = "local"
    """``local``: the value of the agent's own observation; ``central``: of the global state and the agent id."""
    n_steps: int = 128
    """Env steps per env between fits."""
    batch_size: int = 256
    """Minibatch size (transitions of one group)."""
    ent_coef: float = 0.01
    """Weight of the entropy bonus."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.share in ("none", "all", "prefix"), type(self).__name__, "share", self.share,
                "none, all or prefix")
        require(self.critic in ("local", "central"), type(self).__name__, "critic", self.critic, "local or central")


@dataclass(frozen=True)
class MAPPOConfig(MultiAgentPPOConfig):
    """MAPPO's defaults: parameters shared by all agents, a centralized critic."""

    share: str = "all"
    """``none`` (independent learners), ``all`` (one shared set, agent id as input) or ``prefix`` (a set per kind)."""
    critic: Literal["local", "central"] = "central"
    """``local``: the value of the agent's own observation; ``central``: of the global state and the agent id."""


def _without(obs: Any, key: str) -> Any:
    return {k: v for k, v in obs.items() if k != key} if isinstance(obs, dict) else obs


class GroupActorCritic(ActorCritic):
    """The policy on an agent's own observation (and id); the value on the same, or on the global state and id.

    Args:
        observation_space: a multi-agent env's row space (a Dict with ``"agent"``, and ``"state"`` for a central
            critic).
        action_space: the agents' action space.
        central: the critic reads ``"state"`` and ``"agent"`` only.
        **kwargs: as :class:`~porcini.networks.actor_critic.ActorCritic`.
    """

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, central: bool, **kwargs: Any) -> None:
        actor_space = observation_space
        if isinstance(observation_space, gym.spaces.Dict) and STATE_KEY in observation_space.spaces:
            actor_space = gym.spaces.Dict(_without(dict(observation_space.spaces), STATE_KEY))
        super().__init__(actor_space, action_space, **kwargs)
        self.central = central
        if central:
            assert isinstance(observation_space, gym.spaces.Dict)  # MultiAgentPPO checked the state entry
            critic_space = gym.spaces.Dict({k: observation_space.spaces[k] for k in (STATE_KEY, AGENT_KEY)})
            arch = parse_net_arch(kwargs.get("net_arch", (64, 64)))
            init = "orthogonal" if kwargs.get("ortho_init", True) else "default"
            self.vf_trunk = make_trunk(critic_space, arch.vf, kwargs.get("activation", "tanh"), init)
            self.v_head = ValueHead(int(self.vf_trunk.out_dim), init)

    def policy(self, obs: Any) -> PolicyDistribution:
        """The action distribution from the agent's own observation."""
        return super().policy(_without(obs, STATE_KEY))

    def value(self, obs: Any) -> torch.Tensor:
        """State values ``[*batch]``: from the global state and agent id (central) or the agent's observation."""
        if self.central:
            return self.v_head(self.vf_trunk({STATE_KEY: obs[STATE_KEY], AGENT_KEY: obs[AGENT_KEY]}))  # type: ignore
        return super().value(_without(obs, STATE_KEY))


class GroupPPO(PPO):
    """PPO for one group's rows of a multi-agent env: a :class:`GroupActorCritic`, idle rows left out."""

    name = "group_ppo"
    Config: type[PPOConfig] = MultiAgentPPOConfig
    info_keys = ("active",)

    def _make_model(self, info: EnvInfo, with_value: bool) -> Any:
        c = self.config
        return GroupActorCritic(info.observation_space, info.action_space, central=c.critic == "central",
                                net_arch=c.net_arch, activation=c.activation, ortho_init=c.ortho_init,
                                log_std_init=c.log_std_init)

    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """PPO's fit on the rows the agent took part in; a rollout with none only counts its steps.

        With no row to learn from there is no update at all: Adam's momentum would still move the parameters.
        """
        if not bool(np.any(active_flags(batch, type(self).__name__) > 0)):
            self._schedules(batch)  # the steps still count toward the run's schedules
            return {}
        return super().fit(batch)

    def _learning_rows(self, data: Rollout, batch: TransitionBatch) -> Rollout:
        """Only the transitions in which the agent took part."""
        active = active_flags(batch, type(self).__name__)
        if bool(np.all(active > 0)):
            return data
        rows = np.flatnonzero(np.asarray(active).reshape(-1) > 0)
        return data.index(torch.as_tensor(rows, device=self.device))


class MultiAgentPPO(AgentGroups):
    """PPO for every agent of a multi-agent vector env, parameters shared as ``share`` says (IPPO by default).

    Example:
        >>> from porcini import Core, make_env  # doctest: +SKIP
        >>> env = make_env("mpe2.simple_spread_v3:parallel_env", n_envs=2, seed=0,
        ...                env_kwargs={"N": 3, "max_cycles": 25})  # doctest: +SKIP
        >>> agent = MultiAgentPPO(env.info, n_steps=8, batch_size=16, n_epochs=1)  # doctest: +SKIP
        >>> sorted(agent.learners)  # doctest: +SKIP
        ['agent_0', 'agent_1', 'agent_2']
    """

    name = "ippo"
    Config: type[MultiAgentPPOConfig] = MultiAgentPPOConfig
    action_spaces = ("Discrete", "Box", "MultiDiscrete", "MultiBinary")

    def __init__(self, info: EnvInfo, config: MultiAgentPPOConfig | None = None, **overrides: Any) -> None:
        self.config = build_config(self.Config, config, overrides)
        require_multi_agent(info, type(self).__name__)
        if self.config.critic == "central" and not (isinstance(info.observation_space, gym.spaces.Dict)
                                                    and STATE_KEY in info.observation_space.spaces):
            raise ConfigError(f"critic: central reads the global state, and {info.env_id} gives none (its "
                              "observations have no 'state' entry: the env defines no state()); use critic: local")
        if self.config.critic == "central" and AGENT_KEY not in getattr(info.observation_space, "spaces", {}):
            raise ConfigError(f"critic: central reads the global state and the agent id, and {info.env_id} gives no "
                              "id (its observations have no 'agent' entry: the env was built with agent_id=False); "
                              "build it with agent_id=True, or use critic: local")
        learners, groups = group_learners(info, self.config, self.config.share, GroupPPO)
        super().__init__(info, learners, groups)


class MAPPO(MultiAgentPPO):
    """Multi-agent PPO with a centralized critic and parameters shared by every agent (MAPPO)."""

    name = "mappo"
    Config: type[MultiAgentPPOConfig] = MAPPOConfig
